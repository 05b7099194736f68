"""The native aligner on hand-made espeak event streams."""

from voicecue_worker.aligners.native import EV_END, EV_PHONEME, EV_WORD, WordTimer
from voicecue_worker.text import tokenize

SR = 1000  # one sample per millisecond keeps the numbers readable


def W(tp, s):
    return (EV_WORD, tp, s, False)


def PH(s, pause=False):
    return (EV_PHONEME, 0, s, pause)


def timed(text, events, total):
    t = WordTimer(text, tokenize(text))
    t.feed(events, 0, 0, total)
    return [(w["word"], w["start"], w["end"]) for w in t.words(total, SR)]


def test_end_is_last_phoneme_before_pause_or_next_word():
    text = "Hello world, again"
    ev = [W(1, 0), PH(10), PH(50), W(7, 100), PH(110), PH(180), PH(200, True), (EV_END, 12, 300, False),
          W(14, 300), PH(310), PH(400, True)]
    assert timed(text, ev, 500) == [("Hello", 0.0, 0.1), ("world", 0.1, 0.2), ("again", 0.3, 0.4)]


def test_number_parts_merge_into_the_source_token():
    text = "year 2025 had"
    ev = [W(1, 0), PH(5), W(6, 100), PH(105), W(7, 200), PH(205), W(7, 300), PH(305), W(11, 400), PH(405)]
    assert timed(text, ev, 500) == [("year", 0.0, 0.1), ("2025", 0.1, 0.4), ("had", 0.4, 0.5)]


def test_words_without_events_share_the_neighbours_time():
    text = "U.S. go now"  # tokens: "U.S", "go", "now"; pretend "go" got no event
    ev = [W(1, 0), PH(5), W(9, 300), PH(305)]
    out = timed(text, ev, 400)
    assert [w for w, _, _ in out] == ["U.S", "go", "now"]
    assert out[0][1] == 0.0 and out[0][2] <= out[1][1] < out[1][2] <= out[2][1]


def test_quote_before_word_and_position_zero_events():
    text = "say “curly” now"
    ev = [W(1, 0), PH(5), W(5, 100), PH(105), W(0, 150), W(13, 200), PH(205)]
    assert timed(text, ev, 300) == [("say", 0.0, 0.1), ("curly", 0.1, 0.2), ("now", 0.2, 0.3)]


def test_chunks_shift_by_sample_offset():
    text = "one. two."
    t = WordTimer(text, tokenize(text))
    t.feed([W(1, 0), PH(10), PH(80, True)], 0, 0, 100)
    t.feed([W(2, 0), PH(10), PH(80, True)], 4, 100, 100)  # chunk " two." starts at 4
    words = t.words(200, SR)
    assert [(w["word"], w["start"], w["end"]) for w in words] == [("one", 0.0, 0.08), ("two", 0.1, 0.18)]
    assert words[1]["char_start"] == 5 and words[1]["char_end"] == 8


def test_invariants_hold_for_crowded_events():
    text = "a b c d e"
    ev = [W(1, 5), W(3, 5), W(5, 5), W(7, 5), W(9, 5), PH(6)]
    out = timed(text, ev, 20)
    for (_, s, e), nxt in zip(out, out[1:] + [(None, 0.02, None)]):
        assert s < e <= nxt[1]


def test_no_speech_gives_no_words():
    text = "hello"
    assert timed(text, [PH(0, True)], 100) == []
