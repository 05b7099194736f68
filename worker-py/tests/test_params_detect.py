"""Param validation and optional-package detection, in process."""

import os
import sys

import pytest

from voicecue_worker import detect, params as P
from voicecue_worker.aligners.whisperx import WhisperxAligner
from voicecue_worker.engines import f5 as f5_engine
from voicecue_worker.engines.f5 import F5Engine
from voicecue_worker.errors import RpcError


def check(p, data_dir=None, monkeypatch=None):
    return P.synthesize(p, P.engine_name(p))


def test_text_limit_counts_after_trimming(tmp_path, monkeypatch):
    monkeypatch.setenv("VOICECUE_DATA_DIR", str(tmp_path))
    out = str(tmp_path / "a.wav")
    p = check({"text": "   " + "x" * 20000 + "\n\n", "output_path": out})
    assert len(p.text) == 20005  # kept untrimmed
    assert (p.engine, p.voice, p.language, p.speed, p.word_timings) == ("espeak", None, None, 1.0, True)
    with pytest.raises(RpcError) as ei:
        check({"text": "x" * 20001, "output_path": out})
    assert ei.value.code == "INVALID_PARAMS" and "text" in ei.value.message


def test_unpaired_surrogate_and_nan_speed(tmp_path, monkeypatch):
    monkeypatch.delenv("VOICECUE_DATA_DIR", raising=False)
    out = str(tmp_path / "a.wav")
    for bad, name in (({"text": "a\ud83d b"}, "text"), ({"speed": float("nan")}, "speed"),
                      ({"speed": float("inf")}, "speed")):
        p = {"text": "hello", "output_path": out}
        p.update(bad)
        with pytest.raises(RpcError) as ei:
            check(p)
        assert ei.value.code == "INVALID_PARAMS" and name in ei.value.message


def test_output_path_resolution(tmp_path, monkeypatch):
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    monkeypatch.setenv("VOICECUE_DATA_DIR", str(data))
    assert P.check_output_path(str(data / "sub" / "x.wav")) == os.path.realpath(str(data / "sub" / "x.wav"))
    for bad in (str(data / "sub" / ".." / ".." / "x.wav"), str(data), str(data) + "/", "x.wav",
                str(tmp_path / "datax" / "x.wav"), str(data / "nodir" / "x.wav"), 5, ""):
        with pytest.raises(RpcError) as ei:
            P.check_output_path(bad)
        assert ei.value.code == "INVALID_PARAMS" and "output_path" in ei.value.message
    monkeypatch.setenv("VOICECUE_DATA_DIR", "")  # empty means unset
    assert P.check_output_path(str(tmp_path / "free.wav"))


def _stand_in(tmp_path, monkeypatch, *names):
    for n in names:
        d = tmp_path / n
        d.mkdir()
        (d / "__init__.py").write_text("raise ImportError('detection must not import %s')\n" % n)
    monkeypatch.syspath_prepend(str(tmp_path))


class _Loaded:
    """What a plug-in reports after load(): available False and its reason, in its lane."""

    def __init__(self, cls):
        self.cls = cls

    def detect(self):
        plugin = self.cls()
        plugin.load()
        info = plugin.info()
        assert info["available"] is False and info["lane"] == "gpu", info
        return {"available": info["available"], "reason": info["reason"]}


f5 = _Loaded(F5Engine)
whisperx = _Loaded(WhisperxAligner)


def test_f5_and_whisperx_detection_reasons(tmp_path, monkeypatch):
    monkeypatch.setattr(detect, "has_module", lambda n: n not in ("f5_tts", "whisperx", "torch"))
    assert f5.detect() == {"available": False, "reason": "python package f5_tts is not installed"}
    assert whisperx.detect() == {"available": False, "reason": "python package whisperx is not installed"}
    monkeypatch.setattr(detect, "has_module", lambda n: n != "torch")
    assert f5.detect()["reason"] == "python package torch is not installed"
    monkeypatch.setattr(detect, "has_module", lambda n: True)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert "GPU" in f5.detect()["reason"] and "CUDA_VISIBLE_DEVICES" in f5.detect()["reason"]
    monkeypatch.setattr(detect, "cuda_reason", lambda: None)
    monkeypatch.delenv("VOICECUE_ALLOW_DOWNLOADS", raising=False)
    monkeypatch.setattr(f5_engine, "_cached", lambda repo, name: None)  # an empty model cache
    reason = f5.detect()["reason"]
    assert "model cache" in reason and "F5TTS_v1_Base/model_1250000.safetensors" in reason and "vocos-mel-24khz" in reason
    assert "whisperx could not be imported" in whisperx.detect()["reason"]  # found, but not importable here


def test_detection_finds_packages_without_importing_them(tmp_path, monkeypatch):
    _stand_in(tmp_path, monkeypatch, "f5_tts", "torch")
    assert detect.has_module("f5_tts") and detect.has_module("torch")
    assert "f5_tts" not in sys.modules and "torch" not in sys.modules
    reason = f5.detect()["reason"]
    assert "f5_tts is not installed" not in reason and "torch is not installed" not in reason


def test_surrounding_whitespace_is_bounded():
    from voicecue_worker import params as P
    from voicecue_worker.errors import RpcError
    ok = P.synthesize({"text": " " * 100 + "hi", "output_path": "/tmp/x.wav"}, "espeak")
    assert ok is not None
    with pytest.raises(RpcError) as ei:
        P.synthesize({"text": " " * (2 * P.MAX_TEXT) + "hi", "output_path": "/tmp/x.wav"}, "espeak")
    assert "surrounding whitespace" in ei.value.message


def test_a_script_to_align_may_be_longer_than_a_text_to_speak(tmp_path):
    from voicecue_worker import params as P
    from voicecue_worker.errors import RpcError
    audio = tmp_path / "a.wav"
    audio.write_bytes(b"RIFF")
    script = "word " * (P.MAX_TEXT // 5 + 10)  # past the synthesis limit, an hour-long chapter's length
    assert len(script.strip()) > P.MAX_TEXT and P.MAX_ALIGN_TEXT >= 10 * P.MAX_TEXT
    assert P.align({"aligner": "dtw", "text": script, "audio_path": str(audio)}).text == script
    with pytest.raises(RpcError) as ei:
        P.synthesize({"text": script, "output_path": str(tmp_path / "x.wav")}, "espeak")
    assert "at most %d" % P.MAX_TEXT in ei.value.message
    with pytest.raises(RpcError) as ei:
        P.align({"aligner": "dtw", "text": "w " * P.MAX_ALIGN_TEXT, "audio_path": str(audio)})
    assert "at most %d" % P.MAX_ALIGN_TEXT in ei.value.message
