"""The stdio loop: JSON lines in on stdin, JSON lines out on a private dup of stdout.

One worker serves one lane (``--lane cpu`` or ``--lane gpu``; see plugins.py). The main thread
reads requests and answers the cheap methods itself (ping, capabilities, tokenize, cancel,
shutdown), so a busy worker still answers ``ping`` and ``cancel`` at once. Jobs (synthesize,
align) go to one job thread and run one at a time, in order. The methods and error codes are
listed in protocol.py; src/lanes/protocol.ts is the gateway's side of the same table.

fd 1 is pointed at stderr right at start, so a stray print or a C library writing to stdout
cannot corrupt the protocol; only ``ProtoWriter`` writes to the real stdout.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import queue
import signal
import sys
import threading
import time
from typing import Any, BinaryIO, Callable, Dict, Optional

from . import __version__, params as P, protocol, text as T, wav
from .errors import (
    BUDGET_EXCEEDED, CANCELLED, ENGINE_UNAVAILABLE, INTERNAL, INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND,
    NO_SPEECH, PARSE_ERROR, RpcError,
)
from .plugins import LANES, Job, Registry, default_registry
from .text import tokenize

log = logging.getLogger("voicecue")

MAX_LINE = 8 * 1024 * 1024  # bytes, without the newline


class ProtoWriter:
    """The only writer of protocol lines: a whole line and a flush, under a lock (two threads
    write: the reader's replies and the job thread's results and progress)."""

    def __init__(self, f: BinaryIO):
        self._f = f
        self._lock = threading.Lock()

    def send(self, obj: Dict[str, Any]) -> None:
        try:
            data = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate somewhere: fall back to \u escapes
            data = json.dumps(obj, ensure_ascii=True, separators=(",", ":")).encode("ascii")
        with self._lock:
            self._f.write(data + b"\n")
            self._f.flush()


def _reject_constant(name: str) -> Any:
    raise ValueError("%s is not valid JSON" % name)


class Server:
    def __init__(self, writer: ProtoWriter, registry: Registry):
        self.writer = writer
        self.registry = registry
        self.pid = os.getpid()
        self.stop = False
        self.jobs: "queue.Queue[Optional[Job]]" = queue.Queue()
        self.waiting: Dict[Any, Job] = {}  # sent to the job thread, not finished
        self.running: Optional[Job] = None
        self._job_lock = threading.Lock()
        # Answered on the reader thread, even while a job runs.
        self.control: Dict[str, Callable[[Any, Optional[dict]], dict]] = {
            "ping": self.m_ping,
            "capabilities": self.m_capabilities,
            "tokenize": self.m_tokenize,
            "cancel": self.m_cancel,
            "shutdown": self.m_shutdown,
        }
        # Run on the job thread, one at a time.
        self.work: Dict[str, Callable[[Job, Optional[dict]], dict]] = {
            "synthesize": self.m_synthesize,
            "align": self.m_align,
        }
        assert set(self.control) | set(self.work) == set(protocol.METHODS)
        self.job_thread = threading.Thread(target=self._run_jobs, name="jobs", daemon=True)

    def capabilities(self) -> dict:
        versions = {"python": "%d.%d.%d" % sys.version_info[:3], "voicecue_worker": __version__}
        for plugin in [*self.registry.engines.values(), *self.registry.aligners.values()]:
            versions.update(plugin.versions())
        return {
            "pid": self.pid,
            "lane": self.registry.lane,
            "protocol": protocol.VERSION,
            "methods": sorted(protocol.METHODS),
            "errors": list(protocol.ERRORS),
            **self.registry.info(),
            "versions": versions,
        }

    # ------------------------------------------------------------ loop
    def serve(self, stdin: BinaryIO) -> int:
        self.job_thread.start()
        try:
            while not self.stop:
                line = stdin.readline(MAX_LINE + 1)
                if not line:
                    log.info("stdin closed, exiting")
                    break
                if len(line) > MAX_LINE and not (len(line) == MAX_LINE + 1 and line.endswith(b"\n")):
                    size = len(line)
                    while not line.endswith(b"\n"):  # skip the rest of the line
                        line = stdin.readline(1 << 20)
                        if not line:
                            break
                        size += len(line)
                    self.error(None, PARSE_ERROR, "request line too long: more than %d bytes" % MAX_LINE)
                    log.warning("skipped a request line of %d+ bytes", size)
                    continue
                self.handle_line(line)
        finally:
            # Jobs already accepted finish (the gateway stops a worker only once it is idle);
            # a hung one is ended by the gateway's SIGTERM.
            self.jobs.put(None)
            self.job_thread.join()
        return 0

    def handle_line(self, raw: bytes) -> None:
        raw = raw.rstrip(b"\r\n")
        if not raw.strip():
            return
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            self.error(None, PARSE_ERROR, "request is not valid UTF-8 (byte %d)" % e.start)
            return
        try:
            msg = json.loads(text, parse_constant=_reject_constant)
        except (ValueError, RecursionError) as e:
            self.error(None, PARSE_ERROR, "request is not valid JSON: %s" % e)
            return
        if not isinstance(msg, dict):
            self.error(None, INVALID_REQUEST, "request must be a JSON object")
            return
        rid = msg.get("id")
        if rid is not None and (isinstance(rid, bool) or not isinstance(rid, (int, str))):
            self.error(None, INVALID_REQUEST, "id must be a string or an integer")
            return
        method = msg.get("method")
        if not isinstance(method, str) or not method:
            self.error(rid, INVALID_REQUEST, "request has no method")
            return
        params = msg.get("params")
        if method not in protocol.METHODS:
            self.error(rid, METHOD_NOT_FOUND, "unknown method %r (known: %s)"
                       % (method[:100], ", ".join(sorted(protocol.METHODS))))
            return
        if params is not None and not isinstance(params, dict):
            self.error(rid, INVALID_PARAMS, "params must be an object")
            return
        if method in self.work:
            job = Job(rid, self.writer.send, method, params)
            with self._job_lock:
                if rid is not None:
                    self.waiting[rid] = job
            self.jobs.put(job)
            return
        self.reply(rid, lambda: self.control[method](rid, params), method)

    def reply(self, rid: Any, call: Callable[[], dict], method: str) -> None:
        self.writer.send(self.outcome(rid, call, method))

    def outcome(self, rid: Any, call: Callable[[], dict], method: str) -> dict:
        """The reply to a request: its result, or its error (a handler must never kill the loop)."""
        try:
            return {"id": rid, "result": call()}
        except RpcError as e:
            return {"id": rid, "error": {"code": e.code, "message": e.message}}
        except Exception as e:
            log.exception("method %s failed", method)
            return {"id": rid, "error": {"code": INTERNAL, "message": "%s: %s" % (type(e).__name__, e)}}

    def error(self, rid: Any, code: str, message: str) -> None:
        self.writer.send({"id": rid, "error": {"code": code, "message": message}})

    def _run_jobs(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                return
            with self._job_lock:
                self.running = job
            try:
                if job.cancelled.is_set():  # cancelled while it waited: never runs
                    answer = {"id": job.id, "error": {"code": CANCELLED, "message": "the job was cancelled before it started"}}
                else:
                    answer = self.outcome(job.id, lambda: self.work[job.method](job, job.params), job.method)
            finally:
                # Idle before the reply goes out: a ping that follows the reply never sees the job.
                with self._job_lock:
                    self.running = None
                    self.waiting.pop(job.id, None)
            self.writer.send(answer)

    # ------------------------------------------------------------ control methods
    def m_ping(self, rid: Any, params: Optional[dict]) -> dict:
        with self._job_lock:
            busy = [self.running.id] if self.running is not None else []
        return {"pong": True, "pid": self.pid, "busy": busy}

    def m_capabilities(self, rid: Any, params: Optional[dict]) -> dict:
        return self.capabilities()

    def m_tokenize(self, rid: Any, params: Optional[dict]) -> dict:
        text = P.text_param(params, allow_blank=True)
        return {"spans": [list(s) for s in tokenize(text)], "content": list(T.content_span(text))}

    def m_cancel(self, rid: Any, params: Optional[dict]) -> dict:
        target = P.job_id(params)
        with self._job_lock:
            job = self.waiting.get(target)
            if job is not None:
                job.cancelled.set()
        if job is not None:
            log.info("cancel id=%s (%s)", target, "running" if job is self.running else "waiting")
        return {"cancelled": job is not None}

    def m_shutdown(self, rid: Any, params: Optional[dict]) -> dict:
        self.stop = True
        return {"ok": True}

    # ------------------------------------------------------------ jobs
    def m_synthesize(self, job: Job, params: Optional[dict]) -> dict:
        name = P.engine_name(params)
        engine = self.registry.engines.get(name)
        if engine is None:
            raise RpcError(ENGINE_UNAVAILABLE, "engine %s does not run in the %s lane" % (name, self.registry.lane))
        if not engine.available:
            raise RpcError(ENGINE_UNAVAILABLE, engine.reason or "%s is not available" % name)
        p = P.synthesize(params, name)
        spans = tokenize(p.text)
        if not spans:
            raise RpcError(NO_SPEECH, "text has no words to speak (only punctuation or spaces)")
        # Over budget is refused before any work; past it while running, the engine stops.
        estimate = engine.estimate_seconds(p.text, spans, p)
        if p.max_audio_s is not None and estimate is not None and estimate > p.max_audio_s:
            raise RpcError(BUDGET_EXCEEDED, "this text would give at least %.0f s of audio; the limit is %g s for one request"
                           % (estimate, p.max_audio_s))
        job.start_budget(p.max_worker_s)
        try:
            result = engine.synthesize(p.text, spans, p, p.output_path, job)
        except RpcError as e:
            if e.code == CANCELLED and not job.cancelled.is_set() and job.over_budget():
                raise job.budget_error()
            raise
        return {"engine": name, **result, "words": result["words"] if p.word_timings else []}

    def m_align(self, job: Job, params: Optional[dict]) -> dict:
        p = P.align(params)
        aligner = self.registry.aligners.get(p.aligner)
        if aligner is None:
            raise RpcError(ENGINE_UNAVAILABLE, "aligner %s does not run in the %s lane" % (p.aligner, self.registry.lane))
        if not aligner.available:
            raise RpcError(ENGINE_UNAVAILABLE, aligner.reason or "%s is not available" % p.aligner)
        if aligner.kind != "audio":
            raise RpcError(INVALID_PARAMS, "aligner %s times only its engine's own speech (%s), through synthesize"
                           % (p.aligner, ", ".join(aligner.engines)))
        spans = tokenize(p.text)
        if not spans:
            raise RpcError(NO_SPEECH, "text has no words to align (only punctuation or spaces)")
        t0 = time.perf_counter()
        words = aligner.align(p.audio_path, p.text, spans, p.language, p.segments, job)
        return {"aligner": p.aligner, "words": words,
                "timings_ms": {"align": round((time.perf_counter() - t0) * 1000, 1)}}


# ---------------------------------------------------------------- process setup
def setup_stdio() -> ProtoWriter:
    """Keep a private dup of fd 1 for the protocol; point fd 1 (and sys.stdout) at stderr."""
    proto_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return ProtoWriter(os.fdopen(proto_fd, "wb"))


def _on_signal(signum: int, frame: Any) -> None:
    for path in list(wav.active_temp_files):
        try:
            os.unlink(path)
        except OSError:
            pass
    try:
        os.write(2, ("INFO signal %d received, exiting\n" % signum).encode())
    except OSError:
        pass
    os._exit(0)


def setup_logging() -> None:
    level = os.environ.get("VOICECUE_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(stream=sys.stderr, format="%(levelname)s %(message)s",
                        level=getattr(logging, level, logging.INFO))


def one_math_thread() -> None:
    """A CPU worker runs one job at a time on one core: numpy's BLAS threads would only spin
    beside it on the other cores (set before numpy loads; an operator's own setting wins)."""
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")


def main(argv: Optional[list] = None) -> int:
    t0 = time.perf_counter()
    parser = argparse.ArgumentParser(prog="python -m voicecue_worker")
    parser.add_argument("--lane", choices=LANES, default=os.environ.get("VOICECUE_LANE") or "cpu")
    args = parser.parse_args(argv)
    if args.lane == "cpu":
        one_math_thread()
    writer = setup_stdio()
    setup_logging()
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    registry = default_registry(args.lane)
    server = Server(writer, registry)
    try:
        registry.load(log)
        writer.send({"event": "ready", **server.capabilities()})
        log.info("ready lane=%s pid=%d in %.0f ms", args.lane, server.pid, (time.perf_counter() - t0) * 1000)
        return server.serve(sys.stdin.buffer)
    except BrokenPipeError:
        log.info("stdout closed, exiting")
        return 0
