"""F5-TTS (gpu lane): detected here, without importing it; synthesis comes with the F5 issue."""

from __future__ import annotations

from .. import detect as _detect
from ..plugins import Engine


class F5Engine(Engine):
    name = "f5"
    lane = "gpu"

    def load(self) -> None:
        reason = _detect.missing_reason("f5_tts", "torch")
        if reason is None:
            cuda = _detect.cuda_reason()
            reason = "f5 needs an NVIDIA GPU: " + cuda if cuda else None
        self.reason = reason or "f5_tts is installed but the f5 engine is not implemented in this worker version"
