"""The whisperx aligner on the real library: whisperx.load_align_model and whisperx.align on CPU,
through the worker's own protocol (`python -m voicecue_spy --lane gpu`: the real worker with a
recorder around whisperx.alignment.align), with a tiny random wav2vec2 model the test saves to a
folder and names in VOICECUE_ALIGN_MODELS. Audio from the espeak-ng CLI at 22050 Hz, which the
aligner resamples to 16 kHz."""
import json
import subprocess
import wave
from pathlib import Path

import pytest

from tiny_align import build_align_model, build_punkt
from worker import Worker
from voicecue_worker.text import tokenize

TEXT = "In 2025 the ticket cost $4.50, up 12% on last year.\nThanks, everyone!"


def espeak(path: Path, text: str) -> float:
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(path), text], check=True)
    with wave.open(str(path)) as w:
        assert w.getframerate() == 22050
        return w.getnframes() / w.getframerate()


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("whisperx")
    en = build_align_model(str(root / "model-en"), seed=0)
    de = build_align_model(str(root / "model-de"), seed=1)
    nltk_data = build_punkt(str(root / "nltk"), ("english", "german"))
    spy = root / "spy.jsonl"
    audio = root / "data" / "speech.wav"
    audio.parent.mkdir()
    duration = espeak(audio, TEXT)
    worker = Worker({
        "VOICECUE_ALIGN_MODELS": json.dumps({"en": en, "de": de}), "VOICECUE_ALIGN_CACHE": "1",
        "NLTK_DATA": nltk_data, "VOICECUE_SPY_LOG": str(spy), "VOICECUE_DATA_DIR": str(root / "data"),
        "VOICECUE_DEVICE": "cpu",
    })
    yield {"worker": worker, "spy": spy, "audio": str(audio), "duration": duration, "root": root, "en": en}
    worker.close()


def spy_calls(spy: Path):
    if not spy.exists():
        return []
    return [json.loads(line) for line in spy.read_text().splitlines()]


def check_words(words, text, duration):
    spans = tokenize(text)
    assert [(w["char_start"], w["char_end"]) for w in words] == [tuple(s) for s in spans]
    assert [w["word"] for w in words] == [text[a:b] for a, b in spans]
    prev_end = 0.0
    for w in words:
        assert 0 <= w["start"] < w["end"] <= duration + 1e-9, w
        assert w["start"] >= prev_end - 1e-9, (w, prev_end)
        prev_end = w["end"]


def test_ready_reports_models_and_device(setup):
    info = setup["worker"].ready["aligners"]["whisperx"]
    assert info["available"] is True, info
    assert {"en", "de"} <= set(info["languages"])
    assert info["models"]["en"] == {"model": setup["en"], "source": "override", "on_disk": True}
    assert info["device"] == "cpu" and info["sample_rate"] == 16000
    assert info["cache"]["size"] == 1 and info["cache"]["loaded"] == []  # loaded on first use
    assert setup["worker"].ready["versions"]["whisperx"] == "3.8.6"


def test_our_text_reaches_align_and_every_word_is_timed(setup):
    w, spy = setup["worker"], setup["spy"]
    before = len(spy_calls(spy))
    reply = w.call("align", {"aligner": "whisperx", "text": TEXT, "audio_path": setup["audio"], "language": "en-US"})
    assert "result" in reply, reply
    words = reply["result"]["words"]
    check_words(words, TEXT, setup["duration"])
    assert {"2025", "$4.50", "12%"} <= {x["word"] for x in words}
    assert all(x["source"] in ("whisperx", "interpolated") for x in words)
    assert any(x["source"] == "whisperx" and 0 <= x["confidence"] <= 1 for x in words)
    calls = spy_calls(spy)[before:]
    assert len(calls) == 1 and calls[0]["call"] == "align"
    (segment,) = calls[0]["transcript"]
    assert segment["text"] == TEXT.replace("\n", " ")  # our text, one segment, offsets unchanged
    assert segment["start"] == 0 and abs(segment["end"] - setup["duration"]) < 1e-3
    assert calls[0]["audio_dtype"] == "float32"
    assert abs(calls[0]["audio_samples"] - setup["duration"] * 16000) <= 2  # resampled once to 16 kHz
    assert calls[0]["transcription_loaded"] is False
    assert not any(c["call"] == "load_model" for c in spy_calls(spy))


