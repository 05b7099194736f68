"""The pocketsphinx aligner through its API, on Festival speech with exact word times
(bench/corpus/make.py: a few files of its clean and hard sets)."""

import os
import statistics
import sys
import wave

import pytest

from voicecue_worker.aligners import pocketsphinx as ps_mod
from voicecue_worker.aligners.pocketsphinx import PocketsphinxAligner, ipa_to_cmu
from voicecue_worker.aligners.spoken_en import readings
from voicecue_worker.errors import RpcError
from voicecue_worker.plugins import Job
from voicecue_worker.text import tokenize

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench", "corpus"))
import make  # noqa: E402

EXTRA = "The committee will publish its findings next spring."


@pytest.fixture(scope="session")
def corpus():
    """Three clean files and one of each hard condition (made once, then cached)."""
    items = make.load(make.build(sets=("clean", "hard"), limit=3))
    return {it["id"]: it for it in items}


@pytest.fixture(scope="session")
def aligner():
    a = PocketsphinxAligner()
    a.load()
    if not a.available:
        pytest.fail("libpocketsphinx3 and pocketsphinx-en-us are required for these tests: %s" % a.reason)
    return a


def job(events=None):
    return Job(1, (events.append if events is not None else (lambda _m: None)), "align", {})


def align(aligner, path, text, events=None, language="en"):
    return aligner.align(path, text, tokenize(text), language, None, job(events))


def errors(words, truth):
    out = []
    for w, t in zip(words, truth):
        out += [abs(w["start"] - t["start"]), abs(w["end"] - t["end"])]
    return out


def share_within(errs, s=0.05):
    return sum(1 for e in errs if e <= s) / len(errs)


def duration_of(path):
    with wave.open(path) as w:
        return w.getnframes() / w.getframerate()


def assert_well_formed(words, text, duration):
    """One word per token, as written, in order, each inside the audio with end > start."""
    spans = tokenize(text)
    assert [(w["char_start"], w["char_end"]) for w in words] == spans
    assert [w["word"] for w in words] == [text[s:e] for s, e in spans]
    prev_end = 0.0
    for w in words:
        assert 0 <= w["start"] < w["end"] <= duration + 1e-9, w
        assert w["start"] >= prev_end - 1e-9, w
        assert 0 <= w["confidence"] <= 1 and w["source"] == "pocketsphinx"
        prev_end = w["end"]


def sentence_cut(item):
    """The index of the last word of the first sentence."""
    text = item["text"]
    return next(k for k, t in enumerate(item["words"]) if text[t["char_end"]:t["char_end"] + 1] in ".?!")


# ---------------------------------------------------------------- accuracy
def test_clean_speech_is_aligned_within_tolerance(aligner, corpus):
    errs, worst = [], 1.0
    for it in (corpus["clean-clean-%02d" % i] for i in range(3)):
        words = align(aligner, it["audio"], it["text"])
        assert_well_formed(words, it["text"], it["duration"])
        e = errors(words, it["words"])
        worst = min(worst, share_within(e))
        errs += e
    assert share_within(errs) >= 0.93
    assert statistics.median(errs) <= 0.02
    assert worst >= 0.85


def test_numbers_are_timed_as_the_words_written(aligner, corpus):
    """Numbers, money, decimals and clock times: one word each as written, read any way."""
    errs = []
    for it in corpus.values():
        if it["set"] != "clean":
            continue
        words = align(aligner, it["audio"], it["text"])
        for w, t in zip(words, it["words"]):
            if any(c.isdigit() for c in t["word"]):
                assert w["word"] == t["word"]
                errs += [abs(w["start"] - t["start"]), abs(w["end"] - t["end"])]
    assert len(errs) >= 6
    assert share_within(errs) >= 0.85


@pytest.mark.parametrize("condition", ["rate", "reverb", "babble", "telephone", "mp3"])
def test_hard_conditions_stay_usable(aligner, corpus, condition):
    it = corpus["hard-%s-00" % condition]
    words = align(aligner, it["audio"], it["text"])
    assert_well_formed(words, it["text"], it["duration"])
    assert share_within(errors(words, it["words"])) >= 0.7


@pytest.mark.parametrize("condition", ["mp3", "telephone"])
def test_compressed_uploads_are_converted(aligner, corpus, condition):
    """The MP3 and the 8 kHz mu-law WAV as sent (not the decoded PCM): ffmpeg converts them."""
    it = corpus["hard-%s-00" % condition]
    assert it["upload"] != it["audio"]
    words = align(aligner, it["upload"], it["text"])
    assert_well_formed(words, it["text"], it["duration"] + 0.05)
    assert share_within(errors(words, it["words"])) >= 0.7


# ---------------------------------------------------------------- transcripts that do not match
def test_an_extra_sentence_in_the_text_gets_low_confidence(aligner, corpus):
    it = corpus["clean-clean-00"]
    cut = sentence_cut(it)
    pos = it["words"][cut]["char_end"] + 1
    text = it["text"][:pos] + " " + EXTRA + it["text"][pos:]
    words = align(aligner, it["audio"], text)
    assert_well_formed(words, text, it["duration"])
    n = len(tokenize(EXTRA))
    extra, rest = words[cut + 1:cut + 1 + n], words[:cut + 1] + words[cut + 1 + n:]
    assert [w["word"] for w in extra] == [EXTRA[s:e] for s, e in tokenize(EXTRA)]
    assert statistics.median(w["confidence"] for w in extra) <= 0.1
    assert statistics.median(w["confidence"] for w in rest) >= 0.5
    assert share_within(errors(rest, it["words"])) >= 0.85


