"""The dtw aligner on real speech from another synthesizer: a Festival recording whose word
times are exact (test/fixtures/align/festival.json, made by bench/festival_words.py)."""

import json
import os
import shutil
import subprocess
import wave

import numpy as np
import pytest

from voicecue_worker.aligners import dtw as D
from voicecue_worker.errors import CANCELLED, INVALID_PARAMS, RpcError
from voicecue_worker.plugins import Job, default_registry
from voicecue_worker.text import tokenize

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "align")
WAV = os.path.join(FIXTURES, "festival.wav")
TRUTH = json.load(open(os.path.join(FIXTURES, "festival.json"), encoding="utf-8"))
TEXT = TRUTH["text"]


@pytest.fixture(scope="module")
def aligner():
    reg = default_registry("cpu")
    espeak = reg.engines["espeak"]
    espeak.load()
    a = reg.aligners["dtw"]
    a.load()
    assert a.available, a.reason
    return a


def job():
    return Job(1, lambda msg: None)


def align(aligner, text=TEXT, path=WAV):
    return aligner.align(path, text, tokenize(text), "en-us", None, job())


def errors_ms(words, truth):
    return np.array([[abs(w["start"] - t["start"]), abs(w["end"] - t["end"])] for w, t in zip(words, truth)]).ravel() * 1000


def assert_well_formed(words, text, duration):
    spans = tokenize(text)
    assert [(w["char_start"], w["char_end"]) for w in words] == spans, "every word, in order"
    assert [w["word"] for w in words] == [text[a:b] for a, b in spans]
    for a, b in zip(words, words[1:]):
        assert a["end"] <= b["start"] + 1e-9 and a["start"] < b["start"]
    for w in words:
        assert 0 <= w["start"] < w["end"] <= duration + 1e-9
        assert 0.0 <= w["confidence"] <= 1.0 and w["source"] == "dtw"


def test_times_festival_speech_within_tolerance(aligner):
    words = align(aligner)
    assert_well_formed(words, TEXT, TRUTH["duration"])
    err = errors_ms(words, TRUTH["words"])
    assert np.mean(err < 50) >= 0.9, err
    assert np.median(err) <= 25, err
    sure = np.mean([w["confidence"] >= D.UNSURE for w in words])
    assert sure >= 0.9, "a matching transcript is timed with confidence"


def test_a_number_read_as_several_words_ends_where_its_last_word_ends(aligner):
    words = align(aligner)
    k = [w["word"] for w in words].index("1987")  # Festival: "nineteen eighty seven", then a pause
    truth = TRUTH["words"][k]
    assert abs(words[k]["start"] - truth["start"]) < 0.05
    assert abs(words[k]["end"] - truth["end"]) < 0.05, (words[k], truth)


def test_numbers_and_symbols_are_spoken_for_the_reference_as_people_say_them():
    # espeak-ng alone reads "$250" as "dollar two hundred fifty": the reference would not match
    text = "It cost $250 in 1969, and 12 more."
    spans = tokenize(text)
    ref, ref_spans, groups = D.spoken_reference(text, spans)
    assert ref == "It cost two hundred fifty dollars in nineteen sixty nine, and twelve more."
    assert [ref[a:b] for a, b in ref_spans][2:6] == ["two", "hundred", "fifty", "dollars"]
    assert groups[2] == (2, 5) and groups[4] == (7, 9) and groups[0] == (0, 0)
    spoken = [{"word": ref[a:b], "start": k * 0.1, "end": k * 0.1 + 0.08, "char_start": a, "char_end": b,
               "source": "dtw", "confidence": 0.9 - 0.01 * k} for k, (a, b) in enumerate(ref_spans)]
    words = D.regroup(spoken, groups, text, spans)
    assert [w["word"] for w in words] == ["It", "cost", "$250", "in", "1969", "and", "12", "more"]
    assert (words[2]["start"], words[2]["end"]) == (spoken[2]["start"], spoken[5]["end"]), "from its first spoken word to its last"
    assert words[2]["confidence"] == spoken[5]["confidence"], "as sure as its least sure part"
    assert [(w["char_start"], w["char_end"]) for w in words] == spans


def test_an_extra_sentence_in_the_text_gets_low_confidence_inside_the_audio(aligner):
    extra = " Nobody on the shore seemed to notice the little boat at all."
    text = TEXT + extra
    words = align(aligner, text)
    assert_well_formed(words, text, TRUTH["duration"])
    n = len(TRUTH["words"])
    assert max(w["confidence"] for w in words[n + 2:]) < D.UNSURE, "the words the audio lacks are unsure"
    err = errors_ms(words[: n - 1], TRUTH["words"][: n - 1])
    assert np.mean(err < 100) >= 0.8, "the words that are there are still placed"


def test_a_missing_sentence_keeps_the_rest_timed(aligner):
    cut = TEXT.index("She studied")
    end = TEXT.index("The river")
    text = TEXT[:cut] + TEXT[end:]
    words = align(aligner, text)
    assert_well_formed(words, text, TRUTH["duration"])
    truth = [t for t in TRUTH["words"] if not (4.0 < t["start"] < 5.8)]
    assert len(truth) == len(words)
    err = errors_ms(words, truth)
    assert np.mean(err < 100) >= 0.7, err