def test_each_chunk_is_one_segment(setup):
    w, spy, d = setup["worker"], setup["spy"], setup["duration"]
    cut = TEXT.index("Thanks")
    split = round(d * 0.7, 3)
    segments = [{"char_start": 0, "char_end": cut, "start": 0, "end": split},
                {"char_start": cut, "char_end": len(TEXT), "start": split, "end": d}]
    before = len(spy_calls(spy))
    reply = w.call("align", {"aligner": "whisperx", "text": TEXT, "audio_path": setup["audio"], "language": "en",
                             "segments": segments})
    words = reply["result"]["words"]
    check_words(words, TEXT, d)
    calls = spy_calls(spy)[before:]
    assert [c["transcript"][0]["text"] for c in calls] == [TEXT[:cut].replace("\n", " "), TEXT[cut:]]
    assert (calls[0]["transcript"][0]["start"], calls[0]["transcript"][0]["end"]) == (0, split)
    assert calls[1]["transcript"][0]["start"] == split and abs(calls[1]["transcript"][0]["end"] - d) < 1e-3
    for x in words:
        lo, hi = (0, split) if x["char_start"] < cut else (split, d)
        assert lo - 1e-3 <= x["start"] and x["end"] <= hi + 1e-3, x


def test_a_segment_whisperx_cannot_align_is_interpolated_inside_its_chunk(setup):
    w, d = setup["worker"], setup["duration"]
    cut = TEXT.index("Thanks")
    # 40 ms hold 2 wav2vec2 frames: too few for "Thanks, everyone!", whisperx gives its words no times
    segments = [{"char_start": 0, "char_end": cut, "start": 0, "end": d - 0.04},
                {"char_start": cut, "char_end": len(TEXT), "start": d - 0.04, "end": d}]
    reply = w.call("align", {"aligner": "whisperx", "text": TEXT, "audio_path": setup["audio"], "language": "en",
                             "segments": segments})
    words = reply["result"]["words"]
    check_words(words, TEXT, d)
    tail = [x for x in words if x["char_start"] >= cut]
    assert [x["word"] for x in tail] == ["Thanks", "everyone"]
    assert all(x["source"] == "interpolated" and x["confidence"] is None for x in tail)
    assert all(x["start"] >= d - 0.04 - 1e-3 for x in tail)
    assert any(x["source"] == "whisperx" for x in words if x["char_start"] < cut)
    assert w.logged("Failed to align segment")  # whisperx's stdout log, kept off the protocol


def test_models_load_once_per_language_in_an_lru(setup):
    w = setup["worker"]

    def loads():
        return w.call("capabilities")["result"]["aligners"]["whisperx"]["cache"]

    def align(lang):
        reply = w.call("align", {"aligner": "whisperx", "text": TEXT, "audio_path": setup["audio"], "language": lang})
        assert "result" in reply, reply

    align("en")
    start = loads()["loads"]
    align("en")
    assert loads()["loads"] == start  # cached: not loaded again
    align("de")
    after_de = loads()
    assert after_de["loaded"] == ["de"]  # a cache of one: en evicted
    assert after_de["loads"]["de"] == start.get("de", 0) + 1
    align("de")
    align("en")
    end = loads()
    assert end["loaded"] == ["en"]
    assert end["loads"] == {"en": start["en"] + 1, "de": start.get("de", 0) + 1}


def test_a_language_without_a_model_is_refused(setup):
    w = setup["worker"]
    info = w.ready["aligners"]["whisperx"]
    assert "sw" not in info["languages"] and "sw" not in info["models"]
    reply = w.call("align", {"aligner": "whisperx", "text": TEXT, "audio_path": setup["audio"], "language": "sw"})
    assert reply["error"]["code"] == "ENGINE_UNAVAILABLE" and "sw" in reply["error"]["message"]


