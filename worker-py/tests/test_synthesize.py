"""synthesize through a real sidecar process and real libespeak-ng."""

import os
import random
import wave

import pytest

from conftest import MUST_SHOW, MUST_SHOW_WORDS, Worker

WORD_KEYS = {"word", "start", "end", "char_start", "char_end", "source", "confidence"}


def synth(w, text, name, **params):
    out = os.path.join(str(w.data_dir), name)
    p = {"engine": "espeak", "text": text, "output_path": out}
    p.update(params)
    reply, progress = w.request("synthesize", p, timeout=120)
    return reply, progress, out


def ok(w, text, name, **params):
    reply, progress, out = synth(w, text, name, **params)
    assert "result" in reply, reply
    return reply["result"], progress, out


def check_wav(result, path):
    with wave.open(path, "rb") as f:
        assert f.getnchannels() == 1
        assert f.getsampwidth() == 2
        assert f.getframerate() == result["sample_rate"] == 22050
        assert f.getcomptype() == "NONE"
        assert f.getnframes() == result["samples"] > 0
        assert abs(f.getnframes() / f.getframerate() - result["duration"]) <= 0.0005
    assert os.path.getsize(path) == 44 + 2 * result["samples"]


def check_words(text, result):
    words = result["words"]
    prev_end = 0.0
    for w in words:
        assert set(w) == WORD_KEYS
        assert w["word"] == text[w["char_start"]:w["char_end"]]
        assert w["source"] == "espeak" and w["confidence"] is None
        assert prev_end <= w["start"] < w["end"] <= result["duration"], (w, prev_end)
        assert round(w["start"], 3) == w["start"] and round(w["end"], 3) == w["end"]
        prev_end = w["end"]
    spans = [(w["char_start"], w["char_end"]) for w in words]
    assert spans == sorted(spans)
    for (a, b), (c, d) in zip(spans, spans[1:]):
        assert b <= c
    return [w["word"] for w in words]


@pytest.fixture(scope="module")
def w(shared_worker):
    return shared_worker


def check_progress(res, progress, text, out):
    """One progress event a sentence, in order: char spans and sample spans that tile the text
    and the audio, the temp file named, and words that, put together, are the result's words."""
    total = len(progress)
    assert [p["done"] for p in progress] == list(range(1, total + 1))
    assert all(p["total"] == total for p in progress)
    assert all(set(p) == {"id", "event", "done", "total", "file", "sample_rate", "chars", "samples", "words"} for p in progress)
    assert all(p["file"].startswith(os.path.basename(out) + ".tmp-") for p in progress)
    assert progress[0]["chars"][0] == 0 and progress[0]["samples"][0] == 0
    for a, b in zip(progress, progress[1:]):
        assert a["chars"][1] <= b["chars"][0] and a["samples"][1] == b["samples"][0]
    assert progress[-1]["samples"][1] == res["samples"]
    assert [x for p in progress for x in p["words"]] == res["words"]  # streamed words are the words


def test_must_show_sentence(w):
    res, progress, out = ok(w, MUST_SHOW, "must.wav")
    check_wav(res, out)
    assert check_words(MUST_SHOW, res) == MUST_SHOW_WORDS
    assert res["engine"] == "espeak" and res["voice"] == "en-us"
    assert set(res) == {"engine", "voice", "sample_rate", "samples", "duration", "words", "timings_ms"}
    assert set(res["timings_ms"]) == {"synthesize", "write"}
    w2025 = res["words"][7]
    assert (w2025["word"], w2025["char_start"], w2025["char_end"]) == ("2025", 40, 44)
    assert w2025["end"] - w2025["start"] > 0.5  # "two thousand twenty five" is one word
    assert res["words"][0]["start"] < 0.1
    check_progress(res, progress, MUST_SHOW, out)
    assert [p["chars"] for p in progress] == [[0, 31], [31, len(MUST_SHOW)]]  # sentence by sentence
    assert not [f for f in os.listdir(str(w.data_dir)) if ".tmp-" in f]


def test_untrimmed_text_offsets(w):
    text = "  \n Hello there, friend.  \n"
    res, _, _ = ok(w, text, "untrimmed.wav")
    assert check_words(text, res) == ["Hello", "there", "friend"]
    assert res["words"][0]["char_start"] == 4


@pytest.mark.parametrize("text,voice,expected", [
    ("I like 😀 emoji and 👍🏽 too.", "en-us", ["I", "like", "😀", "emoji", "and", "👍🏽", "too"]),
    ("A naïve café, déjà vu!", "en-us", ["A", "naïve", "café", "déjà", "vu"]),
    ("nai\u0308ve cafe\u0301", "en-us", ["nai\u0308ve", "cafe\u0301"]),
    ("我们是中国人。你好世界", "zh", list("我们是中国人你好世界")),
    ("我们是中国人。你好世界", "cmn", list("我们是中国人你好世界")),
    ("שלום עולם, מה שלומך?", "he", ["שלום", "עולם", "מה", "שלומך"]),
    ("مرحبا بالعالم، كيف حالك؟", "ar", ["مرحبا", "بالعالم", "كيف", "حالك"]),
    ("Привет, мир! Как дела?", "ru", ["Привет", "мир", "Как", "дела"]),
])
def test_unicode_spans(w, text, voice, expected):
    res, _, out = ok(w, text, "uni.wav", voice=voice)
    check_wav(res, out)
    assert check_words(text, res) == expected


