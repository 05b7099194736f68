"""Engines and aligners as plug-ins, and the registry that holds the ones of this worker's lane.

An Engine makes audio (and its own word timings when it has them); an Aligner times the words
of a known text in any audio. Each is loaded once when the worker starts and reports what it can
do in ``info()``. A worker serves one lane: ``cpu`` (espeak, native timings, offline aligners) or
``gpu`` (f5, whisperx), so a torch import or a CUDA crash never touches the CPU engines.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from .errors import BUDGET_EXCEEDED, CANCELLED, RpcError

Span = Tuple[int, int]
LANES = ("cpu", "gpu")


class Job:
    """One request for the job thread: its id, method and params, a cancel flag the engine
    polls, and a progress sink."""

    def __init__(self, rid, send_progress: Callable[[dict], None], method: str = "", params: Optional[dict] = None):
        self.id = rid
        self.method = method
        self.params = params
        self.cancelled = threading.Event()
        self._send = send_progress
        #: The request's budget of worker time: (monotonic deadline, seconds), set when it starts.
        self.budget: Optional[Tuple[float, float]] = None

    def start_budget(self, seconds: Optional[float]) -> None:
        if seconds is not None:
            self.budget = (time.monotonic() + seconds, seconds)

    def over_budget(self) -> bool:
        return self.budget is not None and time.monotonic() > self.budget[0]

    def progress(self, done: int, total: int, **extra) -> None:
        self._send({"id": self.id, "event": "progress", "done": done, "total": total, **extra})

    def should_stop(self) -> bool:
        return self.cancelled.is_set() or self.over_budget()

    def check(self) -> None:
        """Raise CANCELLED, or BUDGET_EXCEEDED, between steps of a job that must stop."""
        if self.cancelled.is_set():
            raise RpcError(CANCELLED, "the job was cancelled")
        if self.over_budget():
            raise self.budget_error()

    def budget_error(self) -> RpcError:
        return RpcError(BUDGET_EXCEEDED, "the job ran past its budget of %g s of worker time" % self.budget[1])


class Plugin:
    """What engines and aligners share: a name, a lane, a load step and a capability report."""

    name = ""
    lane = "cpu"
    #: Jobs one worker may run at once for this plug-in (1: one at a time).
    batch = 1

    def __init__(self) -> None:
        self.available = False
        self.reason: Optional[str] = "not loaded"

    def load(self) -> None:
        """Load models and libraries once, at start; set ``available`` or ``reason``."""
        raise NotImplementedError

    def language_codes(self) -> Optional[List[str]]:
        """Language codes served, or None for "any the model handles"."""
        return None

    def details(self) -> dict:
        """Extra facts for ``info()`` when available (sample rate, versions, voices)."""
        return {}

    def versions(self) -> Dict[str, Optional[str]]:
        """Library versions for the ready event's ``versions``."""
        return {}

    def info(self) -> dict:
        base = {"lane": self.lane, "batch": self.batch}
        if not self.available:
            return {"available": False, "reason": self.reason or "unavailable", **base}
        return {"available": True, **base, "languages": self.language_codes(), **self.details()}


class Engine(Plugin):
    def estimate_seconds(self, text: str, spans: Sequence[Span], params) -> Optional[float]:
        """A low estimate of the audio's length, to refuse a request over budget before any
        work; None when the engine cannot tell."""
        return None

    def synthesize(self, text: str, spans: Sequence[Span], params, out_path: str, job: Job) -> dict:
        """Write the audio of ``text`` to ``out_path`` (a temp name, then a rename) and return
        ``{voice, sample_rate, samples, duration, words, chunks, timings_ms}``; ``words`` are the
        engine's own timings (empty when it has none)."""
        raise NotImplementedError


class Aligner(Plugin):
    #: "engine": times only its engine's own audio, from the engine's events (no ``align``).
    #: "audio": times any audio through ``align``.
    kind = "audio"
    #: For kind "engine": the engines whose events it reads.
    engines: Tuple[str, ...] = ()

    def details(self) -> dict:
        return {"kind": self.kind, **({"engines": list(self.engines)} if self.engines else {})}

    def align(self, audio_path: str, text: str, spans: Sequence[Span], language: Optional[str],
              segments: Optional[List[dict]], job: Job) -> List[dict]:
        """The words of ``text`` (one per span, in order) with times inside the audio."""
        raise NotImplementedError


class Registry:
    """The engines and aligners of one lane, loaded once at start."""

    def __init__(self, lane: str, engines: Sequence[Engine], aligners: Sequence[Aligner]):
        self.lane = lane
        self.engines: Dict[str, Engine] = {e.name: e for e in engines if e.lane == lane}
        self.aligners: Dict[str, Aligner] = {a.name: a for a in aligners if a.lane == lane}

    def load(self, log) -> None:
        for plugin in [*self.engines.values(), *self.aligners.values()]:
            try:
                plugin.load()
            except Exception as e:  # one broken plug-in must not stop the others
                log.exception("loading %s failed", plugin.name)
                plugin.available, plugin.reason = False, "loading failed: %s: %s" % (type(e).__name__, e)
            if not plugin.available:
                log.info("%s unavailable: %s", plugin.name, plugin.reason)

    def info(self) -> dict:
        return {
            "engines": {name: e.info() for name, e in self.engines.items()},
            "aligners": {name: a.info() for name, a in self.aligners.items()},
        }


def default_registry(lane: str) -> Registry:
    """Every plug-in voicecue knows; the registry keeps those of ``lane``."""
    from .aligners.dtw import DtwAligner
    from .aligners.native import NativeAligner
    from .aligners.pocketsphinx import PocketsphinxAligner
    from .aligners.whisperx import WhisperxAligner
    from .engines.espeak import EspeakEngine
    from .engines.f5 import F5Engine

    espeak = EspeakEngine()
    aligners = [NativeAligner(), WhisperxAligner(), PocketsphinxAligner(), DtwAligner(espeak)]
    return Registry(lane, [espeak, F5Engine()], aligners)