def test_a_default_model_not_on_disk_is_never_downloaded(setup):
    """whisperx would fetch its default models (torchaudio's server, the hub); the worker reports
    them as not on disk and refuses those languages (the suite fails on any connection attempt)."""
    w = setup["worker"]
    info = w.ready["aligners"]["whisperx"]
    assert info["models"]["fr"] == {"model": "VOXPOPULI_ASR_BASE_10K_FR", "source": "default", "on_disk": False}
    assert info["models"]["ja"]["on_disk"] is False and info["models"]["en"]["on_disk"] is True
    assert "fr" not in info["languages"] and "ja" not in info["languages"]
    for lang, why in (("fr", "torchaudio bundle VOXPOPULI_ASR_BASE_10K_FR is not on disk"),
                      ("ja", "not in the local cache")):
        reply = w.call("align", {"aligner": "whisperx", "text": TEXT, "audio_path": setup["audio"], "language": lang})
        assert reply["error"]["code"] == "ENGINE_UNAVAILABLE" and why in reply["error"]["message"], reply


def test_missing_punkt_tab_is_reported_not_downloaded(setup, tmp_path):
    # an english folder without the rest of its files counts as missing, as no folder at all would
    partial = tmp_path / "tokenizers" / "punkt_tab" / "english"
    partial.mkdir(parents=True)
    (partial / "abbrev_types.txt").write_text("dr\n")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    worker = Worker({
        "VOICECUE_ALIGN_MODELS": json.dumps({"en": setup["en"]}), "NLTK_DATA": str(tmp_path),
        "VOICECUE_SPY_LOG": str(tmp_path / "spy.jsonl"), "VOICECUE_DEVICE": "cpu", "VOICECUE_PUNKT_FALLBACK": "none",
    })
    try:
        info = worker.ready["aligners"]["whisperx"]
        assert info["available"] is False and "punkt_tab" in info["reason"], info
        reply = worker.call("align", {"aligner": "whisperx", "text": TEXT, "audio_path": setup["audio"]})
        assert reply["error"]["code"] == "ENGINE_UNAVAILABLE" and "punkt_tab" in reply["error"]["message"]
    finally:
        worker.close()
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing fetched


def test_without_punkt_data_a_minimal_model_is_built_and_the_word_times_are_the_same(setup, tmp_path):
    """punkt only groups whisperx's output into sentences: with an untrained model (which splits
    "Dr. Smith" after "Dr.", where the test's model knows the abbreviation) every time is the same."""
    text = "Dr. Smith paid $4.50 in 2025. Thanks, everyone!"
    audio = setup["root"] / "data" / "smith.wav"
    duration = espeak(audio, text)
    params = {"aligner": "whisperx", "text": text, "audio_path": str(audio), "language": "en"}
    with_trained = setup["worker"].call("align", params)["result"]["words"]
    worker = Worker({
        "VOICECUE_ALIGN_MODELS": json.dumps({"en": setup["en"]}), "NLTK_DATA": str(tmp_path / "none"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"), "VOICECUE_SPY_LOG": str(tmp_path / "spy.jsonl"), "VOICECUE_DEVICE": "cpu",
    })
    try:
        info = worker.ready["aligners"]["whisperx"]
        assert info["available"] is True and info["punkt_tab_minimal"]["en"] == "english", info
        assert info["punkt_tab_missing"] == {}
        minimal = worker.call("align", params)["result"]["words"]
    finally:
        worker.close()
    check_words(minimal, text, duration)
    assert minimal == with_trained
    assert sorted(p.name for p in (tmp_path / "cache" / "voicecue" / "punkt-minimal-1" / "tokenizers" / "punkt_tab" / "english").iterdir()) == [
        "abbrev_types.txt", "collocations.tab", "ortho_context.tab", "sent_starters.txt"]
