"""The stdio protocol, against a real sidecar process."""

import json
import os
import signal
import sys
import textwrap
import time

import pytest

from conftest import WORKER_DIR, Worker


def assert_error(reply, code, rid="any"):
    assert set(reply) == {"id", "error"}, reply
    assert reply["error"]["code"] == code, reply
    assert isinstance(reply["error"]["message"], str) and reply["error"]["message"]
    if rid != "any":
        assert reply["id"] == rid
    return reply["error"]["message"]


def test_ready_event_shape(worker):
    r = worker.ready_event
    assert r["event"] == "ready"
    assert r["pid"] == worker.proc.pid
    es = r["engines"]["espeak"]
    assert es["available"] is True
    assert es["sample_rate"] == 22050
    assert es["version"].startswith("1.")
    for code in ("en-us", "en-gb", "de", "fr", "cmn", "zh", "he", "ar"):
        assert code in es["voices"], code
    assert es["lane"] == "cpu" and es["batch"] == 1 and "en-us" in es["languages"]
    assert r["lane"] == "cpu" and set(r["engines"]) == {"espeak"}
    assert set(r["aligners"]) == {"native", "dtw", "pocketsphinx"}
    assert r["aligners"]["native"] == {"available": True, "lane": "cpu", "batch": 1, "languages": None,
                                       "kind": "engine", "engines": ["espeak"]}
    dtw = r["aligners"]["dtw"]  # numpy is in the tests' venv: available, any espeak language
    assert dtw["available"] and dtw["kind"] == "audio" and "en-us" in dtw["languages"]
    assert r["aligners"]["pocketsphinx"] == {"available": True, "lane": "cpu", "batch": 1, "languages": ["en"],
                                             "kind": "audio", "model": "/usr/share/pocketsphinx/model/en-us",
                                             "sample_rate": 16000}
    assert r["protocol"] == 1
    assert r["methods"] == sorted(["ping", "capabilities", "tokenize", "cancel", "shutdown", "synthesize", "align"])
    assert "CANCELLED" in r["errors"] and "INTERNAL" in r["errors"]
    v = r["versions"]
    assert v["python"] == "%d.%d.%d" % sys.version_info[:3]
    assert v["voicecue_worker"] == "0.1.0"
    assert v["espeak-ng"] == es["version"]


def test_gpu_lane_reports_f5_and_whisperx_with_reasons(gpu_worker):
    r = gpu_worker.ready_event
    assert r["lane"] == "gpu" and set(r["engines"]) == {"f5"} and set(r["aligners"]) == {"whisperx"}
    for item in (r["engines"]["f5"], r["aligners"]["whisperx"]):
        assert item["available"] is False and item["lane"] == "gpu" and item["reason"]


def test_ready_reasons_name_missing_packages(gpu_worker):
    import importlib.util

    r = gpu_worker.ready_event
    if importlib.util.find_spec("f5_tts") is None:
        assert r["engines"]["f5"]["reason"] == "python package f5_tts is not installed"
    if importlib.util.find_spec("whisperx") is None:
        assert r["aligners"]["whisperx"]["reason"] == "python package whisperx is not installed"


def test_ping_and_capabilities(worker):
    assert worker.call("ping") == {"pong": True, "pid": worker.proc.pid, "busy": []}
    caps = worker.call("capabilities")
    expected = dict(worker.ready_event)
    del expected["event"]
    assert caps == expected


def test_string_ids_are_echoed(worker):
    reply, _ = worker.request("ping", rid="abc-1")
    assert reply == {"id": "abc-1", "result": {"pong": True, "pid": worker.proc.pid, "busy": []}}


