"""How a written English word may be read aloud: the readings a forced aligner offers.

``readings("1998")`` gives [["nineteen", "ninety", "eight"], ["one", "thousand", "nine",
"hundred", "ninety", "eight"], ["one", "thousand", "nine", "hundred", "and", "ninety",
"eight"]]: every reading a speaker (or a synthesizer) is likely to use, the most likely first.
A forced aligner that knows only one reading is thrown off by up to half a second around a
number read another way ("$12" without "dollars", "2008" without "and"), so it offers all of
them and lets the audio choose. Words come out lower-case, as the CMU dictionary spells them;
words it may not have ("voicecue") come out as they are, for a letter-to-sound step.
"""

from __future__ import annotations

import re
from typing import List

Reading = List[str]

_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
         "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
         "nineteen"]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_SCALES = [(10 ** 12, "trillion"), (10 ** 9, "billion"), (10 ** 6, "million"), (1000, "thousand")]
_ORD = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
        "nine": "ninth", "twelve": "twelfth"}
_LETTERS = {c: c for c in "abcdefghijklmnopqrstuvwxyz"}
_SYMBOLS = {"&": ["and"], "%": ["percent"], "@": ["at"], "#": ["number"], "+": ["plus"],
            "=": ["equals"], "\u20ac": ["euros"], "\u00a3": ["pounds"], "$": ["dollars"]}
_CURRENCY = {"$": ("dollar", "dollars", "cent", "cents"), "\u20ac": ("euro", "euros", "cent", "cents"),
             "\u00a3": ("pound", "pounds", "penny", "pence")}
MAX_DIGITS = 15  # past this a number is read digit by digit


def _under_100(n: int) -> Reading:
    if n < 20:
        return [_ONES[n]]
    t, o = divmod(n, 10)
    return [_TENS[t]] + ([_ONES[o]] if o else [])


def _under_1000(n: int, with_and: bool) -> Reading:
    h, r = divmod(n, 100)
    out: Reading = []
    if h:
        out += [_ONES[h], "hundred"]
        if r and with_and:
            out.append("and")
    if r or not h:
        out += _under_100(r)
    return out


def cardinal(n: int, with_and: bool = False) -> Reading:
    """``n`` in words: 1998 -> one thousand nine hundred (and) ninety eight."""
    if n == 0:
        return ["zero"]
    out: Reading = []
    for value, name in _SCALES:
        if n >= value:
            q, n = divmod(n, value)
            out += cardinal(q, with_and) + [name]
    if n:
        if out and with_and and n < 100:
            out.append("and")
        out += _under_1000(n, with_and)
    return out


def ordinal(n: int) -> Reading:
    words = cardinal(n)
    last = words[-1]
    if last in _ORD:
        words[-1] = _ORD[last]
    elif last.endswith("y"):
        words[-1] = last[:-1] + "ieth"
    else:
        words[-1] = last + "th"
    return words


def _year(n: int) -> List[Reading]:
    """Readings of a four-digit number as a year."""
    hi, lo = divmod(n, 100)
    out: List[Reading] = []
    if 2000 <= n <= 2009:
        out.append(["two", "thousand"] + ([_ONES[lo]] if lo else []))
        if lo:
            out.append(["two", "thousand", "and", _ONES[lo]])
            out.append(["twenty", "oh", _ONES[lo]])
        return out
    if lo == 0:
        out.append(_under_100(hi) + ["hundred"])
    elif lo < 10:
        out.append(_under_100(hi) + ["oh", _ONES[lo]])
        out.append(_under_100(hi) + ["hundred", "and", _ONES[lo]])
    else:
        out.append(_under_100(hi) + _under_100(lo))
    return out