def test_a_sentence_missing_from_the_text_leaves_the_rest_in_place(aligner, corpus):
    it = corpus["clean-clean-00"]
    first = it["words"][sentence_cut(it) + 1]
    text = it["text"][first["char_start"]:]
    words = align(aligner, it["audio"], text)
    assert_well_formed(words, text, it["duration"])
    truth = it["words"][sentence_cut(it) + 1:]
    assert share_within(errors(words, truth)) >= 0.8


def test_a_text_the_audio_does_not_hold_is_placed_inside_the_audio(aligner, corpus, tmp_path):
    silence = tmp_path / "silence.wav"
    with wave.open(str(silence), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\0\0" * 16000)
    text = corpus["clean-clean-01"]["text"]
    words = align(aligner, str(silence), text)
    assert_well_formed(words, text, 1.0)
    assert max(w["confidence"] for w in words) <= 0.5


# ---------------------------------------------------------------- long audio, windows
def test_long_audio_is_aligned_window_by_window(aligner, corpus, tmp_path, monkeypatch):
    """Three files back to back, with windows of 12 s: anchors carry over between windows."""
    parts = [corpus["clean-clean-%02d" % i] for i in range(3)]
    path = tmp_path / "long.wav"
    text, truth, offset_s, offset_c = "", [], 0.0, 0
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        for it in parts:
            with wave.open(it["audio"]) as w:
                out.writeframes(w.readframes(w.getnframes()))
            for t in it["words"]:
                truth.append({**t, "start": t["start"] + offset_s, "end": t["end"] + offset_s})
            text += it["text"] + " "
            offset_s += it["duration"]
    monkeypatch.setattr(ps_mod, "WINDOW_S", 12.0)
    monkeypatch.setattr(ps_mod, "KEEP_MARGIN_S", 3.0)
    events = []
    words = align(aligner, str(path), text, events)
    assert_well_formed(words, text, offset_s)
    assert len(events) >= 3 and events[-1]["done"] == events[-1]["total"]
    assert share_within(errors(words, truth)) >= 0.9


# ---------------------------------------------------------------- pronunciations
def test_words_the_dictionary_lacks_get_espeak_phonemes(aligner, corpus, tmp_path):
    assert ipa_to_cmu("vˈɔɪskjuː") == ["V", "OY", "S", "K", "Y", "UW"]
    it = corpus["clean-clean-02"]
    text = it["text"] + " Zorblat voicecue."
    words = align(aligner, it["audio"], text)
    assert_well_formed(words, text, it["duration"])
    assert aligner._phones_of("voicecue") and aligner._phones_of("zorblat")


def test_numbers_and_symbols_have_every_common_reading():
    def said(w):
        return [" ".join(r) for r in readings(w)]

    assert said("1998")[:3] == ["nineteen ninety eight", "one thousand nine hundred ninety eight",
                                "one thousand nine hundred and ninety eight"]
    assert {"two thousand eight", "two thousand and eight"} <= set(said("2008"))
    assert said("$12")[:2] == ["twelve dollars", "twelve"]
    assert "three point five" in said("3.5")
    assert said("7:45") == ["seven forty five"]
    assert "nine oh five" in said("9:05")
    assert "one dollar fifty" in said("$1.50")
    assert said("50%")[0] == "fifty percent"
    assert said("3rd") == ["third"] and said("21st") == ["twenty first"]
    assert said("1,200")[0] == "one thousand two hundred" and "twelve hundred" in said("1,200")
    assert said("U.S") == ["u s"] and said("AT&T") == ["a t and t"]
    assert said("x" * 3) == ["xxx"] and said("\u2014") == ["\u2014"]  # nothing to say: as written


# ---------------------------------------------------------------- bad input
def test_other_languages_and_bad_audio_are_refused(aligner, corpus, tmp_path, monkeypatch):
    import tempfile
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    it = corpus["clean-clean-00"]
    with pytest.raises(RpcError) as e:
        align(aligner, it["audio"], it["text"], language="de")
    assert e.value.code == "INVALID_PARAMS"
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("this is not audio at all\n" * 20)
    with pytest.raises(RpcError) as e:
        align(aligner, str(not_audio), "hello world")
    assert e.value.code == "INVALID_PARAMS"
    empty = tmp_path / "empty.wav"
    with wave.open(str(empty), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
    with pytest.raises(RpcError) as e:
        align(aligner, str(empty), "hello world")
    assert e.value.code == "INVALID_PARAMS"
    assert os.listdir(scratch) == []  # ffmpeg's converted copy is gone


def test_words_stay_in_order_inside_the_audio_whatever_the_decode_says():
    """_emit on decoded times that overlap, run past the audio or are missing."""
    text = "one two three four five six"
    spans = tokenize(text)
    timed = {0: (0.5, 1.2, 0.9), 1: (1.0, 1.1, 0.9), 3: (2.9, 3.5, 0.8), 4: (3.4, 9.0, 0.7), 5: (9.5, 9.9, 0.6)}
    words = PocketsphinxAligner()._emit(text, spans, None, timed, 4.0)
    assert_well_formed(words, text, 4.0)
    by = {w["word"]: w for w in words}
    assert by["one"]["start"] == 0.5 and by["one"]["end"] == 1.2
    assert by["two"]["confidence"] == ps_mod.INTERPOLATED_CONFIDENCE  # squeezed out by "one"
    assert by["three"]["confidence"] == ps_mod.INTERPOLATED_CONFIDENCE
    assert by["four"]["start"] == 2.9 and by["five"]["end"] <= 4.0
    assert by["six"]["start"] < by["six"]["end"] <= 4.0
    many = " ".join(["w"] * 50)
    words = PocketsphinxAligner()._emit(many, tokenize(many), None, {}, 0.06)
    assert len(words) == 50 and all(0 <= w["start"] < w["end"] <= 0.06 for w in words)
