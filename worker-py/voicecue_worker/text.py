"""Text helpers: the words of a text (with code-point spans) and sentence-sized chunks.

Spans are Python ``str`` offsets (code points) into the text exactly as received, so
``text[start:end]`` is always the word as the client wrote it.

A word is a run of letters, digits and combining marks (any script), glued to adjacent
symbols ("$5", "50%", "AT&T", an emoji sequence), with these inner joiners kept:
apostrophes and hyphens between word characters ("don't", "e-mail"), and . , : / between
digits ("3.5", "1,000", "10:30"). Han and kana characters are one word each (no spaces in
those scripts; espeak's cmn voice speaks them one by one). Single letters joined by dots
("U.S.A.", "e.g.") form one word without the final dot. Punctuation at a word's edges is
not part of it ("world," -> "world").
"""

from __future__ import annotations

import re
import unicodedata
from typing import List, Tuple

Span = Tuple[int, int]

# character classes used by the scanner
_SEP, _WORD, _SYM, _CJK, _ZW = 0, 1, 2, 3, 4

_APOS_HYPHEN = frozenset("'\u2019\u02bc-\u2010\u2011\u00b7")  # ' ’ ʼ - ‐ ‑ ·
_NUM_JOIN = frozenset(".,:/")
_ZERO_WIDTH = frozenset("\u200c\u200d\u2060\u00ad\ufe0e\ufe0f")  # ZWNJ ZWJ WJ SHY VS15 VS16
# punctuation that is spoken as a word and glues to its neighbours: "50%", "AT&T", "#1", "@home"
_SPOKEN_PUNCT = frozenset("%\u2030\u2031&@#")
_SIGN_OPENERS = frozenset(" \t\r\n([{\"'\u201c\u2018\u00ab")


# Blanks: what either side of the service trims. JavaScript's String.prototype.trim removes
# WhiteSpace and LineTerminator (U+FEFF among them, which Python keeps); Python's str.strip
# removes str.isspace characters (U+001C..U+001F and U+0085 among them, which JavaScript
# keeps). Both sides use the union, listed explicitly (src/text/blank.ts has the same list).
BLANK_CODE_POINTS = (
    0x0009, 0x000A, 0x000B, 0x000C, 0x000D,  # tab, LF, VT, FF, CR
    0x001C, 0x001D, 0x001E, 0x001F,  # file/group/record/unit separators (Python only)
    0x0020,  # space
    0x0085,  # next line (Python only)
    0x00A0,  # no-break space
    0x1680,  # ogham space mark
    0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200A,
    0x2028, 0x2029,  # line and paragraph separators
    0x202F,  # narrow no-break space
    0x205F,  # medium mathematical space
    0x3000,  # ideographic space
    0xFEFF,  # zero width no-break space / BOM (JavaScript only)
)
BLANKS = frozenset(map(chr, BLANK_CODE_POINTS))


def content_span(text: str) -> Span:
    """(start, end) code-point offsets of ``text`` without its leading and trailing blanks
    (BLANK_CODE_POINTS); (len, len) when it is all blanks."""
    n = len(text)
    start = 0
    while start < n and text[start] in BLANKS:
        start += 1
    end = n
    while end > start and text[end - 1] in BLANKS:
        end -= 1
    return start, end


def is_cjk(cp: int) -> bool:
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x3040 <= cp <= 0x30FF  # hiragana, katakana
        or 0x31F0 <= cp <= 0x31FF
        or 0xF900 <= cp <= 0xFAFF
        or 0xFF66 <= cp <= 0xFF9D
        or 0x20000 <= cp <= 0x3134F
    )


_class_cache: dict = {}


def _cls(ch: str) -> int:
    c = _class_cache.get(ch)
    if c is not None:
        return c
    if ch in _ZERO_WIDTH:
        c = _ZW
    else:
        cat = unicodedata.category(ch)
        k = cat[0]
        if k in "LNM":
            c = _CJK if (k == "L" and is_cjk(ord(ch))) else _WORD
        elif k == "S" or ch in _SPOKEN_PUNCT:
            c = _SYM
        else:
            c = _SEP
    if len(_class_cache) < 50000:
        _class_cache[ch] = c
    return c


def tokenize(text: str) -> List[Span]:
    """Return the (start, end) code-point spans of the words of ``text``, in order."""
    spans: List[Span] = []
    n = len(text)
    classes = [_cls(ch) for ch in text]
    i = 0
    while i < n:
        c = classes[i]
        if c == _CJK:
            spans.append((i, i + 1))
            i += 1
            continue
        if c not in (_WORD, _SYM):
            i += 1
            continue
        start = i
        # a leading minus sign belongs to a number: "-5", but not "3-5" (handled as joiner)
        if (
            start > 0
            and text[start - 1] == "-"
            and text[start].isdigit()
            and (start == 1 or text[start - 2] in _SIGN_OPENERS)
        ):
            start -= 1
        j = i
        end = i
        while j < n:
            c = classes[j]
            if c == _WORD or c == _SYM:
                j += 1
                end = j
                continue
            if c == _ZW:
                j += 1  # only kept when a word character follows
                continue
            ch = text[j]
            if j + 1 < n and classes[j + 1] in (_WORD, _SYM) and end == j:
                nxt = text[j + 1]
                if ch in _APOS_HYPHEN:
                    j += 1
                    continue
                if ch in _NUM_JOIN and text[j - 1].isdigit() and nxt.isdigit():
                    j += 1
                    continue
            break
        spans.append((start, end))
        i = max(j, end)
    return _merge_dotted_letters(text, spans)


