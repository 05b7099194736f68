"""The job thread beside the reader: ping and cancel while a job runs, tokenize, align's errors."""

import os
import time

from conftest import MUST_SHOW
from test_protocol import assert_error

LONG = " ".join(["The quick brown fox jumps over the lazy dog near the riverbank."] * 300)


def _start_long(worker, data_dir, rid, name="long.wav"):
    worker.send({"id": rid, "method": "synthesize",
                 "params": {"text": LONG, "output_path": str(data_dir / name)}})


def _until_reply(worker, rid, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        m = worker.recv(max(0.1, deadline - time.monotonic()))
        if m.get("id") == rid and m.get("event") != "progress":
            return m


def test_ping_is_answered_while_a_job_runs(worker, data_dir):
    _start_long(worker, data_dir, 1)
    worker.recv()  # the first progress event: the job is running
    # The job's next progress events may come before the ping's reply: skipped, not mistaken for it.
    worker.send({"id": 2, "method": "ping"})
    reply = _until_reply(worker, 2)
    assert reply["result"]["busy"] == [1]
    done = _until_reply(worker, 1)
    assert "result" in done and done["result"]["duration"] > 30
    assert worker.call("ping")["busy"] == []


def test_cancel_stops_a_running_job_and_leaves_no_file(worker, data_dir):
    _start_long(worker, data_dir, 1)
    first = worker.recv()
    assert first.get("event") == "progress"
    worker.send({"id": 2, "method": "cancel", "params": {"id": 1}})
    replies = {}
    while len(replies) < 2:
        m = worker.recv()
        if m.get("event") != "progress":
            replies[m["id"]] = m
    assert replies[2] == {"id": 2, "result": {"cancelled": True}}
    assert_error(replies[1], "CANCELLED", 1)
    assert os.listdir(data_dir) == []  # neither the WAV nor its temp file
    assert worker.call("ping")["busy"] == []


def test_a_job_cancelled_while_it_waits_never_runs(worker, data_dir):
    _start_long(worker, data_dir, 1)
    worker.send({"id": 3, "method": "synthesize",
                 "params": {"text": MUST_SHOW, "output_path": str(data_dir / "short.wav")}})
    worker.send({"id": 4, "method": "cancel", "params": {"id": 3}})
    replies = {}
    while len(replies) < 3:
        m = worker.recv()
        if m.get("event") != "progress":
            replies[m["id"]] = m
    assert replies[4]["result"] == {"cancelled": True}
    assert "before it started" in assert_error(replies[3], "CANCELLED", 3)
    assert "result" in replies[1]
    assert sorted(os.listdir(data_dir)) == ["long.wav"]
    # stderr is read by a thread of its own: the log line may land just after the replies.
    deadline = time.monotonic() + 5
    while not any("cancel id=3 (waiting)" in line for line in worker.stderr_lines) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert any("cancel id=3 (waiting)" in line for line in worker.stderr_lines)


def test_cancel_of_an_unknown_id_says_so(worker):
    assert worker.call("cancel", {"id": 99}) == {"cancelled": False}
    assert_error(worker.request("cancel", {})[0], "INVALID_PARAMS")


def test_tokenize_gives_the_spans_and_the_content(worker):
    text = "\ufeff  Hello, world! 2025 \u001f"
    result = worker.call("tokenize", {"text": text})
    assert [text[s:e] for s, e in result["spans"]] == ["Hello", "world", "2025"]
    s, e = result["content"]
    assert text[s:e] == "Hello, world! 2025"
    assert_error(worker.request("tokenize", {"text": 5})[0], "INVALID_PARAMS")


def test_align_names_what_it_cannot_do(worker, data_dir):
    audio = data_dir / "a.wav"
    worker.call("synthesize", {"text": MUST_SHOW, "output_path": str(audio)})
    base = {"text": MUST_SHOW, "audio_path": str(audio)}
    msg = assert_error(worker.request("align", dict(base, aligner="native"))[0], "INVALID_PARAMS")
    assert "espeak" in msg and "synthesize" in msg
    msg = assert_error(worker.request("align", dict(base, aligner="whisperx"))[0], "ENGINE_UNAVAILABLE")
    assert "cpu lane" in msg
    for patch, name in [({"aligner": "nope"}, "aligner"), ({"audio_path": "/etc/passwd"}, "audio_path"),
                        ({"audio_path": str(data_dir / "none.wav")}, "audio_path"),
                        ({"segments": [{"start": -1}]}, "segments")]:
        msg = assert_error(worker.request("align", {**base, "aligner": "native", **patch})[0], "INVALID_PARAMS")
        assert name in msg