def test_language_param_and_voice_precedence(w):
    res, _, _ = ok(w, "Guten Tag", "lang.wav", language="de")
    assert res["voice"] == "de"
    res, _, _ = ok(w, "Good day", "lang2.wav", language="de", voice="en-gb+f3")
    assert res["voice"] == "en-gb+f3"


def test_long_text_is_chunked_with_progress_and_monotonic_times(w):
    rnd = random.Random(7)
    vocab = ("the quick brown fox jumps over a lazy dog near 42 rivers while people "
             "don't think speech is simple in 2025").split()
    words = []
    for i in range(1200):
        words.append(rnd.choice(vocab) + ("." if i % 11 == 10 else ""))
    text = " ".join(words)
    res, progress, out = ok(w, text, "long.wav")
    check_wav(res, out)
    got = check_words(text, res)
    assert len(got) == 1200
    assert len(progress) >= 2
    total = progress[0]["total"]
    assert [p["done"] for p in progress] == list(range(1, total + 1))
    check_progress(res, progress, text, out)

    assert res["words"][-1]["end"] > res["duration"] - 1.0


def test_speed_changes_duration(w):
    text = "The quick brown fox jumps over the lazy dog."
    fast, _, _ = ok(w, text, "fast.wav", speed=2.0)
    slow, _, _ = ok(w, text, "slow.wav", speed=0.5)
    normal, _, _ = ok(w, text, "normal.wav", speed=1)
    assert fast["duration"] < normal["duration"] < slow["duration"]
    assert slow["duration"] > 2.5 * fast["duration"]
    for r in (fast, slow):
        assert check_words(text, r)[0] == "The"


def test_word_timings_false(w):
    res, _, out = ok(w, MUST_SHOW, "nowords.wav", word_timings=False)
    assert res["words"] == []
    check_wav(res, out)


def test_only_punctuation_is_no_speech_and_leaves_no_file(w):
    for text in ("...", "!?", " — , ; "):
        reply, _, out = synth(w, text, "punct.wav")
        assert reply["error"]["code"] == "NO_SPEECH", reply
        assert not os.path.exists(out)
    assert not [f for f in os.listdir(str(w.data_dir)) if ".tmp-" in f]


def test_output_outside_data_dir_is_refused(w, tmp_path):
    outside = tmp_path / "outside.wav"
    reply, _ = w.request("synthesize", {"text": "hello", "output_path": str(outside)})
    assert reply["error"]["code"] == "INVALID_PARAMS"
    assert "output_path" in reply["error"]["message"]
    assert not outside.exists()
    # a symlink inside the data dir pointing outside does not help
    link = os.path.join(str(w.data_dir), "link")
    os.symlink(str(tmp_path), link)
    reply, _ = w.request("synthesize", {"text": "hello", "output_path": os.path.join(link, "x.wav")})
    assert reply["error"]["code"] == "INVALID_PARAMS"
    assert not (tmp_path / "x.wav").exists()


def test_overwrite_is_atomic_and_existing_file_replaced(w):
    res1, _, out = ok(w, "first version of the file", "same.wav")
    res2, _, out2 = ok(w, "second", "same.wav")
    assert out == out2
    check_wav(res2, out)


def test_failure_during_write_leaves_no_temp_file(tmp_path):
    """A sink that fails mid-synthesis: ENGINE error reply, no partial or temp file."""
    import sys
    import textwrap

    script = textwrap.dedent("""
        import voicecue_worker.wav as wav
        import voicecue_worker.server as s
        orig = wav.WavWriter.write
        def write(self, pcm):
            if self.path.endswith("x.wav") and self.data_bytes > 20000:
                raise OSError(28, "No space left on device")
            orig(self, pcm)
        wav.WavWriter.write = write
        raise SystemExit(s.main())
    """)
    d = tmp_path / "data"
    d.mkdir()
    wk = Worker(args=[sys.executable, "-c", script], env={"VOICECUE_DATA_DIR": str(d)})
    try:
        wk.ready()
        reply, _ = wk.request("synthesize", {"text": MUST_SHOW, "output_path": str(d / "x.wav")})
        assert reply["error"]["code"] == "INTERNAL"
        assert "No space left" in reply["error"]["message"]
        assert os.listdir(str(d)) == []
        assert wk.call("ping")["pong"]
        # and the engine still works afterwards (the callback aborted cleanly)
        reply, _ = wk.request("synthesize", {"text": "hi", "output_path": str(d / "y.wav")})
        assert "result" in reply, reply
        assert os.listdir(str(d)) == ["y.wav"]
    finally:
        wk.close()


def test_no_data_dir_allows_any_absolute_path(tmp_path):
    wk = Worker()  # VOICECUE_DATA_DIR unset
    try:
        wk.ready()
        out = tmp_path / "free.wav"
        reply, _ = wk.request("synthesize", {"text": "hello", "output_path": str(out)})
        assert "result" in reply, reply
        assert out.exists()
    finally:
        wk.close()


@pytest.mark.parametrize("text", ["a." * 85, "A." * 100, "\u00e4." * 60, "x.y.z." * 60])
def test_letter_dot_runs_that_crash_libespeak_are_spoken(w, text):
    # libespeak-ng 1.51 aborts with "stack smashing detected" on these, taking the worker down
    result, _, out = ok(w, text, "dots.wav")
    check_wav(result, out)
    assert [w["word"] for w in result["words"]] == [text.rstrip(".")]
    assert w.call("ping")["pong"] is True
