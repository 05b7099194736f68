"""Measure the sidecar: spawn to ready, a 1000-word synthesize (median of 5), RSS after.

    python3 bench/espeak.py

Measures only; no test asserts a wall-clock time.
"""

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "worker-py")


def status(pid, keys=("VmRSS", "VmHWM")):
    with open("/proc/%d/status" % pid) as f:
        return {l.split(":")[0]: l.split(":")[1].strip() for l in f if l.startswith(keys)}


def main():
    data = tempfile.mkdtemp(prefix="voicecue-bench-")
    t0 = time.perf_counter()
    p = subprocess.Popen([sys.executable, "-m", "voicecue_worker"], cwd=HERE,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         env=dict(os.environ, VOICECUE_DATA_DIR=data))
    ready = json.loads(p.stdout.readline())
    t_ready = time.perf_counter() - t0
    assert ready["event"] == "ready"
    rnd = random.Random(1)
    vocab = ("the quick brown fox jumps over lazy dog river bank sunny day people often think "
             "that speech synthesis is simple but it is not and numbers like 2025 or 3.5 appear").split()
    text = " ".join(rnd.choice(vocab) + ("." if i % 12 == 11 else "") for i in range(1000))
    times = []
    for i in range(5):
        out = os.path.join(data, "bench-%d.wav" % i)
        req = {"id": i, "method": "synthesize", "params": {"text": text, "output_path": out}}
        t = time.perf_counter()
        p.stdin.write((json.dumps(req) + "\n").encode())
        p.stdin.flush()
        while True:
            m = json.loads(p.stdout.readline())
            if m.get("id") == i and "event" not in m:
                break
        times.append(time.perf_counter() - t)
        res = m["result"]
        os.unlink(out)
    mem = status(p.pid)
    p.stdin.close()
    rc = p.wait()
    os.rmdir(data)
    print("spawn -> ready line: %.0f ms" % (t_ready * 1000))
    print("synthesize 1000 words (%d words timed, %.1f s audio): median of 5 = %.0f ms  [%s]"
          % (len(res["words"]), res["duration"], statistics.median(times) * 1000,
             ", ".join("%.0f" % (x * 1000) for x in times)))
    print("sidecar after: VmRSS %s, VmHWM %s; exit %d" % (mem.get("VmRSS"), mem.get("VmHWM"), rc))
    print("load average: %s" % open("/proc/loadavg").read().strip())


if __name__ == "__main__":
    main()