def test_long_audio_goes_window_by_window_from_anchors(aligner, monkeypatch, tmp_path):
    # The fixture four times over, with windows small enough that the coarse pass needs several.
    with wave.open(WAV) as w:
        sr, pcm = w.getframerate(), w.readframes(w.getnframes())
    path = str(tmp_path / "long.wav")
    with wave.open(path, "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(sr)
        w.writeframes(pcm * 4)
    calls = []
    real = D.windowed_path
    monkeypatch.setattr(D, "FULL_CELLS", 2000)
    monkeypatch.setattr(D, "WINDOW_REF", 20)
    monkeypatch.setattr(D, "windowed_path", lambda *a: calls.append(1) or real(*a))
    text = " ".join([TEXT] * 4)
    words = align(aligner, text, path)
    assert calls, "the windowed pass ran"
    d = TRUTH["duration"]
    truth = [dict(t, start=t["start"] + r * d, end=t["end"] + r * d) for r in range(4) for t in TRUTH["words"]]
    assert_well_formed(words, text, 4 * d)
    assert np.mean(errors_ms(words, truth) < 50) >= 0.85


def test_a_slower_recording_gets_a_reference_at_its_pace(aligner, tmp_path, monkeypatch):
    if not shutil.which("ffmpeg"):
        pytest.skip("ffmpeg is needed to slow the recording down")
    slow, tempo = str(tmp_path / "slow.wav"), 0.75
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", WAV, "-filter:a", "atempo=%s" % tempo, slow], check=True)
    speeds = []
    real = aligner.espeak.speak
    monkeypatch.setattr(aligner.espeak, "speak", lambda *a, **k: speeds.append(a[3]) or real(*a, **k))
    words = align(aligner, TEXT, slow)
    assert len(speeds) == 2 and speeds[0] == 1.0 and 0.6 < speeds[1] < 0.9, speeds
    truth = [dict(t, start=t["start"] / tempo, end=t["end"] / tempo) for t in TRUTH["words"]]
    assert_well_formed(words, TEXT, TRUTH["duration"] / tempo)
    assert np.mean(errors_ms(words, truth) < 50) >= 0.85
    speeds.clear()
    align(aligner)
    assert speeds == [1.0], "a recording at espeak's pace is spoken once"


def test_silence_and_noise_never_crash_and_stay_inside_the_audio(aligner, tmp_path):
    for name, data in [("silence", np.zeros(16000, np.int16)),
                       ("noise", (np.random.default_rng(1).standard_normal(8000) * 3000).astype(np.int16)),
                       ("tiny", np.zeros(500, np.int16))]:
        path = str(tmp_path / (name + ".wav"))
        with wave.open(path, "wb") as w:
            w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
            w.writeframes(data.tobytes())
        words = align(aligner, TEXT, path)
        assert_well_formed(words, TEXT, len(data) / 16000)


def test_stereo_and_other_rates_are_read(aligner, tmp_path):
    if not shutil.which("ffmpeg"):
        pytest.skip("ffmpeg missing")
    import subprocess
    path = str(tmp_path / "stereo.wav")
    subprocess.run(["ffmpeg", "-v", "error", "-i", WAV, "-ac", "2", "-ar", "44100", path], check=True)
    words = align(aligner, TEXT, path)
    assert np.mean(errors_ms(words, TRUTH["words"]) < 50) >= 0.85


def test_not_a_wav_is_invalid_params(aligner, tmp_path):
    path = tmp_path / "x.wav"
    path.write_bytes(b"not audio at all")
    with pytest.raises(RpcError) as e:
        align(aligner, TEXT, str(path))
    assert e.value.code == INVALID_PARAMS


def test_a_cancelled_job_stops(aligner):
    j = job()
    j.cancelled.set()
    with pytest.raises(RpcError) as e:
        aligner.align(WAV, TEXT, tokenize(TEXT), "en-us", None, j)
    assert e.value.code == CANCELLED


def test_banded_dtw_recovers_a_known_warp():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 5)).astype(np.float32)
    # Y: X with frames 50..59 held three times as long and frames 120..129 dropped
    idx = np.concatenate([np.arange(50), np.repeat(np.arange(50, 60), 3), np.arange(60, 120), np.arange(130, 200)])
    Y = X[idx]
    pi, pj = D.banded_dtw(X, Y, np.zeros(200, np.int64), np.full(200, len(Y), np.int64))
    assert pi[0] == 0 and pj[0] == 0 and pi[-1] == 199 and pj[-1] == len(Y) - 1
    assert np.all(np.diff(pi) >= 0) and np.all(np.diff(pj) >= 0) and np.all(np.diff(pi) + np.diff(pj) >= 1)
    matched = {int(j): int(i) for i, j in zip(pi, pj)}
    assert all(matched[j] == idx[j] for j in range(len(Y)) if not 118 <= idx[j] <= 131)


def test_registered_in_the_cpu_lane_only():
    assert "dtw" in default_registry("cpu").aligners
    assert "dtw" not in default_registry("gpu").aligners


def test_unavailable_without_numpy(monkeypatch):
    reg = default_registry("cpu")
    reg.engines["espeak"].load()
    monkeypatch.setattr(D, "np", None)
    a = reg.aligners["dtw"]
    a.load()
    assert not a.available and "numpy" in a.reason
    assert a.info()["available"] is False
