"""WhisperX forced alignment (gpu lane): detected here; the alignment itself comes with the
WhisperX issue."""

from __future__ import annotations

from .. import detect as _detect
from ..plugins import Aligner


class WhisperxAligner(Aligner):
    name = "whisperx"
    lane = "gpu"

    def load(self) -> None:
        reason = _detect.missing_reason("whisperx", "torch") or _detect.cuda_reason()
        self.reason = reason or "whisperx is installed but the whisperx aligner is not implemented in this worker version"
