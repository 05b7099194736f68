"""The `native` aligner: word timings from the engine's own events (espeak).

espeak reports, in synthesis order:
  WORD     text_position (1-based code points into the synthesized text) and the sample
           where the word starts;
  PHONEME  the sample where each phoneme starts; pause phonemes are named "_", "_:", "_!"...
  END      the end of a clause or sentence.
A word's start is its first WORD event. Its end is where its last phoneme ends: the first
pause phoneme, next word, or clause end after that phoneme (or the end of the audio).

espeak's WORD events do not map one-to-one to the words of the text (see ``text.tokenize``):
a number raises one event per spoken word, all inside the number ("2025" -> two thousand
twenty five), some events point at punctuation just before a word (a quote) or at spaces
after an emoji, some words get no event ("S" and "A" of "U.S.A."), and a few events have
text_position 0. Events are mapped to the text's words by position; the words an event does
not reach share the time of their neighbour, in proportion to their length.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import List, Optional, Sequence, Tuple

from ..plugins import Aligner

EV_WORD = 1
EV_SENTENCE = 2
EV_END = 5
EV_MSG_TERMINATED = 6
EV_PHONEME = 7

# (type, text_position (1-based, chunk relative), sample (chunk relative), is_pause)
Event = Tuple[int, int, int, bool]


class WordTimer:
    """Accumulates espeak events chunk by chunk and produces the words of the text."""

    def __init__(self, text: str, spans: Sequence[Tuple[int, int]]):
        self.text = text
        self.spans = list(spans)
        self.starts = [s for s, _ in self.spans]
        n = len(self.spans)
        self.first: List[Optional[int]] = [None] * n  # start sample of each word
        self.last: List[Optional[int]] = [None] * n  # end sample of each word's speech
        self.cur = -1
        self.spoke = False  # any non-pause phoneme at all

    def _map(self, p: int) -> int:
        """The index of the word an event at code point ``p`` belongs to, or -1."""
        i = bisect_right(self.starts, p) - 1
        if i >= 0 and p < self.spans[i][1]:
            return i
        nxt = i + 1
        n = len(self.spans)
        if nxt < n:
            gap = self.text[p : self.starts[nxt]]
            if not any(ch.isspace() for ch in gap):
                return nxt  # punctuation right before a word: a quote, a dash
        # continuation of the word being spoken (spaces after an emoji), or, before any
        # word, a spoken punctuation mark that is no word of ours: ignored
        return self.cur

    def feed(self, events: Sequence[Event], char_offset: int, sample_offset: int,
             chunk_samples: int) -> None:
        """Consume the events of one synthesized chunk.

        ``char_offset``: where the chunk starts in the text; ``sample_offset``: how many
        samples precede the chunk's audio; ``chunk_samples``: the chunk's audio length.
        """
        first, last = self.first, self.last
        pending = False
        cur = self.cur
        limit = chunk_samples
        for typ, tp, samp, is_pause in events:
            if samp > limit:
                samp = limit
            if typ == EV_PHONEME:
                if is_pause:
                    if pending:
                        last[cur] = sample_offset + samp
                        pending = False
                else:
                    self.spoke = True
                    if cur >= 0:
                        pending = True
            elif typ == EV_WORD:
                if tp <= 0 or samp >= limit:
                    continue  # position-less events, and events after the last sample
                self.cur = cur
                t = self._map(char_offset + tp - 1)
                if t < 0 or t <= cur:
                    continue  # same word again (number parts) or a stray backwards event
                if pending:
                    last[cur] = sample_offset + samp
                    pending = False
                cur = t
                if first[t] is None:
                    first[t] = sample_offset + samp
            elif typ == EV_END or typ == EV_MSG_TERMINATED:
                if pending:
                    last[cur] = sample_offset + samp
                    pending = False
        if pending:
            last[cur] = sample_offset + chunk_samples
        self.cur = cur

    def words(self, total_samples: int, sample_rate: int, source: str = "espeak", upto: Optional[int] = None) -> List[dict]:
        """The words with times in seconds (millisecond precision), in order, non-overlapping,
        each with end > start, all inside the audio. Empty when nothing could be timed.

        ``upto``: only the first ``upto`` words, as if the text ended there (the words of the
        chunks spoken so far, for streaming)."""
        n = len(self.spans) if upto is None else min(upto, len(self.spans))
        if n == 0 or total_samples <= 0:
            return []
        first = self.first[:n]
        timed = [i for i in range(n) if first[i] is not None]
        if not timed:
            if not self.spoke:
                return []
            # speech without usable word events: spread the words over the audio
            bounds = _split_by_length(self.spans[:n], 0, total_samples)
            return self._emit(bounds, total_samples, sample_rate, source)

        # end of each timed word: its last phoneme's end, else the next timed word's start
        end = {}
        for k, i in enumerate(timed):
            nxt_start = first[timed[k + 1]] if k + 1 < len(timed) else total_samples
            e = self.last[i]
            if e is None or e <= first[i] or e > nxt_start:
                e = nxt_start
            end[i] = e

        bounds: List[Tuple[int, int]] = [(0, 0)] * n
        for i in timed:
            bounds[i] = (first[i], end[i])
        # words without an event share the time of the timed word before them (or after,
        # at the very start), split in proportion to their length
        k = 0
        while k < n:
            if first[k] is not None:
                k += 1
                continue
            j = k
            while j < n and first[j] is None:
                j += 1
            if k > 0:  # share with the timed word k-1
                group = list(range(k - 1, j))
                s, e = bounds[k - 1]
            else:  # leading run: share with the first timed word j
                group = list(range(k, j + 1))
                s, e = bounds[j]
            parts = _split_by_length([self.spans[g] for g in group], s, e)
            for g, b in zip(group, parts):
                bounds[g] = b
            k = j
        return self._emit(bounds, total_samples, sample_rate, source)

    def _emit(self, bounds, total_samples, sample_rate, source) -> List[dict]:
        n = len(bounds)
        total_ms = total_samples * 1000 // sample_rate
        starts = [b[0] * 1000 // sample_rate for b in bounds]
        ends = [(b[1] * 1000 + sample_rate // 2) // sample_rate for b in bounds]
        # strictly increasing starts, then ends in (start, next start], all inside the audio
        for i in range(n):
            if i and starts[i] <= starts[i - 1]:
                starts[i] = starts[i - 1] + 1
        over = max(0, starts[-1] + 1 - total_ms) if n else 0
        if over:  # only for absurdly dense text: squeeze the tail back inside the audio
            for i in range(n - 1, -1, -1):
                cap = total_ms - (n - i)
                if starts[i] > cap:
                    starts[i] = max(0, cap)
        out = []
        text = self.text
        for i in range(n):
            nxt = starts[i + 1] if i + 1 < n else total_ms
            e = min(max(ends[i], starts[i] + 1), nxt)
            if e <= starts[i]:
                e = starts[i] + 1
            s0, s1 = self.spans[i]
            out.append({
                "word": text[s0:s1],
                "start": starts[i] / 1000,
                "end": e / 1000,
                "char_start": s0,
                "char_end": s1,
                "source": source,
                "confidence": None,
            })
        return out


def _split_by_length(spans, s: int, e: int) -> List[Tuple[int, int]]:
    """Split [s, e) among ``spans`` in proportion to their lengths (in code points)."""
    lens = [max(1, b - a) for a, b in spans]
    total = sum(lens)
    out = []
    acc = 0
    pos = s
    for ln in lens:
        acc += ln
        nxt = s + (e - s) * acc // total
        out.append((pos, nxt))
        pos = nxt
    return out



class NativeAligner(Aligner):
    """The engine's own word events, read while it speaks (``WordTimer``). It times only that
    engine's audio, so it has no ``align`` of its own: the pipeline takes its words from
    ``synthesize``."""

    name = "native"
    lane = "cpu"
    kind = "engine"
    engines = ("espeak",)

    def load(self) -> None:
        self.available, self.reason = True, None
