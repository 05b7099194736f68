"""The stdio loop: JSON lines in on stdin, JSON lines out on a private dup of stdout.

Protocol (one UTF-8 JSON object per line):
  on start   {"event":"ready","pid":..,"engines":{..},"aligners":{..},"versions":{..}}
  request    {"id":7,"method":"synthesize","params":{..}}
  reply      {"id":7,"result":{..}}  or  {"id":7,"error":{"code":"..","message":".."}}
  progress   {"id":7,"event":"progress","done":3,"total":9}
Methods: ping, capabilities, synthesize, shutdown. Requests run one at a time, in order.

fd 1 is pointed at stderr right at start, so a stray print or a C library writing to
stdout cannot corrupt the protocol; only ``ProtoWriter`` writes to the real stdout.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
from typing import Any, BinaryIO, Callable, Dict, Optional

from . import __version__, aligners, params as P, wav
from .engines import f5
from .engines.espeak import EspeakEngine
from .errors import (
    ENGINE_UNAVAILABLE, INTERNAL, INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND,
    NO_SPEECH, PARSE_ERROR, RpcError,
)
from .text import tokenize

log = logging.getLogger("voicecue")

MAX_LINE = 8 * 1024 * 1024  # bytes, without the newline


class ProtoWriter:
    """The only writer of protocol lines: a whole line and a flush, under a lock."""

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
    def __init__(self, writer: ProtoWriter):
        self.writer = writer
        self.pid = os.getpid()
        self.espeak = EspeakEngine()
        self.f5_info: dict = {}
        self.aligners: dict = {}
        self.stop = False
        self.methods: Dict[str, Callable[[Any, Optional[dict]], dict]] = {
            "ping": self.m_ping,
            "capabilities": self.m_capabilities,
            "synthesize": self.m_synthesize,
            "shutdown": self.m_shutdown,
        }

    # ------------------------------------------------------------ start
    def load(self) -> None:
        self.espeak.load()
        if self.espeak.available:
            log.info("espeak ready %s (%d Hz, %d language codes)", self.espeak.version,
                     self.espeak.sample_rate, len(self.espeak.languages))
        self.f5_info = f5.detect()
        if not self.f5_info.get("available"):
            log.info("f5 unavailable: %s", self.f5_info.get("reason"))
        self.aligners = aligners.detect()
        for name, a in self.aligners.items():
            if not a.get("available"):
                log.info("%s aligner unavailable: %s", name, a.get("reason"))

    def capabilities(self) -> dict:
        return {
            "pid": self.pid,
            "engines": {"espeak": self.espeak.info(), "f5": dict(self.f5_info)},
            "aligners": {k: dict(v) for k, v in self.aligners.items()},
            "versions": {
                "python": "%d.%d.%d" % sys.version_info[:3],
                "voicecue_worker": __version__,
                "espeak-ng": self.espeak.version,
            },
        }

    # ------------------------------------------------------------ loop
    def serve(self, stdin: BinaryIO) -> int:
        while not self.stop:
            line = stdin.readline(MAX_LINE + 1)
            if not line:
                log.info("stdin closed, exiting")
                return 0
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
        handler = self.methods.get(method)
        if handler is None:
            self.error(rid, METHOD_NOT_FOUND, "unknown method %r (known: %s)"
                       % (method[:100], ", ".join(sorted(self.methods))))
            return
        params = msg.get("params")
        if params is not None and not isinstance(params, dict):
            self.error(rid, INVALID_PARAMS, "params must be an object")
            return
        try:
            result = handler(rid, params)
        except RpcError as e:
            self.error(rid, e.code, e.message)
            return
        except Exception as e:  # a handler must never kill the loop
            log.exception("method %s failed", method)
            self.error(rid, INTERNAL, "%s: %s" % (type(e).__name__, e))
            return
        self.writer.send({"id": rid, "result": result})

    def error(self, rid: Any, code: str, message: str) -> None:
        self.writer.send({"id": rid, "error": {"code": code, "message": message}})

    # ------------------------------------------------------------ methods
    def m_ping(self, rid: Any, params: Optional[dict]) -> dict:
        return {"pong": True, "pid": self.pid}

    def m_capabilities(self, rid: Any, params: Optional[dict]) -> dict:
        return self.capabilities()

    def m_shutdown(self, rid: Any, params: Optional[dict]) -> dict:
        self.stop = True
        return {"ok": True}

    def m_synthesize(self, rid: Any, params: Optional[dict]) -> dict:
        engine_name = P.engine_name(params)
        if engine_name == "f5":
            raise RpcError(ENGINE_UNAVAILABLE, self.f5_info.get("reason") or "f5 is not available")
        engine = self.espeak
        if not engine.available:
            raise RpcError(ENGINE_UNAVAILABLE, engine.reason or "espeak is not available")
        p = P.synthesize(params, engine_name)
        spans = tokenize(p.text)
        if not spans:
            raise RpcError(NO_SPEECH, "text has no words to speak (only punctuation or spaces)")
        voice = engine.resolve_voice(p.voice or p.language or "en-us")

        def progress(done: int, total: int) -> None:
            self.writer.send({"id": rid, "event": "progress", "done": done, "total": total})

        t0 = time.perf_counter()
        with wav.WavWriter(p.output_path, engine.sample_rate) as w:
            samples, words, chunks = engine.speak(p.text, spans, voice, p.speed, w.write, progress)
            if samples == 0 or not words:
                raise RpcError(NO_SPEECH, "espeak produced no speech for this text")
            t1 = time.perf_counter()
            w.commit()
        t2 = time.perf_counter()
        sr = engine.sample_rate
        log.info("synthesize id=%s espeak %s %d chars -> %.2f s audio, %d words, %d chunks, %.1f ms",
                 rid, voice.canonical, len(p.text), samples / sr, len(words), chunks, (t2 - t0) * 1000)
        return {
            "engine": "espeak",
            "voice": voice.canonical,
            "sample_rate": sr,
            "samples": samples,
            "duration": round(samples / sr, 3),
            "words": words if p.word_timings else [],
            "timings_ms": {
                "synthesize": round((t1 - t0) * 1000, 1),
                "write": round((t2 - t1) * 1000, 1),
            },
        }


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


def main() -> int:
    t0 = time.perf_counter()
    writer = setup_stdio()
    setup_logging()
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    server = Server(writer)
    try:
        server.load()
        ready = {"event": "ready"}
        ready.update(server.capabilities())
        writer.send(ready)
        log.info("ready pid=%d in %.0f ms", server.pid, (time.perf_counter() - t0) * 1000)
        return server.serve(sys.stdin.buffer)
    except BrokenPipeError:
        log.info("stdout closed, exiting")
        return 0
