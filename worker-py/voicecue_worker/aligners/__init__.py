"""Aligners: where word timings come from.

``native``: the engine's own word events (espeak), always available.
``whisperx``: forced alignment of our known text to the audio (detection only for now).
"""

from .native import WordTimer  # noqa: F401
from . import whisperx


def detect() -> dict:
    return {
        "native": {"available": True},
        "whisperx": whisperx.detect(),
    }
