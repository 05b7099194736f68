import json
import os
import queue
import subprocess
import sys
import threading
import time

import pytest

WORKER_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if WORKER_DIR not in sys.path:
    sys.path.insert(0, WORKER_DIR)

MUST_SHOW = "Hello world, this is voicecue. The year 2025 had 12 months."
MUST_SHOW_WORDS = ["Hello", "world", "this", "is", "voicecue", "The", "year", "2025", "had", "12", "months"]


class Worker:
    """A sidecar child process with line-level helpers."""

    def __init__(self, args=None, env=None, cwd=WORKER_DIR):
        full_env = dict(os.environ)
        full_env.pop("VOICECUE_DATA_DIR", None)
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            args or [sys.executable, "-m", "voicecue_worker"],
            cwd=cwd, env=full_env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        self.lines = queue.Queue()
        self.raw_lines = []
        self.stderr_lines = []
        threading.Thread(target=self._read_out, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()
        self.next_id = 1000

    def _read_out(self):
        for line in self.proc.stdout:
            self.raw_lines.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def _read_err(self):
        for line in self.proc.stderr:
            self.stderr_lines.append(line.decode("utf-8", "replace"))

    def recv(self, timeout=20.0):
        line = self.lines.get(timeout=timeout)
        if line is None:
            raise EOFError("worker closed stdout; stderr:\n" + "".join(self.stderr_lines))
        assert line.endswith(b"\n")
        return json.loads(line.decode("utf-8"))

    def send_raw(self, data: bytes):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send(self, obj):
        self.send_raw(json.dumps(obj).encode("utf-8") + b"\n")

    def request(self, method, params=None, rid=None, timeout=60.0):
        """Send a request; return (reply, progress events)."""
        if rid is None:
            self.next_id += 1
            rid = self.next_id
        msg = {"id": rid, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)
        events = []
        deadline = time.monotonic() + timeout
        while True:
            m = self.recv(max(0.1, deadline - time.monotonic()))
            if m.get("event") == "progress":
                assert m["id"] == rid
                events.append(m)
                continue
            assert m.get("id") == rid, m
            return m, events

    def call(self, method, params=None, **kw):
        reply, _ = self.request(method, params, **kw)
        assert "result" in reply, reply
        return reply["result"]

    def ready(self):
        m = self.recv(timeout=30)
        assert m.get("event") == "ready", m
        return m

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def data_dir(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    return d


@pytest.fixture
def worker(data_dir):
    w = Worker(env={"VOICECUE_DATA_DIR": str(data_dir)})
    w.ready_event = w.ready()
    yield w
    w.close()


@pytest.fixture
def gpu_worker(data_dir):
    w = Worker(args=[sys.executable, "-m", "voicecue_worker", "--lane", "gpu"], env={"VOICECUE_DATA_DIR": str(data_dir)})
    w.ready_event = w.ready()
    yield w
    w.close()


@pytest.fixture(scope="module")
def shared_worker(tmp_path_factory):
    d = tmp_path_factory.mktemp("shared-data")
    w = Worker(env={"VOICECUE_DATA_DIR": str(d)})
    w.ready_event = w.ready()
    w.data_dir = d
    yield w
    w.close()


@pytest.fixture(scope="session")
def engine():
    from voicecue_worker.engines.espeak import EspeakEngine

    e = EspeakEngine().load()
    if not e.available:
        pytest.fail("libespeak-ng is required for these tests: %s" % e.reason)
    return e
