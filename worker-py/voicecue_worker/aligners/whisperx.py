"""WhisperX forced alignment: availability detection only in this version."""

from __future__ import annotations

from .. import detect as _detect


def detect() -> dict:
    reason = _detect.missing_reason("whisperx", "torch")
    if reason is None:
        reason = _detect.cuda_reason()
    if reason is None:
        reason = "whisperx is installed but the whisperx aligner is not implemented in this sidecar version"
    return {"available": False, "reason": reason}