def test_every_error_keeps_the_loop_alive(worker):
    w = worker
    # bad JSON
    w.send_raw(b"{not json\n")
    assert_error(w.recv(), "PARSE_ERROR", None)
    # bad UTF-8
    w.send_raw(b'{"id":1,"method":"ping","x":"\xff\xfe"}\n')
    assert_error(w.recv(), "PARSE_ERROR", None)
    # NaN is not JSON
    w.send_raw(b'{"id":1,"method":"ping","x":NaN}\n')
    assert_error(w.recv(), "PARSE_ERROR", None)
    # not an object
    for raw in (b"[1,2]\n", b"42\n", b'"ping"\n', b"null\n"):
        w.send_raw(raw)
        assert_error(w.recv(), "INVALID_REQUEST", None)
    # no method
    w.send({"id": 5})
    assert_error(w.recv(), "INVALID_REQUEST", 5)
    w.send({"id": 6, "method": 3})
    assert_error(w.recv(), "INVALID_REQUEST", 6)
    # bad id type
    w.send({"id": {"a": 1}, "method": "ping"})
    assert_error(w.recv(), "INVALID_REQUEST", None)
    # unknown method
    msg = assert_error(w.request("speak")[0], "METHOD_NOT_FOUND")
    assert "speak" in msg
    # params not an object
    w.send({"id": 7, "method": "synthesize", "params": [1]})
    assert_error(w.recv(), "INVALID_PARAMS", 7)
    # missing params
    msg = assert_error(w.request("synthesize")[0], "INVALID_PARAMS")
    assert "params" in msg
    # blank lines are ignored, not answered
    w.send_raw(b"\n   \n")
    assert w.call("ping")["pong"] is True


def test_invalid_params_name_the_param(worker, data_dir):
    out = str(data_dir / "x.wav")
    base = {"engine": "espeak", "text": "hello", "output_path": out}
    cases = [
        ({"text": None}, "text"),
        ({"text": 5}, "text"),
        ({"text": "   \n "}, "text"),
        ({"text": "a" * 20001}, "text"),
        ({"speed": 3.0}, "speed"),
        ({"speed": 0.2}, "speed"),
        ({"speed": "fast"}, "speed"),
        ({"speed": True}, "speed"),
        ({"word_timings": "yes"}, "word_timings"),
        ({"voice": 12}, "voice"),
        ({"voice": ""}, "voice"),
        ({"language": ["en"]}, "language"),
        ({"output_path": None}, "output_path"),
        ({"output_path": "relative/x.wav"}, "output_path"),
        ({"output_path": str(data_dir / "missing-dir" / "x.wav")}, "output_path"),
        ({"output_path": str(data_dir)}, "output_path"),
        ({"output_path": "/tmp/outside-voicecue.wav"}, "output_path"),
        ({"output_path": str(data_dir / ".." / "escape.wav")}, "output_path"),
        ({"engine": "festival"}, "engine"),
    ]
    for patch, name in cases:
        params = dict(base)
        params.update(patch)
        if patch.get("text", "") is None:
            del params["text"]
        msg = assert_error(worker.request("synthesize", params)[0], "INVALID_PARAMS")
        assert name in msg, (patch, msg)
    assert worker.call("ping")["pong"]


def test_unknown_voice(worker, data_dir):
    params = {"engine": "espeak", "text": "hello", "output_path": str(data_dir / "v.wav")}
    for voice in ("xx-nope", "en-us+nosuchvariant"):
        msg = assert_error(worker.request("synthesize", dict(params, voice=voice))[0], "UNKNOWN_VOICE")
        assert voice in msg
    msg = assert_error(worker.request("synthesize", dict(params, language="qq-nolang"))[0], "UNKNOWN_VOICE")
    assert "qq-nolang" in msg
    assert not os.listdir(data_dir)


def test_f5_is_unavailable_with_reason(gpu_worker, worker, data_dir):
    params = {"engine": "f5", "text": "hello", "output_path": str(data_dir / "f.wav")}
    msg = assert_error(gpu_worker.request("synthesize", params)[0], "ENGINE_UNAVAILABLE")
    assert msg == gpu_worker.ready_event["engines"]["f5"]["reason"]
    msg = assert_error(worker.request("synthesize", params)[0], "ENGINE_UNAVAILABLE")
    assert "cpu lane" in msg
    assert worker.call("ping")["pong"]


def test_eof_exits_zero(worker):
    worker.proc.stdin.close()
    assert worker.proc.wait(timeout=10) == 0


def test_shutdown_replies_then_exits_zero(worker):
    assert worker.call("shutdown") == {"ok": True}
    assert worker.proc.wait(timeout=10) == 0


