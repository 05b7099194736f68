"""The pocketsphinx aligner through the worker protocol: ready event, align, progress, errors."""

import os
import shutil
import sys

import pytest

from test_protocol import assert_error

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench", "corpus"))
import make  # noqa: E402


@pytest.fixture(scope="module")
def item():
    items = make.load(make.build(sets=("clean", "hard"), limit=3))
    return next(it for it in items if it["id"] == "clean-clean-01")


def test_the_cpu_lane_aligns_any_audio_with_pocketsphinx(shared_worker, item):
    info = shared_worker.ready_event["aligners"]["pocketsphinx"]
    assert info["available"] is True and info["kind"] == "audio" and info["languages"] == ["en"]
    assert shared_worker.ready_event["versions"]["pocketsphinx"].startswith("5prealpha")
    audio = shared_worker.data_dir / "upload.wav"
    shutil.copy(item["audio"], audio)
    reply, events = shared_worker.request("align", {"aligner": "pocketsphinx", "text": item["text"],
                                                    "audio_path": str(audio), "language": "en-US"})
    result = reply["result"]
    assert result["aligner"] == "pocketsphinx" and result["timings_ms"]["align"] > 0
    words = result["words"]
    assert [w["word"] for w in words] == [t["word"] for t in item["words"]]
    assert [(w["char_start"], w["char_end"]) for w in words] == [(t["char_start"], t["char_end"]) for t in item["words"]]
    errs = [abs(w[k] - t[k]) for w, t in zip(words, item["words"]) for k in ("start", "end")]
    assert sum(1 for e in errs if e <= 0.05) / len(errs) >= 0.9
    assert all(0 <= w["start"] < w["end"] <= item["duration"] for w in words)
    assert events and events[-1]["done"] == events[-1]["total"]
    assert shared_worker.call("ping")["busy"] == []


def test_an_mp3_upload_aligns_too(shared_worker):
    mp3 = next(it for it in make.load(make.build(sets=("clean", "hard"), limit=3)) if it["id"] == "hard-mp3-00")
    audio = shared_worker.data_dir / "upload.mp3"
    shutil.copy(mp3["upload"], audio)
    result = shared_worker.call("align", {"aligner": "pocketsphinx", "text": mp3["text"], "audio_path": str(audio)})
    assert len(result["words"]) == len(mp3["words"])
    errs = [abs(w[k] - t[k]) for w, t in zip(result["words"], mp3["words"]) for k in ("start", "end")]
    assert sum(1 for e in errs if e <= 0.05) / len(errs) >= 0.8


def test_align_errors_are_replies_not_crashes(shared_worker, item):
    d = shared_worker.data_dir
    audio = d / "upload.wav"
    shutil.copy(item["audio"], audio)
    base = {"aligner": "pocketsphinx", "text": item["text"], "audio_path": str(audio)}
    assert "English" in assert_error(shared_worker.request("align", {**base, "language": "fr"})[0], "INVALID_PARAMS")
    (d / "junk.wav").write_bytes(b"RIFF\x00\x00\x00\x00junk" * 10)
    assert_error(shared_worker.request("align", {**base, "audio_path": str(d / "junk.wav")})[0], "INVALID_PARAMS")
    assert_error(shared_worker.request("align", {**base, "text": " ,;. "})[0], "NO_SPEECH")
    # the worker is still there and still aligns
    result = shared_worker.call("align", base)
    assert len(result["words"]) == len(item["words"])
