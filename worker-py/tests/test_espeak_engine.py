"""Empirical behaviour of libespeak-ng that the engine relies on, and the engine itself."""

import ctypes

import pytest

from voicecue_worker.aligners.native import EV_WORD
from voicecue_worker.errors import RpcError
from voicecue_worker.engines import espeak as E
from voicecue_worker.text import tokenize

from conftest import MUST_SHOW, MUST_SHOW_WORDS


def raw_events(engine, text, voice="en-us"):
    """Synthesize and return (samples, [(type, text_position, sample, is_pause)])."""
    engine._select(engine.resolve_voice(voice), 175)
    engine._sink = lambda b: None
    engine._samples = 0
    engine._events = []
    data = text.encode("utf-8") + b"\0"
    rc = engine.lib.espeak_Synth(data, len(data), 0, E.POS_CHARACTER, 0,
                                 E.espeakCHARS_UTF8 | E.espeakENDPAUSE, None, None)
    assert rc == 0
    return engine._samples, list(engine._events)


def word_positions(engine, text, voice="en-us"):
    _, ev = raw_events(engine, text, voice)
    return [tp for t, tp, _, _ in ev if t == EV_WORD and tp > 0]


def test_event_struct_layout_matches_speak_lib_h():
    assert E.EV_SIZE == (40 if ctypes.sizeof(ctypes.c_void_p) == 8 else 36)
    assert E._EV_FMT.size == E.EV_SIZE


def test_sample_rate_and_version(engine):
    assert engine.sample_rate == 22050
    assert engine.version.startswith("1.")


def test_text_position_is_one_based_code_points(engine):
    # code points before "end": n a ï v e ␠ c a f é ␠ 😀 ␠ = 13 (bytes: 17)
    text = "naïve café 😀 end"
    pos = word_positions(engine, text)
    assert pos[0] == 1
    assert text.index("café") + 1 in pos
    assert text.index("end") + 1 in pos
    # CJK (3 bytes each in UTF-8) count one each
    pos = word_positions(engine, "我们是中国人", "cmn")
    assert pos[:6] == [1, 2, 3, 4, 5, 6]
    # combining marks count as code points of their own
    text = "nai\u0308ve cafe\u0301 ok"
    assert text.index("cafe") + 1 in word_positions(engine, text)


def test_numbers_raise_several_word_events_inside_the_number(engine):
    text = "The year 2025 had"
    pos = word_positions(engine, text)
    at = text.index("2025") + 1
    inside = [p for p in pos if at <= p < at + 4]
    assert len(inside) >= 3  # two thousand twenty five
    assert inside[0] == at


def test_event_sample_is_exact_and_ends_at_the_audio_end(engine):
    n, ev = raw_events(engine, "Hello there.")
    samples = [s for _, _, s, _ in ev]
    assert samples == sorted(samples)
    assert max(samples) == n


def test_resolve_voice(engine):
    r = engine.resolve_voice
    assert r("en-us").canonical == "en-us"
    assert r("EN_us").canonical == "en-us"
    assert r("en-US+f3").canonical == "en-us+f3"
    assert r("zh").canonical == "cmn"
    assert r("cmn").canonical == "cmn"
    assert r("en").canonical == "en-gb"  # espeak's own preference for plain "en"
    assert r("English (America)").canonical == "en-us"
    assert r("gmw/en-US").canonical == "en-us"
    assert r("fr").canonical == "fr-fr"
    for bad in ("xx", "en-us+nope", "+f3"):
        with pytest.raises(RpcError) as ei:
            r(bad)
        assert ei.value.code == "UNKNOWN_VOICE" and bad in ei.value.message


def synth(engine, text, voice="en-us", speed=1.0):
    buf = bytearray()
    n, words, chunks = engine.speak(text, tokenize(text), engine.resolve_voice(voice),
                                         speed, buf.extend, None)
    assert len(buf) == 2 * n
    return n, words, chunks


def test_words_of_must_show_sentence(engine):
    n, words, _ = synth(engine, MUST_SHOW)
    assert [w["word"] for w in words] == MUST_SHOW_WORDS


def test_voice_switching_back_and_forth(engine):
    a = synth(engine, "Guten Tag", "de")[1]
    b = synth(engine, "Good day", "en-us+f3")[1]
    c = synth(engine, "Good day", "en-us")[1]
    assert [w["word"] for w in a] == ["Guten", "Tag"]
    assert [w["word"] for w in b] == [w["word"] for w in c] == ["Good", "day"]


