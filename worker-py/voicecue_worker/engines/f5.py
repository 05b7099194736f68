"""F5-TTS engine: availability detection only in this version (no heavy imports)."""

from __future__ import annotations

from .. import detect as _detect


def detect() -> dict:
    reason = _detect.missing_reason("f5_tts", "torch")
    if reason is None:
        reason = _detect.cuda_reason()
        if reason is not None:
            reason = "f5 needs an NVIDIA GPU: " + reason
    if reason is None:
        reason = "f5_tts is installed but the f5 engine is not implemented in this sidecar version"
    return {"available": False, "reason": reason}
