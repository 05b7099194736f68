#!/usr/bin/env python3
"""Accuracy and speed of the worker's offline aligners on the Festival corpus (bench/corpus/make.py).

For each set (and each condition of the hard set): the share of word boundaries (every start
and every end) within 25, 50 and 100 ms of the truth, the median error, the worst file's share
within 50 ms, and the speed: seconds of audio aligned per second of wall time and per second of
this process's CPU time (one thread; the CPU figure is the fairer one on a shared machine),
the aligner called in-process as the worker calls it. Usage:

  .venv/bin/python bench/aligners.py [--aligner pocketsphinx] [--sets dev,clean,noisy,hard] [--limit N]
  .venv/bin/python bench/aligners.py --long 3600   # the clean set repeated to an hour, in one request:
                                                   # wall time, peak memory (RSS) and accuracy
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "worker-py"))
sys.path.insert(0, os.path.join(HERE, "corpus"))

from voicecue_worker.server import one_math_thread  # noqa: E402

one_math_thread()  # as the cpu lane's worker runs (before numpy loads)
import make  # noqa: E402
from voicecue_worker.plugins import Job, default_registry  # noqa: E402
from voicecue_worker.text import tokenize  # noqa: E402


def load_aligner(name: str):
    """The aligner as the cpu lane's worker loads it (dtw needs the lane's espeak engine)."""
    registry = default_registry("cpu")
    registry.load(logging.getLogger("bench"))
    return registry.aligners[name]


def errors_of(words, truth):
    errs = []
    for w, t in zip(words, truth):
        assert (w["char_start"], w["char_end"]) == (t["char_start"], t["char_end"])
        errs += [abs(w["start"] - t["start"]), abs(w["end"] - t["end"])]
    return errs


def report(name, errs, per_file, seconds, cpu_seconds, audio_s):
    errs_ms = [e * 1000 for e in errs]
    within = lambda ms: 100.0 * sum(1 for e in errs_ms if e <= ms) / len(errs_ms)  # noqa: E731
    print("%-18s %5d %6.1f%% %6.1f%% %6.1f%% %7.1f ms %6.1f%% %7.0fx %7.0fx" % (
        name, len(errs_ms), within(25), within(50), within(100), statistics.median(errs_ms),
        min(per_file), audio_s / seconds, audio_s / cpu_seconds))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--aligner", default="pocketsphinx")
    ap.add_argument("--sets", default="dev,clean,noisy,hard")
    ap.add_argument("--limit", type=int)
    ap.add_argument("--show", action="store_true", help="print each file's score")
    ap.add_argument("--long", type=float, help="seconds: align the clean set repeated to this length")
    args = ap.parse_args()
    if args.long:
        return long_audio(args.aligner, args.long)
    sets = args.sets.split(",")
    items = make.load(make.build())
    aligner = load_aligner(args.aligner)
    if not aligner.available:
        print("%s unavailable: %s" % (args.aligner, aligner.reason))
        return 1
    groups = {}
    for it in items:
        if it["set"] not in sets:
            continue
        groups.setdefault(it["set"], []).append(it)
        if it["set"] in ("hard", "noisy"):
            groups.setdefault(it["set"] + "/" + it["condition"], []).append(it)
    print("%s on the Festival corpus (%s)" % (args.aligner, os.path.dirname(make.build())))
    print("%-18s %5s %7s %7s %7s %10s %7s %8s %8s" % ("set", "bounds", "<=25ms", "<=50ms", "<=100ms", "median",
                                                      "worst", "wall", "cpu"))
    results = {}
    for name in sorted(groups, key=lambda g: (g.split("/")[0] != "dev", g)):
        errs, per_file, secs, cpu, audio_s = [], [], 0.0, 0.0, 0.0
        for it in groups[name][: args.limit]:
            if it["id"] not in results:
                spans = tokenize(it["text"])
                job = Job(0, lambda _m: None, "align", {})
                t0, c0 = time.perf_counter(), time.process_time()
                words = aligner.align(it["audio"], it["text"], spans, "en", None, job)
                results[it["id"]] = (words, time.perf_counter() - t0, time.process_time() - c0)
            words, dt, dc = results[it["id"]]
            e = errors_of(words, it["words"])
            share = 100.0 * sum(1 for x in e if x <= 0.05) / len(e)
            if args.show and "/" not in name:
                print("   %-22s %5.1f%% median %.1f ms" % (it["id"], share, statistics.median(e) * 1000))
            errs += e
            per_file.append(share)
            secs += dt
            cpu += dc
            audio_s += it["duration"]
        report(name, errs, per_file, secs, cpu, audio_s)
    return 0


def long_audio(name: str, seconds: float) -> int:
    """One request of ``seconds`` of audio: the clean set back to back, as often as it takes."""
    import resource
    import tempfile
    import wave

    items = [it for it in make.load(make.build()) if it["set"] == "clean"]
    aligner = load_aligner(name)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    text, truth, dur = [], [], 0.0
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "long.wav")
        with wave.open(path, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(16000)
            k, chars = 0, 0
            while dur < seconds:
                it = items[k % len(items)]
                k += 1
                with wave.open(it["audio"]) as w:
                    out.writeframes(w.readframes(w.getnframes()))
                truth += [{"start": t["start"] + dur, "end": t["end"] + dur} for t in it["words"]]
                text.append(it["text"])
                dur += it["duration"]
        text = " ".join(text)
        spans = tokenize(text)
        events = []
        t0 = time.perf_counter()
        words = aligner.align(path, text, spans, "en", None, Job(0, events.append, "align", {}))
        wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    errs = errors_of_times(words, truth)
    print("%s, one request of %.0f s of audio (%d words, %d windows): %.1f s wall, %.0fx real time, "
          "peak RSS %.0f MiB (%.0f MiB before), within 50 ms %.1f%%, median %.1f ms" % (
              name, dur, len(words), len(events) - 1, wall, dur / wall, peak / 1024, before / 1024,
              100.0 * sum(1 for e in errs if e <= 0.05) / len(errs), statistics.median(errs) * 1000))
    return 0


def errors_of_times(words, truth):
    return [abs(w[k] - t[k]) for w, t in zip(words, truth) for k in ("start", "end")]


if __name__ == "__main__":
    sys.exit(main())
