"""Words and chunks of a text, by code-point span."""

from voicecue_worker.text import split_chunks, tokenize

from conftest import MUST_SHOW, MUST_SHOW_WORDS


def words(text):
    return [text[s:e] for s, e in tokenize(text)]


def test_must_show_sentence():
    assert words(MUST_SHOW) == MUST_SHOW_WORDS


def test_inner_apostrophes_hyphens_and_number_punctuation_are_kept():
    assert words("don't e-mail it’s well-known") == ["don't", "e-mail", "it’s", "well-known"]
    assert words("3.5 1,000 12th 10:30 1/2 -5 pages 3-5") == [
        "3.5", "1,000", "12th", "10:30", "1/2", "-5", "pages", "3-5"]


def test_edge_punctuation_is_stripped():
    assert words('"Hello," she said. (Yes!) \'quoted\' “curly” world... end—start') == [
        "Hello", "she", "said", "Yes", "quoted", "curly", "world", "end", "start"]


def test_symbols_glue_and_emoji_are_words():
    assert words("$5 50% AT&T #1 @home C++") == ["$5", "50%", "AT&T", "#1", "@home", "C++"]
    assert words("I 👍🏽 the 🇩🇪 flag 👨‍👩‍👧.") == ["I", "👍🏽", "the", "🇩🇪", "flag", "👨‍👩‍👧"]


def test_dotted_abbreviations_are_one_word():
    assert words("U.S.A. e.g. Mr. Smith") == ["U.S.A", "e.g", "Mr", "Smith"]


def test_unicode_scripts_and_combining_marks():
    assert words("naïve café") == ["naïve", "café"]
    assert words("nai\u0308ve cafe\u0301") == ["nai\u0308ve", "cafe\u0301"]
    assert words("שלום עולם, מה שלומך?") == ["שלום", "עולם", "מה", "שלומך"]
    assert words("مرحبا بالعالم، كيف حالك؟") == ["مرحبا", "بالعالم", "كيف", "حالك"]
    assert words("हिन्दी भाषा") == ["हिन्दी", "भाषा"]
    assert words("我们是中国人。") == ["我", "们", "是", "中", "国", "人"]


def test_only_punctuation_has_no_words():
    assert tokenize("... !? — ,;: ()") == []
    assert tokenize("") == []


def test_chunks_cover_text_at_sentence_ends():
    text = " ".join("Sentence number %d is here." % i for i in range(200))
    chunks = split_chunks(text, 500)
    assert chunks[0][0] == 0 and chunks[-1][1] == len(text)
    for (a, b), (c, d) in zip(chunks, chunks[1:]):
        assert b == c
    for a, b in chunks:
        assert b - a <= 500
    for a, b in chunks[:-1]:
        assert text[a:b].rstrip().endswith(".")


def test_chunks_fall_back_to_spaces_and_hard_cuts():
    text = "word " * 300
    chunks = split_chunks(text, 100)
    assert all(b - a <= 100 for a, b in chunks)
    assert all(text[b - 1] == " " for a, b in chunks[:-1])
    blob = "x" * 250
    assert split_chunks(blob, 100) == [(0, 100), (100, 200), (200, 250)]
    cjk = "我们是中国人。" * 40
    chunks = split_chunks(cjk, 100)
    assert all(cjk[b - 1] == "。" for a, b in chunks[:-1])
    assert split_chunks("short", 100) == [(0, 5)]


def test_espeak_pieces_leave_prose_whole_and_cut_dense_runs():
    from voicecue_worker.text import DENSE_RUN, espeak_pieces
    prose = "the quick brown fox jumps over the lazy dog " * 10
    assert espeak_pieces(prose, 0, len(prose)) == [(0, len(prose), True)]
    years = "In " + " ".join(str(1900 + i) for i in range(60)) + ", and so on."
    pieces = espeak_pieces(years, 0, len(years))
    assert len(pieces) > 2
    assert pieces[0][0] == 0 and pieces[-1][1] == len(years)
    assert all(a[1] == b[0] for a, b in zip(pieces, pieces[1:])), "consecutive, no gaps"
    assert all(e - s <= DENSE_RUN + 20 for s, e, _ in pieces)
    assert [end for _, _, end in pieces] == [False] * (len(pieces) - 1) + [True]
    assert all(years[e - 1] == " " for _, e, _ in pieces[:-1]), "cut at whitespace"


# the blank set, written out again independently of text.BLANK_CODE_POINTS
EXPECTED_BLANKS = (
    set(range(0x09, 0x0E)) | set(range(0x1C, 0x20)) | {0x20, 0x85, 0xA0, 0x1680}
    | set(range(0x2000, 0x200B)) | {0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0xFEFF}
)
# JavaScript's String.prototype.trim set (ECMAScript WhiteSpace + LineTerminator, Unicode 15 Zs)
JS_TRIM = (
    {0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0xFEFF}
    | set(range(0x2000, 0x200B))
)


def test_blank_set_is_the_union_of_js_trim_and_python_strip():
    from voicecue_worker.text import BLANK_CODE_POINTS, content_span
    assert set(BLANK_CODE_POINTS) == EXPECTED_BLANKS
    python_strip = {cp for cp in range(0x110000) if chr(cp).isspace()}
    assert EXPECTED_BLANKS == python_strip | JS_TRIM
    for cp in list(range(0, 0x3001)) + [0xFEFF, 0x205F, 0x180E, 0x200B, 0x2060, 0xFFFE, 0x1F600]:
        ch = chr(cp)
        blank = cp in EXPECTED_BLANKS
        assert content_span(ch) == ((1, 1) if blank else (0, 1)), hex(cp)
        assert content_span(ch + "x" + ch) == ((1, 2) if blank else (0, 3)), hex(cp)


def test_content_span_counts_code_points_and_keeps_inner_blanks():
    from voicecue_worker.text import content_span
    assert content_span("") == (0, 0)
    assert content_span(" \t\n") == (3, 3)
    assert content_span("\ufeff  Hello, world! 2025 \x1f") == (3, 21)
    assert content_span("\u0085😀 a\u3000b 😀\u2029") == (1, 8)  # an emoji is one code point
    assert content_span("a\ufeffb") == (0, 3)


def test_sentence_chunks_cut_where_espeak_pauses():
    from voicecue_worker.text import sentence_chunks

    def parts(t):
        spans = sentence_chunks(t, 1000)
        assert spans[0][0] == 0 and spans[-1][1] == len(t)
        assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))  # no gaps
        return [t[a:b] for a, b in spans]

    assert parts("Hello world. This is it! And more?  Yes.\n\nnew para") == [
        "Hello world. ", "This is it! ", "And more?  ", "Yes.\n\n", "new para"]
    # abbreviations, single letters and a lowercase word after the dot are not sentence ends
    assert parts("Dr. Smith met Mr. Jones. Then e.g. a. b. went. on") == ["Dr. Smith met Mr. Jones. ", "Then e.g. a. b. went. on"]
    assert parts("a. b. c. d. e. ") == ["a. b. c. d. e. "]
    long = "word " * 300 + "end. Next."
    assert [len(p) <= 1000 for p in parts(long)] == [True] * len(parts(long))
