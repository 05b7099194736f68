"""The real worker as a child process on its JSON-lines protocol: what the engine tests drive."""
import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORKER_DIR = HERE.parent


class Worker:
    def __init__(self, env, module="voicecue_spy"):
        full = dict(os.environ)
        full["PYTHONPATH"] = os.pathsep.join([str(HERE / "spy"), full.get("PYTHONPATH", "")])
        full.update(env)
        self.proc = subprocess.Popen([sys.executable, "-m", module, "--lane", "gpu"], cwd=WORKER_DIR, env=full,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines = queue.Queue()
        self.stderr = []
        threading.Thread(target=self._out, daemon=True).start()
        threading.Thread(target=self._err, daemon=True).start()
        self.next_id = 0
        self.ready = self.recv(timeout=240)
        assert self.ready.get("event") == "ready", self.ready

    def _out(self):
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def _err(self):
        for line in self.proc.stderr:
            self.stderr.append(line.decode("utf-8", "replace"))

    def logged(self, text, timeout=10.0):
        """Whether a stderr line holds ``text`` within ``timeout`` (a thread reads stderr behind the replies)."""
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.stderr):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def recv(self, timeout=240):
        line = self.lines.get(timeout=timeout)
        assert line is not None, "worker exited:\n" + "".join(self.stderr[-40:])
        return json.loads(line)  # every protocol line is JSON: whisperx's own logging went to stderr

    def send(self, method, params=None):
        """Write one request; answer its id."""
        self.next_id += 1
        rid = self.next_id
        self.proc.stdin.write((json.dumps({"id": rid, "method": method, "params": params}) + "\n").encode())
        self.proc.stdin.flush()
        return rid

    def call(self, method, params=None):
        rid = self.send(method, params)
        while True:
            msg = self.recv()
            if msg.get("id") == rid and msg.get("event") != "progress":
                return msg

    def close(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