def test_sigterm_exits_promptly(worker):
    t = time.monotonic()
    worker.proc.send_signal(signal.SIGTERM)
    assert worker.proc.wait(timeout=5) == 0
    assert time.monotonic() - t < 5


def test_oversized_line_is_refused_and_skipped(worker):
    big = b'{"id":1,"method":"ping","pad":"' + b"a" * (8 * 1024 * 1024) + b'"}\n'
    worker.send_raw(big)
    reply = worker.recv()
    assert_error(reply, "PARSE_ERROR", None)
    assert "too long" in reply["error"]["message"]
    assert worker.call("ping")["pong"]


def test_handler_exception_is_internal_and_loop_survives(tmp_path):
    script = textwrap.dedent("""
        import voicecue_worker.server as s
        def boom(self, rid, params):
            raise ZeroDivisionError("kaboom")
        s.Server.m_capabilities = boom
        raise SystemExit(s.main())
    """)
    w = Worker(args=[sys.executable, "-c", script])
    try:
        w.ready()
        msg = assert_error(w.request("capabilities")[0], "INTERNAL")
        assert "kaboom" in msg
        assert w.call("ping")["pong"]
    finally:
        w.close()


def test_stray_stdout_output_does_not_corrupt_the_protocol(tmp_path):
    # a handler that prints, writes to sys.__stdout__ and to fd 1 directly (like a C library)
    script = textwrap.dedent("""
        import os, sys
        import voicecue_worker.server as s
        orig = s.Server.m_ping
        def noisy(self, rid, params):
            print("stray print")
            sys.__stdout__.write("stray __stdout__\\n"); sys.__stdout__.flush()
            os.write(1, b"stray fd1 write\\n")
            return orig(self, rid, params)
        s.Server.m_ping = noisy
        raise SystemExit(s.main())
    """)
    w = Worker(args=[sys.executable, "-c", script])
    try:
        w.ready()
        for _ in range(3):
            assert w.call("ping")["pong"] is True
        assert w.call("shutdown") == {"ok": True}
        assert w.proc.wait(timeout=10) == 0
        for line in w.raw_lines:
            json.loads(line)  # every protocol line is JSON
        time.sleep(0.2)
        err = "".join(w.stderr_lines)
        assert "stray print" in err and "stray fd1 write" in err and "stray __stdout__" in err
    finally:
        w.close()


def test_espeak_missing_still_sends_ready(tmp_path):
    w = Worker(env={"VOICECUE_ESPEAK_LIB": "/nonexistent/libespeak-ng.so.1",
                    "VOICECUE_DATA_DIR": str(tmp_path)})
    try:
        r = w.ready()
        assert r["engines"]["espeak"] == {
            "available": False,
            "reason": "libespeak-ng.so.1 not found: install the espeak-ng package",
            "lane": "cpu",
            "batch": 1,
        }
        assert r["versions"]["espeak-ng"] is None
        reply, _ = w.request("synthesize", {"text": "hi", "output_path": str(tmp_path / "a.wav")})
        msg = assert_error(reply, "ENGINE_UNAVAILABLE")
        assert "libespeak-ng" in msg
        assert w.call("ping")["pong"]
    finally:
        w.close()


def test_stderr_log_lines_have_a_level(worker):
    worker.call("ping")
    worker.close()
    time.sleep(0.1)
    lines = [l for l in worker.stderr_lines if l.strip()]
    assert any(l.startswith("INFO espeak ready 1.") for l in lines), lines
    for l in lines:
        assert l.split(" ", 1)[0] in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"), l


def test_sigterm_during_synthesis_exits_and_removes_temp_file(worker, data_dir):
    text = " ".join("Sentence number %d goes on for a while." % i for i in range(400))
    worker.send({"id": 1, "method": "synthesize",
                 "params": {"text": text, "output_path": str(data_dir / "long.wav")}})
    # wait until synthesis is under way (first progress event), then terminate
    m = worker.recv(timeout=30)
    assert m.get("event") == "progress", m
    t = time.monotonic()
    worker.proc.send_signal(signal.SIGTERM)
    assert worker.proc.wait(timeout=5) == 0
    assert time.monotonic() - t < 2
    assert os.listdir(str(data_dir)) == []