def test_unbroken_run_longer_than_a_chunk_is_spoken_whole(engine):
    text = "a" * (E.CHUNK_CHARS * 2 + 500)
    n, words, chunks = synth(engine, text)
    assert chunks == 3
    assert len(words) == 1 and words[0]["char_end"] == len(text)
    short_n, _, _ = synth(engine, "a" * 500)
    assert n > 3 * short_n


def test_no_speech_gives_no_words(engine):
    # the Hebrew voice says nothing for "$5": a short pause only
    n, words, _ = synth(engine, "$5 ", "he")
    assert words == [] and n < 22050 // 2  # ~0.3 s of end pause


def _min_word_seconds(words):
    return min(w["end"] - w["start"] for w in words)


@pytest.mark.parametrize("text,voice,at_least", [
    (" ".join(str(1900 + i) for i in range(80)), "en-us", 0.5),  # once spoken only up to ~1950
    ("1234567 " * 30, "en-us", 2.0),  # once stopped after 19 numbers
    ("我们今天去公园散步天气很好" * 40, "cmn", 0.1),  # CJK with no punctuation
])
def test_long_dense_clauses_are_spoken_to_the_end(engine, text, voice, at_least):
    # espeak drops the rest of a clause whose phonemes overflow its buffer; before the fix the
    # dropped words got slivers of time at the end and the subtitles showed words never said
    n, words, _ = synth(engine, text, voice)
    assert len(words) == len(tokenize(text))
    assert _min_word_seconds(words) >= at_least


def test_a_dropped_clause_end_is_spoken_again(engine, monkeypatch):
    # with the cutting of dense runs switched off, the retry of the untimed tail still recovers
    from voicecue_worker import text as T
    monkeypatch.setattr(T, "DENSE_RUN", 10**9)
    text = " ".join(str(1900 + i) for i in range(80))
    n, words, _ = synth(engine, text)
    assert _min_word_seconds(words) >= 0.5
    assert words[-1]["word"] == "1979"


def speak_pcm(engine, text, voice="en-us", speed=1.0, **kw):
    buf = bytearray()
    n, words, _ = engine.speak(text, tokenize(text), engine.resolve_voice(voice), speed, buf.extend, **kw)
    assert len(buf) == 2 * n
    return bytes(buf), [(w["start"], w["end"]) for w in words]


def test_equal_requests_give_byte_identical_audio(engine):
    # libespeak-ng carries state from one synthesis to the next (the flutter phase, pauses
    # lengthened after a number): in-process the same sentence gave 116380 samples the first
    # time and 117459..117474 after. Each request now runs in a child forked from the loaded,
    # never-synthesizing engine (test_espeak_cli checks the worker's audio equals the CLI's).
    # Children inherit the parent's state, so even a dirtied parent gives equal audio:
    raw_events(engine, "The year 2025 had 12 months.")
    first = speak_pcm(engine, MUST_SHOW)
    assert speak_pcm(engine, MUST_SHOW) == first
    speak_pcm(engine, "Guten Tag, 1999 war ein Jahr.", "de", 1.7)
    speak_pcm(engine, "Other text, 2025 and 1234567.", "en-us", 0.6)
    assert speak_pcm(engine, MUST_SHOW) == first
    assert speak_pcm(engine, MUST_SHOW, "en-us+f3") == speak_pcm(engine, MUST_SHOW, "en-us+f3")
    assert speak_pcm(engine, MUST_SHOW, speed=1.5) == speak_pcm(engine, MUST_SHOW, speed=1.5)


def test_in_process_synthesis_is_not_repeatable(engine):
    # the reason for the fork (pins the libespeak-ng behaviour; if this starts failing, a newer
    # libespeak-ng resets its state and the fork could go)
    a = speak_pcm(engine, MUST_SHOW, isolate=False)
    b = speak_pcm(engine, MUST_SHOW, isolate=False)
    c = speak_pcm(engine, MUST_SHOW, isolate=False)
    assert not (a[0] == b[0] == c[0])


def test_cancel_kills_the_synthesis_process(engine):
    text = "word " * 3000
    calls = []

    def stop():
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(RpcError) as ei:
        engine.speak(text, tokenize(text), engine.resolve_voice("en-us"), 1.0, lambda b: None, None, stop)
    assert ei.value.code == "CANCELLED"


def test_a_crash_of_the_synthesis_process_is_engine_failed(engine, monkeypatch):
    import os
    import signal
    monkeypatch.setattr(E.EspeakEngine, "_speak_all", lambda self, *a: os.kill(os.getpid(), signal.SIGSEGV))
    with pytest.raises(RpcError) as ei:
        speak_pcm(engine, "Hello")
    assert ei.value.code == "ENGINE_FAILED" and "signal 11" in ei.value.message
    monkeypatch.undo()
    assert speak_pcm(engine, "Hello")[1]  # the engine goes on
