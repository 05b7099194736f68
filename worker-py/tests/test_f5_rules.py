"""The f5 engine's rules that need no torch: F5's chunk budget, the chunker, the keyword filter
(against a recorded copy of the real F5TTS.infer signature) and the engine params."""

import inspect
import json
import wave
from pathlib import Path

import pytest

from voicecue_worker import params as P
from voicecue_worker.engines import f5
from voicecue_worker.errors import RpcError
from voicecue_worker.text import tokenize

SIGNATURE = json.loads((Path(__file__).parent / "fixtures" / "f5_infer_signature.json").read_text())


def recorded_signature(drop=(), extra_kwargs=False):
    params = [inspect.Parameter(p["name"], getattr(inspect.Parameter, p["kind"]),
                                **({"default": p["default"]} if p["has_default"] else {}))
              for p in SIGNATURE["parameters"] if p["name"] not in drop]
    if extra_kwargs:
        params.append(inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD))
    return inspect.Signature(params)


def test_the_real_signature_takes_every_keyword():
    accepted, dropped = f5.filter_keywords(recorded_signature())
    assert dropped == []
    assert {"nfe_step", "cfg_strength", "target_rms", "cross_fade_duration", "sway_sampling_coef", "speed", "seed",
            "fix_duration", "remove_silence"} <= set(accepted)


def test_keywords_an_older_infer_lacks_are_dropped_and_named():
    accepted, dropped = f5.filter_keywords(recorded_signature(drop=("seed", "fix_duration", "show_info")))
    assert dropped == ["seed", "fix_duration"]  # show_info is ours, never reported
    assert "seed" not in accepted and "show_info" not in accepted and "nfe_step" in accepted
    accepted, dropped = f5.filter_keywords(recorded_signature(drop=("seed",), extra_kwargs=True))
    assert dropped == [] and "seed" in accepted


def test_budget_is_f5s_formula():
    # ref_text_bytes / ref_seconds × (22 − ref_seconds) × speed
    assert f5.budget_chars("x" * 100, 10.0, 1.0) == 120
    assert f5.budget_chars("x" * 100, 10.0, 0.5) == 60
    assert f5.budget_chars("é" * 50, 10.0, 1.0) == 120  # UTF-8 bytes, as F5 counts
    assert f5.generated_frames(300, "x" * 100, "y" * 50, 1.0) == 150
    assert f5.generated_frames(300, "x" * 100, "short", 1.0) == int(300 / 100 * 5 / 0.3)  # F5 slows chunks under 10 bytes


def test_chunks_break_at_sentences_then_clauses_then_words_within_budget():
    text = "One two three. Four five, six seven; eight nine ten eleven twelve. Thirteen!"
    spans = tokenize(text)
    for budget in (200, 40, 20, 12, 6):
        chunks = f5.chunk_spans(text, spans, budget)
        # whole words only, in order, covering every word exactly once
        inside = [[s for s in spans if a <= s[0] and s[1] <= b] for a, b in chunks]
        assert [s for group in inside for s in group] == spans
        for (a, b), group in zip(chunks, inside):
            assert a == group[0][0] and not text[group[-1][1]:b].strip(".,;!? ")  # only its punctuation after
            assert len(text[a:b].encode()) <= budget or len(group) == 1
    assert [text[a:b] for a, b in f5.chunk_spans(text, spans, 200)] == [text]
    assert [text[a:b] for a, b in f5.chunk_spans(text, spans, 40)] == [
        "One two three. Four five, six seven;", "eight nine ten eleven twelve. Thirteen!"]
    # a sentence over the budget is cut at its clause marks before between its words
    assert [text[a:b] for a, b in f5.chunk_spans(text, spans, 20)][:3] == ["One two three.", "Four five,", "six seven; eight"]


def test_cjk_chunks_split_without_spaces():
    text = "今天天气很好。我们去公园散步吧！"
    spans = tokenize(text)
    chunks = [text[a:b] for a, b in f5.chunk_spans(text, spans, 27)]  # 21 + 27 bytes
    assert chunks == ["今天天气很好。", "我们去公园散步吧！"]


def test_ref_text_normalised_as_f5_does():
    assert f5.normalise_ref_text("Hello there") == "Hello there. "
    assert f5.normalise_ref_text("Hello there.") == "Hello there. "
    assert f5.normalise_ref_text("你好。") == "你好。"


def _ref(tmp_path, rate=24000, channels=1, seconds=1.0):
    path = tmp_path / "ref.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\0\0" * int(rate * seconds) * channels)
    return str(path)


def test_reference_and_options_are_validated(tmp_path, monkeypatch):
    monkeypatch.setenv("VOICECUE_DATA_DIR", str(tmp_path))
    out = str(tmp_path / "a.wav")
    ref = _ref(tmp_path)
    p = P.synthesize({"engine": "f5", "text": "hi", "output_path": out, "reference": {"audio_path": ref, "text": "hello"},
                      "options": {"nfe_step": 16, "seed": 2 ** 63 - 1, "remove_silence": True, "cfg_strength": 0}}, "f5")
    assert p.reference["text"] == "hello" and p.options == {"nfe_step": 16, "seed": 2 ** 63 - 1, "remove_silence": True, "cfg_strength": 0.0}
    cases = [
        ({"reference": "ref.wav"}, "reference must be an object"),
        ({"reference": {"audio_path": "/etc/passwd", "text": ""}}, "outside the data directory"),
        ({"reference": {"audio_path": ref}}, "reference.text must be a string"),
        ({"options": {"nfe_step": 3}}, "options.nfe_step must be from 4 to 64"),
        ({"options": {"nfe_step": 8.5}}, "options.nfe_step must be an integer"),
        ({"options": {"seed": 2 ** 63}}, "options.seed must be from 0"),
        ({"options": {"seed": -1}}, "options.seed must be from 0"),
        ({"options": {"cfg_strength": float("nan")}}, "options.cfg_strength must be from 0.0 to 10.0"),
        ({"options": {"remove_silence": 1}}, "options.remove_silence must be true or false"),
        ({"options": {"steps": 8}}, "options.steps is not an engine option"),
    ]
    for extra, message in cases:
        with pytest.raises(RpcError) as ei:
            P.synthesize({"engine": "f5", "text": "hi", "output_path": out, **extra}, "f5")
        assert ei.value.code == "INVALID_PARAMS" and message in ei.value.message, (extra, ei.value.message)


def test_reference_must_be_mono_24k(tmp_path):
    with pytest.raises(RpcError) as ei:
        f5._ref_frames(_ref(tmp_path, rate=16000))
    assert "mono 24000 Hz WAV" in ei.value.message
    assert f5._ref_frames(_ref(tmp_path, seconds=2.0)) == 48000 // 256


def test_f5_without_reference_says_what_to_send():
    with pytest.raises(RpcError) as ei:
        f5._reference(type("Params", (), {"reference": None})())
    assert ei.value.code == "INVALID_PARAMS" and "ref_audio" in ei.value.message and "voice" in ei.value.message