def _merge_dotted_letters(text: str, spans: List[Span]) -> List[Span]:
    """Merge single letters separated by single dots ("U.S.A.", "e.g.") into one word."""
    if len(spans) < 2:
        return spans
    out: List[Span] = []
    i = 0
    n = len(spans)
    while i < n:
        s, e = spans[i]
        if e - s == 1 and text[s].isalpha() and e < len(text) and text[e] == ".":
            j = i
            while (
                j + 1 < n
                and spans[j + 1][0] == spans[j][1] + 1
                and text[spans[j][1]] == "."
                and spans[j + 1][1] - spans[j + 1][0] == 1
                and text[spans[j + 1][0]].isalpha()
            ):
                j += 1
            if j > i:
                out.append((s, spans[j][1]))
                i = j + 1
                continue
        out.append((s, e))
        i += 1
    return out


# A sentence ends after . ! ? … (and closing quotes/brackets) followed by whitespace,
# or after a CJK full stop / exclamation / question mark, or at a blank line.
_SENTENCE_END = re.compile(
    "(?:[.!?\u2026]+[\"'\u201d\u2019)\\]]*\\s+)|(?:[\u3002\uff01\uff1f]+\\s*)|(?:\\n\\s*\\n\\s*)"
)
_CLAUSE_END = re.compile("[,;:\u3001\uff0c\uff1b]\\s+|[\u3001\uff0c\uff1b]")
_SPACE = re.compile("\\s+")


def split_chunks(text: str, limit: int = 1000) -> List[Span]:
    """Split ``text`` into consecutive spans of at most ``limit`` code points.

    Cuts are made at a sentence end when one lies in the second half of the window, else at
    a clause end, else at whitespace, else (one huge unbroken run) at the limit. The spans
    cover the whole text with no gaps, so offsets inside a chunk plus its start are offsets
    into the text.
    """
    n = len(text)
    chunks: List[Span] = []
    start = 0
    while n - start > limit:
        lo = start + limit // 2
        hi = start + limit
        cut = -1
        for rx in (_SENTENCE_END, _CLAUSE_END, _SPACE):
            last = -1
            for m in rx.finditer(text, lo, hi):
                last = m.end()
            if last > start:
                cut = last
                break
        if cut <= start:
            cut = hi
            # do not split a surrogate-free code point sequence inside a word if avoidable
        chunks.append((start, cut))
        start = cut
    if start < n or not chunks:
        chunks.append((start, n))
    return chunks


# Words after which a full stop is no sentence end ("Dr. Smith"): espeak does not pause there,
# so neither may a cut (each chunk ends with a sentence pause).
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr st jr sr prof vs etc inc ltd co no vol fig gen col lt sgt capt rev mt ft approx dept est".split()
)
_WORD_BEFORE = re.compile(r"([^\W\d_]+)\.$")


def _ends_sentence(text: str, end: int, cut: int) -> bool:
    """Whether the sentence end matched at ``text[..end]`` (the cut at ``cut``) is one espeak
    speaks as such: not after an abbreviation or a single letter, not before a lowercase word."""
    nxt = text[cut:cut + 1]
    if nxt and nxt.islower():
        return False
    head = text[max(0, end - 12):end].rstrip("\"'\u201d\u2019)] \t\r\n")
    m = _WORD_BEFORE.search(head)
    if m and (len(m.group(1)) == 1 or m.group(1).lower() in _ABBREVIATIONS):
        return False
    return True


def sentence_chunks(text: str, limit: int = 1000) -> List[Span]:
    """Split ``text`` into its sentences: consecutive spans that cover it with no gaps, each
    ending after a sentence end (and the whitespace after it); a sentence longer than ``limit``
    is cut as ``split_chunks`` cuts. Synthesized one by one, so the first sentence's audio can
    leave while the rest is still being spoken. Only ends espeak itself pauses at are cut at."""
    chunks: List[Span] = []
    start = 0
    for m in _SENTENCE_END.finditer(text):
        cut = m.end()
        if cut <= start or cut >= len(text):
            continue
        if "\n" not in m.group() and not _ends_sentence(text, m.start() + len(m.group().rstrip()), cut):
            continue
        chunks.extend((start + a, start + b) for a, b in split_chunks(text[start:cut], limit))
        start = cut
    chunks.extend((start + a, start + b) for a, b in split_chunks(text[start:], limit))
    return chunks


# libespeak-ng drops the rest of a clause whose phonemes overflow its buffer: a long run of
# numbers ("1900 1901 1902 ..." is spoken up to about 1950) or of CJK without punctuation. A
# run thick with digits or CJK that is longer than this is given to espeak in pieces.
DENSE_RUN = 100
_CLAUSE_PUNCT = re.compile("[.!?\u2026,;:\u3001\u3002\uff0c\uff1b\uff01\uff1f\uff1a]+")


def _dense(run: str) -> bool:
    chars = [ch for ch in run if not ch.isspace()]
    heavy = sum(1 for ch in chars if ch.isdigit() or is_cjk(ord(ch)))
    return heavy * 5 >= len(chars)


def espeak_pieces(text: str, start: int, end: int) -> List[Tuple[int, int, bool]]:
    """Cut ``text[start:end]`` for espeak: ``(start, end, clause_end)`` pieces, consecutive.

    Only dense runs longer than DENSE_RUN are cut, preferably at whitespace; ``clause_end`` is
    False where a cut falls inside a clause, so no sentence pause is added there.
    """
    cuts: List[int] = []
    a = start
    bounds = [m.end() for m in _CLAUSE_PUNCT.finditer(text, start, end)] + [end]
    for b in bounds:
        if b - a > DENSE_RUN and _dense(text[a:b]):
            cuts.extend(a + e for _, e in split_chunks(text[a:b], DENSE_RUN)[:-1])
        a = b
    edges = [start, *cuts, end]
    return [(edges[i], edges[i + 1], edges[i + 1] == end) for i in range(len(edges) - 1)]
