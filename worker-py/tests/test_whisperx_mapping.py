"""How whisperx's words are mapped back onto our words (no whisperx needed: its output shapes, as
whisperx 3.8.6 returns them, are written out here)."""
from voicecue_worker.aligners.whisperx import (base_language, check_lengths, parse_models, place_words, plan_segments,
                                               whitespace_to_spaces, words_from_tokens)
from voicecue_worker.text import tokenize

import pytest


def run(text, aligned_by_segment, pieces, duration):
    tokens = []
    for (cs, ce, _, _), aligned in zip(pieces, aligned_by_segment):
        tokens += place_words(whitespace_to_spaces(text[cs:ce]), cs, aligned)
    return words_from_tokens(text, tokenize(text), tokens, pieces, duration)


def ordered_inside(words, duration):
    prev = 0.0
    for w in words:
        assert prev <= w["start"] < w["end"] <= duration, words
        prev = w["end"]


def test_words_map_by_position_even_when_sentences_come_back_reordered_and_merged():
    text = "Yes. It cost $4.50, up 12%. Yes."
    # sentences sorted by time, the two "Yes." merged into one segment; punctuation stays on whisperx's words
    aligned = [
        {"text": "Yes. Yes.", "words": [{"word": "Yes.", "start": 0.1, "end": 0.3, "score": 0.9},
                                        {"word": "Yes.", "start": 2.5, "end": 2.8, "score": 0.8}]},
        {"text": "It cost $4.50, up 12%.", "words": [
            {"word": "It", "start": 0.5, "end": 0.6, "score": 0.7}, {"word": "cost", "start": 0.7, "end": 1.0, "score": 0.7},
            {"word": "$4.50,", "start": 1.1, "end": 1.8, "score": 0.6}, {"word": "up", "start": 1.9, "end": 2.0, "score": 0.5},
            {"word": "12%.", "start": 2.0, "end": 2.4, "score": 0.4}]},
    ]
    words = run(text, [aligned], [(0, len(text), 0.0, 3.0)], 3.0)
    assert [w["word"] for w in words] == ["Yes", "It", "cost", "$4.50", "up", "12%", "Yes"]
    assert [(w["start"], w["end"]) for w in words][:3] == [(0.1, 0.3), (0.5, 0.6), (0.7, 1.0)]
    assert words[-1]["start"] == 2.5 and words[-1]["confidence"] == 0.8
    assert all(w["source"] == "whisperx" for w in words)
    ordered_inside(words, 3.0)


def test_untimed_words_are_interpolated_between_their_neighbours():
    text = "one 2025 three"
    aligned = [{"words": [{"word": "one", "start": 0.0, "end": 0.5, "score": 0.9}, {"word": "2025"},
                          {"word": "three", "start": 1.5, "end": 2.0, "score": 0.9}]}]
    words = run(text, [aligned], [(0, len(text), 0.0, 2.0)], 2.0)
    assert words[1]["source"] == "interpolated" and words[1]["confidence"] is None
    assert (words[1]["start"], words[1]["end"]) == (0.5, 1.5)
    ordered_inside(words, 2.0)


def test_adjacent_neighbours_give_up_half_their_time():
    text = "a b c"
    aligned = [{"words": [{"word": "a", "start": 0.0, "end": 1.0}, {"word": "c", "start": 1.0, "end": 2.0}]}]
    words = run(text, [aligned], [(0, 5, 0.0, 2.0)], 2.0)
    assert [(w["start"], w["end"]) for w in words] == [(0.0, 0.5), (0.5, 1.5), (1.5, 2.0)]


def test_a_failed_segment_is_interpolated_inside_its_own_chunk():
    text = "Hello there. General Kenobi!"
    cut = text.index("General")
    pieces = [(0, cut, 0.0, 1.0), (cut, len(text), 1.0, 2.0)]
    aligned = [[{"words": [{"word": "Hello", "start": 0.1, "end": 0.3}, {"word": "there.", "start": 0.3, "end": 0.4}]}],
               [{"words": []}]]  # whisperx: "Failed to align segment"
    words = run(text, aligned, pieces, 2.0)
    assert [(w["word"], w["source"]) for w in words[2:]] == [("General", "interpolated"), ("Kenobi", "interpolated")]
    assert words[2]["start"] == 1.0 and words[3]["end"] == 2.0
    ordered_inside(words, 2.0)


def test_one_whisperx_word_holding_two_of_ours_is_shared_by_length():
    text = "rock\u2014roll now"  # an em dash joins them for whisperx (no space), not for us
    aligned = [{"words": [{"word": "rock\u2014roll", "start": 0.0, "end": 0.8, "score": 0.5},
                          {"word": "now", "start": 1.0, "end": 1.2}]}]
    words = run(text, [aligned], [(0, len(text), 0.0, 1.5)], 1.5)
    assert [w["word"] for w in words] == ["rock", "roll", "now"]
    assert (words[0]["start"], words[1]["end"]) == (0.0, 0.8) and words[0]["end"] == words[1]["start"] == 0.4


def test_newlines_and_other_blanks_become_spaces_without_moving_offsets():
    text = "a\nb\u00a0c\td"
    assert whitespace_to_spaces(text) == "a b c d" and len(whitespace_to_spaces(text)) == len(text)


def test_segments_are_checked_and_clamped_to_the_audio():
    text = "abc def"
    assert plan_segments(text, None, 2.0) == [(0, 7, 0.0, 2.0)]
    assert plan_segments(text, [{"char_start": 4, "char_end": 7, "start": 1, "end": 9},
                                {"char_start": 0, "char_end": 4, "start": 0, "end": 1}], 2.0) == [(0, 4, 0.0, 1.0), (4, 7, 1.0, 2.0)]
    with pytest.raises(Exception, match="outside the text"):
        plan_segments(text, [{"char_start": 0, "char_end": 99, "start": 0, "end": 1}], 2.0)
    with pytest.raises(Exception, match="overlap"):
        plan_segments(text, [{"char_start": 0, "char_end": 5, "start": 0, "end": 1},
                             {"char_start": 4, "char_end": 7, "start": 1, "end": 2}], 2.0)


def test_languages_and_model_overrides():
    assert [base_language(x) for x in ("en-US", "pt_BR", "en-us+f3", None, "DE")] == ["en", "pt", "en", "en", "de"]
    assert parse_models('{"en-GB": "/models/en"}') == {"en": "/models/en"}
    assert parse_models("") == {}
    for bad in ("[1]", '{"en": 3}', "{nope"):
        with pytest.raises(ValueError, match="VOICECUE_ALIGN_MODELS"):
            parse_models(bad)


def test_a_segment_too_long_for_one_pass_is_refused():
    check_lengths([(0, 10, 0.0, 90.0)])
    with pytest.raises(Exception, match="at most 90 s in one segment"):
        check_lengths([(0, 10, 0.0, 30.0), (10, 20, 30.0, 130.0)])