def integer(digits: str, *, comma: bool = False) -> List[Reading]:
    """Readings of a string of digits (commas already removed when ``comma``)."""
    if len(digits) > MAX_DIGITS:
        return [[_ONES[int(d)] for d in digits]]
    n = int(digits)
    out: List[Reading] = []
    if len(digits) == 4 and not comma and 1000 <= n <= 2999:
        out += _year(n)
    out.append(cardinal(n))
    out.append(cardinal(n, with_and=True))
    if 1100 <= n <= 9999 and n % 100 == 0 and n % 1000:
        out.append(_under_100(n // 100) + ["hundred"])  # twelve hundred
    if 100 <= n <= 199 or 1000 <= n <= 1999:
        out.append(["a"] + cardinal(n)[1:])  # a hundred and ten, a thousand
    if digits.startswith("0") and len(digits) > 1 or len(digits) >= 5 and not comma:
        out.append([_ONES[int(d)] for d in digits])
        out.append(["oh" if d == "0" else _ONES[int(d)] for d in digits])
    return _unique(out)


def _digits_after_point(frac: str) -> List[Reading]:
    return _unique([[_ONES[int(d)] for d in frac], ["oh" if d == "0" else _ONES[int(d)] for d in frac]])


def decimal(whole: str, frac: str) -> List[Reading]:
    heads = integer(whole.replace(",", ""), comma="," in whole)[:2] if whole else [[]]
    if whole in ("0", ""):
        heads = [["zero"], ["oh"], [], ["nought"]]
    out = []
    for h in heads:
        for f in _digits_after_point(frac):
            out.append(h + ["point"] + f)
    if frac == "5" and whole not in ("0", ""):
        out.append(heads[0] + ["and", "a", "half"])
    return _unique(out)


def money(symbol: str, whole: str, frac: str) -> List[Reading]:
    one, many, cent, cents = _CURRENCY[symbol]
    n = int(whole.replace(",", "") or "0")
    unit = one if n == 1 else many
    amounts = integer(whole.replace(",", ""), comma="," in whole)[:3] if whole else [["zero"]]
    out: List[Reading] = []
    if not frac or int(frac) == 0:
        for a in amounts:
            out += [a + [unit], a]
        if frac:
            out += [a + ["point"] + f + [many] for a in amounts[:1] for f in _digits_after_point(frac)]
        return _unique(out)
    c = int(frac.ljust(2, "0")[:2]) if len(frac) <= 2 else None
    if c is not None:
        cw = _under_100(c)
        for a in amounts[:2]:
            out += [a + [unit] + cw, a + [unit] + ["and"] + cw + [cent if c == 1 else cents],
                    a + [unit] + cw + [cent if c == 1 else cents], a + cw]
        if n == 0:
            out.insert(0, cw + [cent if c == 1 else cents])
    for a in amounts[:1]:
        out += [a + ["point"] + f + [many] for f in _digits_after_point(frac)]
    return _unique(out)


def clock(h: str, m: str) -> List[Reading]:
    hw = _under_100(int(h)) if int(h) < 100 else cardinal(int(h))
    mi = int(m)
    if mi == 0:
        return [hw + ["o'clock"], hw, hw + ["hundred"], hw + ["oh", "oh"]]
    if mi < 10:
        return [hw + ["oh", _ONES[mi]], hw + _under_100(mi), hw + ["zero", _ONES[mi]]]
    return [hw + _under_100(mi)]


def letters(word: str) -> Reading:
    return [_LETTERS.get(c, c) for c in word.lower() if c.isalnum()]


_NUM = re.compile(r"^([$\u20ac\u00a3])?(-)?(\d[\d,]*)(?:\.(\d+))?(%|st|nd|rd|th|s|'s)?$", re.I)
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")
_RANGE = re.compile(r"^(\d+)[-\u2013](\d+)$")


def readings(word: str) -> List[Reading]:
    """The ways ``word`` (one token of voicecue's tokenizer, as written) may be spoken, the
    most likely first; never empty (a word of nothing readable reads as itself)."""
    w = word.replace("\u2019", "'").replace("\u02bc", "'").strip()
    out = _readings(w)
    out = [[t for t in r if t] for r in out]
    out = [r for r in out if r]
    return _unique(out) or [[w.lower()]]


def _readings(w: str) -> List[Reading]:
    m = _CLOCK.match(w)
    if m:
        return clock(m.group(1), m.group(2))
    m = _RANGE.match(w)
    if m:
        a, b = integer(m.group(1))[0], integer(m.group(2))[0]
        return [a + ["to"] + b, a + b, a + ["through"] + b]
    m = _NUM.match(w)
    if m and _valid_commas(m.group(3)):
        cur, neg, whole, frac, suffix = m.groups()
        suffix = (suffix or "").lower()
        if cur:
            out = money(cur, whole, frac or "")
        elif frac is not None:
            out = decimal(whole, frac)
        elif suffix in ("st", "nd", "rd", "th"):
            out = [ordinal(int(whole.replace(",", "")))]
        else:
            out = integer(whole.replace(",", ""), comma="," in whole)
        if suffix == "%":
            out = [r + ["percent"] for r in out] + [r + ["per", "cent"] for r in out[:1]]
        elif suffix in ("s", "'s"):  # the 1990s, the 90's
            out = [_plural(r) for r in out]
        if neg:
            out = [["minus"] + r for r in out] + [["negative"] + r for r in out[:1]]
        return out
    if all(not c.isalnum() for c in w):
        return [sum((_SYMBOLS.get(c, []) for c in w), [])]
    if "." in w and all(len(p) == 1 for p in w.split(".") if p):  # U.S.A, e.g
        return [letters(w)]
    if any(c in _SYMBOLS for c in w) or any(c.isdigit() for c in w):
        # AT&T, MP3, 4K, 3D: runs of letters, digits and symbols read one by one
        parts = re.findall(r"\d+|[^\W\d_]+|.", w)
        seq: Reading = []
        for p in parts:
            if p.isdigit():
                seq += integer(p)[0]
            elif p.isalpha():
                seq += letters(p) if p.isupper() or len(p) == 1 else [p.lower()]
            else:
                seq += _SYMBOLS.get(p, [])
        return [seq]
    lower = re.sub(r"[^\w'-]|_", "", w.lower()) or w.lower()  # "<sil>" is no word of the dictionary's
    out = [[lower]]
    if lower.endswith("'") and len(lower) > 1:  # neighbors'
        out = [[lower[:-1]]]
    if "-" in lower or "'" in lower.strip("'"):
        parts = [p for p in re.split(r"[-]", lower) if p]
        if len(parts) > 1:
            out.append(parts)
    if w.isupper() and 1 < len(w) <= 5:  # an acronym: as a word, or letter by letter
        out.append(letters(w))
    return out


def _plural(r: Reading) -> Reading:
    last = r[-1]
    if last.endswith("y"):
        return r[:-1] + [last[:-1] + "ies"]
    return r[:-1] + [last + ("es" if last.endswith("x") else "s")]


def _valid_commas(s: str) -> bool:
    if "," not in s:
        return True
    groups = s.split(",")
    return 1 <= len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:])


def _unique(rs: List[Reading]) -> List[Reading]:
    seen = set()
    out = []
    for r in rs:
        k = tuple(r)
        if k not in seen:
            seen.add(k)
            out.append(r)
    return out
