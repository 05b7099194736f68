"""espeak-ng through ctypes (standard library only).

Declarations follow espeak-ng's speak_lib.h (API revision 12, espeak-ng 1.51):

  int  espeak_Initialize(espeak_AUDIO_OUTPUT output, int buflength, const char *path, int options);
  void espeak_SetSynthCallback(int (*cb)(short *wav, int numsamples, espeak_EVENT *events));
  espeak_ERROR espeak_Synth(const void *text, size_t size, unsigned int position,
                            espeak_POSITION_TYPE position_type, unsigned int end_position,
                            unsigned int flags, unsigned int *unique_identifier, void *user_data);
  espeak_ERROR espeak_SetParameter(espeak_PARAMETER parameter, int value, int relative);
  espeak_ERROR espeak_SetVoiceByName(const char *name);
  const espeak_VOICE **espeak_ListVoices(espeak_VOICE *voice_spec);
  const char *espeak_Info(const char **path_data);

Empirical findings with libespeak-ng 1.51 (see tests/test_espeak_engine.py):
  * event.text_position is 1-based and counts code points of the UTF-8 input (an emoji,
    a CJK character and a combining mark each count one), relative to the text passed to
    that espeak_Synth call. event.length is unreliable ("don't" -> 3, "e-mail" -> 1).
  * event.sample is the exact sample index (relative to the espeak_Synth call) of the event;
    audio_position is the same in whole milliseconds, truncated.
  * numbers raise one WORD event per spoken word, the first at the number's first character
    and the others one character later ("2025" -> WORD@41 "two", WORD@42 "thousand", ...).
  * some WORD events have text_position 0 (before a clause pause, in he/ar/ru) and cmn adds
    one on the final full stop at the very last sample: both are ignored.
  * "zh" is not accepted by espeak_SetVoiceByName (only as a secondary language of cmn), and
    a failed espeak_SetVoiceByName leaves no voice selected; so voices are resolved here,
    against espeak_ListVoices, and set by their identifier.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import pickle
import re
import select
import signal
import struct
import time
from bisect import bisect_left, bisect_right
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from ..aligners.native import EV_END, EV_MSG_TERMINATED, EV_PHONEME, EV_WORD, WordTimer
from .. import wav
from ..errors import CANCELLED, ENGINE_FAILED, NO_SPEECH, UNKNOWN_VOICE, RpcError
from ..plugins import Engine, Job
from ..text import espeak_pieces, is_cjk, sentence_chunks

log = logging.getLogger("voicecue.espeak")

# espeak_AUDIO_OUTPUT
AUDIO_OUTPUT_SYNCHRONOUS = 2
# espeak_Initialize options
espeakINITIALIZE_PHONEME_EVENTS = 0x0001
espeakINITIALIZE_DONT_EXIT = 0x8000
# espeak_POSITION_TYPE
POS_CHARACTER = 1
# espeak_Synth flags
espeakCHARS_UTF8 = 1
espeakENDPAUSE = 0x1000
# espeak_PARAMETER
espeakRATE = 1
espeakRATE_NORMAL = 175

BUFLENGTH_MS = 500
CHUNK_CHARS = 1000
# libespeak-ng 1.51 translates a clause into a list of at most N_PHONEME_LIST (1000) phonemes
# and silently drops the words that do not fit (translate.c: "No room, can't translate
# anything"). A clause that was cut ends with 990..997 PHONEME events; whole ones seen stay
# below ~980 (51 years "1900 ... 1950": 976). A clause with this many phonemes is taken as cut
# and its piece is spoken again in two halves; a false alarm costs one more synthesis only.
PHONEME_LIMIT = 900

LIB_NOT_FOUND = "libespeak-ng.so.1 not found: install the espeak-ng package"


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class EspeakEvent(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


class EspeakVoice(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_void_p),  # (priority byte, zero-terminated name)*, then a zero byte
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    ]


SYNTH_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p)

EV_SIZE = ctypes.sizeof(EspeakEvent)
_ID_OFF = EspeakEvent.id.offset
_SAMPLE_OFF = EspeakEvent.sample.offset
_TP_OFF = EspeakEvent.text_position.offset
# type, text_position, sample, first byte of id.string (phoneme name)
_EV_FMT = struct.Struct(
    "=i%dxi%dxi%dxB%dx"
    % (_TP_OFF - 4, _SAMPLE_OFF - _TP_OFF - 4, _ID_OFF - _SAMPLE_OFF - 4, EV_SIZE - _ID_OFF - 1)
)
assert _EV_FMT.size == EV_SIZE
# parent <- child messages: a tag (A audio, P progress, W warning, R result, E error) and a length
_MSG = struct.Struct("=cI")
_WANTED = frozenset((EV_WORD, EV_END, EV_MSG_TERMINATED, EV_PHONEME))
_UNDERSCORE = 0x5F

# control characters other than tab/newline/CR become spaces (1:1, offsets are kept)
_SANITIZE = {c: 0x20 for c in list(range(0, 9)) + [11, 12] + list(range(14, 32)) + [127]}

# libespeak-ng 1.51 smashes its stack on a long run of single letters and dots ("a.a.a..." of
# about 160 bytes, an abbreviation it tries to spell). Every 16th dot of such a run becomes a
# space (1:1, offsets are kept), so no run espeak sees is longer than 16 letters.
_LETTER_DOT_RUN = re.compile(r"(?:[^\W\d_]\.){17,}")


def _break_letter_dot_runs(text: str) -> str:
    def cut(m: "re.Match[str]") -> str:
        run = list(m.group())
        for i in range(31, len(run), 32):  # the dot of every 16th letter-dot pair
            run[i] = " "
        return "".join(run)

    return _LETTER_DOT_RUN.sub(cut, text)


def _cut_point(text: str, spans, starts, start: int, end: int) -> Optional[int]:
    """Where to cut ``text[start:end]`` in two: the start of a word near the middle, one after
    whitespace when there is one (CJK runs have none); None when the piece has one word."""
    lo = bisect_left(starts, start) + 1  # keep at least one word on each side
    hi = bisect_left(starts, end)
    if lo >= hi:
        return None
    mid = (start + end) // 2
    best = best_ws = None
    for k in range(lo, hi):
        c = spans[k][0]
        if best is None or abs(c - mid) < abs(best - mid):
            best = c
        if text[c - 1].isspace() and (best_ws is None or abs(c - mid) < abs(best_ws - mid)):
            best_ws = c
    # a whitespace cut unless it leaves one side with under a quarter of the piece
    if best_ws is not None and abs(best_ws - mid) <= (end - start) // 4:
        return best_ws
    return best


def _lib_candidates() -> List[str]:
    override = os.environ.get("VOICECUE_ESPEAK_LIB")
    if override:
        return [override]
    return [
        "libespeak-ng.so.1",
        "/usr/lib/x86_64-linux-gnu/libespeak-ng.so.1",
        "/usr/lib/aarch64-linux-gnu/libespeak-ng.so.1",
        "/usr/local/lib/libespeak-ng.so.1",
        "libespeak-ng.so",
        "libespeak-ng.1.dylib",
    ]


def _languages(ptr: int) -> List[Tuple[int, str]]:
    out = []
    i = 0
    while True:
        prio = ctypes.c_ubyte.from_address(ptr + i).value
        if prio == 0:
            break
        name = ctypes.string_at(ptr + i + 1)
        out.append((prio, name.decode("utf-8", "replace")))
        i += len(name) + 2
    return out


class Voice:
    __slots__ = ("canonical", "set_name")

    def __init__(self, canonical: str, set_name: str):
        self.canonical = canonical  # reported back: "en-us", "en-us+f3"
        self.set_name = set_name  # passed to espeak_SetVoiceByName: "gmw/en-US+f3"


class EspeakEngine(Engine):
    name = "espeak"
    lane = "cpu"

    def __init__(self) -> None:
        super().__init__()
        self.version: Optional[str] = None
        self.sample_rate = 0
        self.lib = None
        self.languages: List[str] = []
        self._by_primary: Dict[str, Tuple[str, str]] = {}
        self._by_ident: Dict[str, Tuple[str, str]] = {}
        self._by_name: Dict[str, Tuple[str, str]] = {}
        self._by_other: Dict[str, Tuple[int, Tuple[str, str]]] = {}
        self._variants: Dict[str, str] = {}
        self._voice: Optional[str] = None
        self._rate: Optional[int] = None
        # per synth call state, touched by the callback
        self._sink: Optional[Callable[[bytes], None]] = None
        self._samples = 0
        self._events: List[Tuple[int, int, int, bool]] = []
        self._error: Optional[BaseException] = None
        self._should_stop: Optional[Callable[[], bool]] = None
        self._cb = SYNTH_CALLBACK(self._callback)  # keep a reference for the library's lifetime

    # ---------------------------------------------------------------- loading
    def load(self) -> "EspeakEngine":
        lib = None
        errors = []
        for cand in _lib_candidates():
            try:
                lib = ctypes.CDLL(cand)
                break
            except OSError as e:
                errors.append(str(e))
        if lib is None:
            self.reason = LIB_NOT_FOUND
            log.warning("espeak unavailable: %s (%s)", self.reason, "; ".join(errors))
            return self
        try:
            self._declare(lib)
            sr = lib.espeak_Initialize(
                AUDIO_OUTPUT_SYNCHRONOUS, BUFLENGTH_MS, None,
                espeakINITIALIZE_PHONEME_EVENTS | espeakINITIALIZE_DONT_EXIT,
            )
            if sr <= 0:
                self.reason = ("espeak_Initialize failed (espeak-ng-data not found?): install the "
                               "espeak-ng-data package or set ESPEAK_DATA_PATH")
                log.warning("espeak unavailable: %s", self.reason)
                return self
            self.sample_rate = sr
            self.version = (lib.espeak_Info(None) or b"").decode("ascii", "replace").split(" ")[0]
            lib.espeak_SetSynthCallback(self._cb)
            self.lib = lib
            self._load_voices()
            if not self._by_primary:
                self.reason = "espeak-ng lists no voices: the espeak-ng-data package looks broken"
                self.lib = None
                log.warning("espeak unavailable: %s", self.reason)
                return self
        except (AttributeError, OSError) as e:
            self.reason = "libespeak-ng could not be used: %s" % e
            self.lib = None
            log.warning("espeak unavailable: %s", self.reason)
            return self
        self.available = True
        self.reason = None
        log.info("espeak ready %s (%d Hz, %d language codes)", self.version, sr, len(self.languages))
        return self

    @staticmethod
    def _declare(lib) -> None:
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [SYNTH_CALLBACK]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
            ctypes.c_uint, ctypes.POINTER(ctypes.c_uint), ctypes.c_void_p,
        ]
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_ListVoices.argtypes = [ctypes.POINTER(EspeakVoice)]
        lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(EspeakVoice))
        lib.espeak_Info.argtypes = [ctypes.POINTER(ctypes.c_char_p)]
        lib.espeak_Info.restype = ctypes.c_char_p

    def _list(self, spec: Optional[EspeakVoice]):
        arr = self.lib.espeak_ListVoices(ctypes.byref(spec) if spec is not None else None)
        i = 0
        while arr[i]:
            v = arr[i].contents
            yield (
                (v.name or b"").decode("utf-8", "replace"),
                (v.identifier or b"").decode("utf-8", "replace"),
                _languages(v.languages) if v.languages else [],
            )
            i += 1

    def _load_voices(self) -> None:
        for name, ident, langs in self._list(None):
            if not langs or ident.startswith("mb/") or langs[0][1] == "variant":
                continue  # mbrola voices need the external mbrola program
            primary = langs[0][1].lower()
            entry = (primary, ident)
            prio0 = langs[0][0]
            old = self._by_primary.get(primary)
            if old is None:
                self._by_primary[primary] = entry
            self._by_ident.setdefault(ident.lower(), entry)
            self._by_ident.setdefault(ident.rsplit("/", 1)[-1].lower(), entry)
            self._by_name.setdefault(name.lower(), entry)
            self._by_name.setdefault(name.lower().replace(" ", "_"), entry)
            for prio, lang in langs[1:] + [(prio0, primary)]:
                key = lang.lower()
                cur = self._by_other.get(key)
                if cur is None or prio < cur[0]:
                    self._by_other[key] = (prio, entry)
        spec = EspeakVoice()
        variant = ctypes.c_char_p(b"variant")
        spec.languages = ctypes.cast(variant, ctypes.c_void_p)
        for name, ident, _ in self._list(spec):
            base = ident.rsplit("/", 1)[-1]
            self._variants.setdefault(base.lower(), base)
            self._variants.setdefault(name.lower(), base)
        # every language code that selects a voice: primaries (en-us) and others (en, zh, fr)
        self.languages = sorted(set(self._by_primary) | set(self._by_other))

    def language_codes(self) -> List[str]:
        return list(self.languages)

    def versions(self) -> dict:
        return {"espeak-ng": self.version}

    def details(self) -> dict:
        return {"sample_rate": self.sample_rate, "version": self.version, "voices": list(self.languages)}

    # ---------------------------------------------------------------- voices
    def resolve_voice(self, spec: str) -> Voice:
        """Map a language code, voice name or identifier, with an optional "+variant", to a
        voice; raise UNKNOWN_VOICE naming it when there is none."""
        s = spec.strip()
        base, plus, var = s.partition("+")
        key = base.strip().lower()
        entry = None
        if key:
            dashed = key.replace("_", "-")
            entry = (
                self._by_primary.get(key)
                or self._by_primary.get(dashed)
                or self._by_ident.get(key)
                or self._by_name.get(key)
                or self._by_name.get(key.replace("_", " "))
            )
            if entry is None:
                other = self._by_other.get(key) or self._by_other.get(dashed)
                entry = other[1] if other else None
        if entry is None:
            raise RpcError(
                UNKNOWN_VOICE,
                "unknown voice %r: not an espeak-ng language code, voice name or identifier "
                "(capabilities lists the language codes, e.g. en-us, en-gb, de, fr, cmn)" % spec,
            )
        primary, ident = entry
        if plus:
            vbase = self._variants.get(var.strip().lower())
            if vbase is None:
                raise RpcError(
                    UNKNOWN_VOICE,
                    "unknown voice %r: espeak-ng has no variant %r (e.g. f1..f5, m1..m7, klatt)"
                    % (spec, var),
                )
            return Voice("%s+%s" % (primary, vbase), "%s+%s" % (ident, vbase))
        return Voice(primary, ident)

    def _select(self, voice: Voice, rate: int) -> None:
        lib = self.lib
        if self._voice != voice.set_name:
            rc = lib.espeak_SetVoiceByName(voice.set_name.encode("utf-8"))
            if rc != 0:
                self._voice = None
                raise RpcError(ENGINE_FAILED, "espeak-ng could not load voice %r (error %d)"
                               % (voice.canonical, rc))
            self._voice = voice.set_name
            self._rate = None  # set the rate again after a voice change
        if self._rate != rate:
            rc = lib.espeak_SetParameter(espeakRATE, rate, 0)
            if rc != 0:
                self._rate = None
                raise RpcError(ENGINE_FAILED, "espeak-ng refused rate %d (error %d)" % (rate, rc))
            self._rate = rate

    # ---------------------------------------------------------------- synthesis
    def _callback(self, wav, numsamples, events):
        try:
            if self._should_stop is not None and self._should_stop():
                self._error = RpcError(CANCELLED, "synthesis was cancelled")
                return 1  # espeak stops synthesis when the callback returns non-zero
            if numsamples > 0 and wav:
                self._sink(ctypes.string_at(wav, numsamples * 2))
                self._samples += numsamples
            if events:
                n = 0
                addr = events
                c_int = ctypes.c_int
                while c_int.from_address(addr).value != 0:
                    n += 1
                    addr += EV_SIZE
                if n:
                    append = self._events.append
                    wanted = _WANTED
                    for typ, tp, samp, b0 in _EV_FMT.iter_unpack(ctypes.string_at(events, n * EV_SIZE)):
                        if typ in wanted:
                            append((typ, tp, samp, b0 == _UNDERSCORE))
            return 0
        except BaseException as e:  # never let an exception cross into C; abort synthesis
            self._error = e
            return 1

    def _speak_piece(self, text, start, end, clause_end, timer, total, sink) -> Tuple[int, int]:
        """Speak ``text[start:end]`` into ``sink`` and time its words.

        Returns (the new sample total, how many extra cuts were needed). The audio is held back
        until espeak is known to have spoken the whole piece: when one of its clauses filled
        espeak's phoneme list (its end was dropped), the audio is thrown away and the piece is
        spoken as two halves cut at a word boundary, each checked the same way. So every word is
        spoken exactly once and nothing is spoken twice.
        """
        buffer: List[bytes] = []
        self._sink = buffer.append
        events, n, most = self._speak(text[start:end], clause_end)
        if most >= PHONEME_LIMIT:
            cut = _cut_point(text, timer.spans, timer.starts, start, end)
            if cut is not None:
                del buffer[:]
                total, a = self._speak_piece(text, start, cut, False, timer, total, sink)
                total, b = self._speak_piece(text, cut, end, clause_end, timer, total, sink)
                return total, a + b + 1
        for block in buffer:
            sink(block)
        timer.feed(events, start, total, n)
        return total + n, 0

    def _speak(self, piece: str, clause_end: bool = True) -> Tuple[List[tuple], int, int]:
        """One espeak_Synth call: audio to ``self._sink``; returns its events, its sample count
        and the most PHONEME events any one of its clauses had."""
        self._events = []
        self._samples = 0
        self._error = None
        data = _break_letter_dot_runs(piece.translate(_SANITIZE)).encode("utf-8") + b"\0"
        flags = espeakCHARS_UTF8 | (espeakENDPAUSE if clause_end else 0)
        rc = self.lib.espeak_Synth(data, len(data), 0, POS_CHARACTER, 0, flags, None, None)
        if self._error is not None:
            err = self._error
            self._error = None
            raise err
        if rc != 0:
            raise RpcError(ENGINE_FAILED, "espeak_Synth failed with error %d" % rc)
        n = self._samples
        events = self._events
        top = max((e[2] for e in events), default=0)
        if n and top > n + n // 100:
            # event samples counted before a speed-up stage: rescale to the audio
            events = [(a, b, c * n // top, d) for a, b, c, d in events]
        most = count = 0
        for e in events:
            t = e[0]
            if t == EV_PHONEME:
                count += 1
            elif t == EV_END or t == EV_MSG_TERMINATED:
                if count > most:
                    most = count
                count = 0
        return events, n, max(most, count)

    def speak(
        self,
        text: str,
        spans: Sequence[Tuple[int, int]],
        voice: Voice,
        speed: float,
        sink: Callable[[bytes], None],
        progress: Optional[Callable[[int, int, dict], None]] = None,
        should_stop: Optional[Callable[[], bool]] = None,
        isolate: Optional[bool] = None,
    ) -> Tuple[int, List[dict], int]:
        """Synthesize ``text`` chunk by chunk into ``sink`` (native-endian 16-bit PCM).

        Returns (samples, words, chunks). ``spans`` are the text's words (text.tokenize).
        ``words`` is empty when espeak spoke nothing (NO_SPEECH for the caller).

        libespeak-ng keeps state from one synthesis to the next that changes the audio (see
        ``_speak_isolated``), so by default (``isolate``, where os.fork exists) the synthesis
        runs in a forked child and this process's copy of the library never synthesizes:
        every request starts from the state right after load and equal requests give equal
        audio, the same as the espeak-ng command line's. ``isolate=False`` speaks in-process.
        """
        if not self.available:
            raise RpcError(ENGINE_FAILED, self.reason or "espeak is not available")
        if isolate is None:
            isolate = self.isolate
        if isolate:
            return self._speak_isolated(text, spans, voice, speed, sink, progress, should_stop)
        self._should_stop = should_stop
        try:
            return self._speak_all(text, spans, voice, speed, sink, progress, log.warning)
        finally:
            self._should_stop = None

    def _speak_all(self, text, spans, voice, speed, sink, progress, warn) -> Tuple[int, List[dict], int]:
        """Speak sentence by sentence. After each one ``progress(done, total, chunk)`` gets its
        char span, its sample span and the words timed for good so far (``_settled``), so a
        caller can pass the audio on while the rest is spoken."""
        rate = int(round(espeakRATE_NORMAL * speed))
        self._select(voice, rate)
        ends = [e for _, e in spans]
        chunks = []
        for cs, ce in sentence_chunks(text, CHUNK_CHARS):
            k = bisect_right(ends, cs)  # the first word ending after the chunk's start
            if k < len(spans) and spans[k][0] < ce:  # a chunk with no word is not spoken
                chunks.append((cs, ce))
        timer = WordTimer(text, spans)
        total = 0
        emitted = 0
        words: List[dict] = []
        try:
            for k, (cs, ce) in enumerate(chunks):
                cuts = 0
                begin = total
                for ps, pe, clause_end in espeak_pieces(text, cs, ce):
                    total, extra = self._speak_piece(text, ps, pe, clause_end, timer, total, sink)
                    cuts += extra
                if cuts:  # one line per chunk, however many cuts it took
                    warn("espeak-ng's phoneme list overflowed in characters %d..%d (a dense "
                         "clause); spoke it again in %d more pieces", cs, ce, cuts)
                last = k + 1 == len(chunks)
                if last:
                    words = timer.words(total, self.sample_rate)
                    settled, emitted = words[emitted:], len(spans)
                else:
                    settled, emitted = self._settled(timer, ce, total, emitted)
                if progress is not None:
                    progress(k + 1, len(chunks), {"chars": [cs, ce], "samples": [begin, total], "words": settled})
        finally:
            self._sink = None
            self._events = []
        return total, words, len(chunks)

    def _settled(self, timer: WordTimer, char_end: int, total: int, emitted: int) -> Tuple[List[dict], int]:
        """The words after ``emitted`` whose times the rest of the text can no longer change:
        those before the last timed word of what was spoken (that word's end, and the share of
        any untimed words after it, depend on what comes next). Timed as if the text ended at
        ``char_end``, which gives them exactly the times the whole text will."""
        hi = bisect_left(timer.starts, char_end)
        last = hi - 1
        while last > emitted and timer.first[last] is None:
            last -= 1
        if last <= emitted:
            return [], emitted
        return timer.words(total, self.sample_rate, upto=hi)[emitted:last], last

    # ---------------------------------------------------------------- one synthesis per child
    # Why: libespeak-ng 1.51 keeps state between espeak_Synth calls that no API call resets.
    #  * wavegen.c SetPitchFormants: "static int Flutter_ix", the phase of the pitch flutter,
    #    advances every 64 samples of speech and is never reset (only wraps), so the pitch
    #    periods, and with them the length of each voiced stretch, differ from call to call
    #    (117459..117474 samples for the same sentence).
    #  * state left by a number: after any text with "2025" in it, clause and sentence pauses
    #    of later calls are ~49 ms longer (116380 samples the first time, ~117465 after);
    #    espeak_SetVoiceByName, even of another voice, does not reset it.
    # A fork per request gives every synthesis the state right after load (what the CLI has).
    # The child sends its audio, progress and warnings back over a pipe and the parent calls
    # sink/progress and polls should_stop (a cancel kills the child). A crash of libespeak-ng
    # (it smashes its stack on some input) costs the request, not the worker.
    isolate = hasattr(os, "fork")

    def _speak_isolated(self, text, spans, voice, speed, sink, progress, should_stop):
        r, w = os.pipe()
        try:
            pid = os.fork()
        except OSError as e:
            os.close(r)
            os.close(w)
            raise RpcError(ENGINE_FAILED, "could not fork a synthesis process: %s" % e)
        if pid == 0:  # the child: never returns
            os.close(r)
            self._child(w, text, spans, voice, speed)
        os.close(w)
        result = error = None
        finished = False

        def read(n: int) -> Optional[bytearray]:
            """n bytes from the child, polling should_stop meanwhile; None at EOF."""
            out = bytearray(n)
            view = memoryview(out)
            got = 0
            while got < n:
                if should_stop is not None and should_stop():
                    raise RpcError(CANCELLED, "synthesis was cancelled")
                if not select.select([r], [], [], 0.01)[0]:  # 10 ms: how soon a cancel is seen
                    continue
                k = os.readv(r, [view[got:]])
                if k == 0:
                    return None
                got += k
            return out

        try:
            while True:
                head = read(_MSG.size)
                if head is None:
                    break
                tag, size = _MSG.unpack(head)
                payload = read(size) if size else bytearray()
                if payload is None:
                    break
                if tag == b"A":
                    sink(payload)
                elif tag == b"P":
                    if progress is not None:
                        progress(*pickle.loads(payload))
                elif tag == b"W":
                    log.warning("%s", payload.decode("utf-8", "replace"))
                elif tag == b"R":
                    result = pickle.loads(payload)
                elif tag == b"E":
                    code, message = pickle.loads(payload)
                    error = RpcError(code, message)
            finished = True
        finally:
            os.close(r)
            if not finished:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            _, status = os.waitpid(pid, 0)
        if error is not None:
            raise error
        if result is None:
            if os.WIFSIGNALED(status):
                why = "was killed by signal %d" % os.WTERMSIG(status)
            else:
                why = "exited with status %d" % os.waitstatus_to_exitcode(status)
            raise RpcError(ENGINE_FAILED, "espeak-ng's synthesis process %s before it finished "
                           "(libespeak-ng crashed on this text?)" % why)
        return result

    def _child(self, w: int, text, spans, voice, speed) -> None:
        """The forked child: speak, send everything to the parent, exit. Never returns."""
        code = 0
        try:
            gc.disable()  # a collection would touch every object: copy-on-write of the heap
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, signal.SIG_DFL)

            def send(tag: bytes, payload) -> None:
                view = memoryview(_MSG.pack(tag, len(payload)))
                while view:
                    view = view[os.write(w, view):]
                view = memoryview(payload)
                while view:
                    view = view[os.write(w, view):]

            def warn(msg: str, *args) -> None:
                send(b"W", (msg % args).encode("utf-8", "replace"))

            try:
                result = self._speak_all(text, spans, voice, speed, lambda b: send(b"A", b),
                                         lambda d, t, c: send(b"P", pickle.dumps((d, t, c), pickle.HIGHEST_PROTOCOL)), warn)
                send(b"R", pickle.dumps(result, pickle.HIGHEST_PROTOCOL))
            except RpcError as e:
                send(b"E", pickle.dumps((e.code, e.message)))
            except Exception as e:
                send(b"E", pickle.dumps((ENGINE_FAILED, "espeak synthesis failed: %s: %s"
                                         % (type(e).__name__, e))))
        except BaseException:  # the parent went away (EPIPE), or worse: just leave
            code = 1
        finally:
            os._exit(code)

    # ---------------------------------------------------------------- the Engine interface
    def estimate_seconds(self, text, spans, params) -> float:
        """A low estimate from the words (measured with libespeak-ng 1.51: about 0.05 s a letter,
        0.5 s a Han or kana character; a long run of one letter is spelled faster)."""
        total = 0.0
        for a, b in spans:
            total += 0.35 if b - a == 1 and is_cjk(ord(text[a])) else min(0.04 * (b - a), 5.0)
        return total / params.speed

    def synthesize(self, text, spans, params, out_path: str, job: Job) -> dict:
        voice = self.resolve_voice(params.voice or params.language or "en-us")
        t0 = time.perf_counter()
        with wav.WavWriter(out_path, self.sample_rate, max_seconds=params.max_audio_s) as w:
            file = os.path.basename(w.tmp_path)

            def progress(done: int, total: int, chunk: dict) -> None:
                # The chunk's samples are on disk before the gateway hears of them: it streams
                # them from the growing temp file by their span.
                w.flush()
                job.progress(done, total, file=file, sample_rate=self.sample_rate, **chunk)

            samples, words, chunks = self.speak(text, spans, voice, params.speed, w.write, progress, job.should_stop)
            if samples == 0 or not words:
                raise RpcError(NO_SPEECH, "espeak produced no speech for this text")
            t1 = time.perf_counter()
            w.commit()
        t2 = time.perf_counter()
        sr = self.sample_rate
        log.info("synthesize id=%s espeak %s %d chars -> %.2f s audio, %d words, %d chunks, %.1f ms",
                 job.id, voice.canonical, len(text), samples / sr, len(words), chunks, (t2 - t0) * 1000)
        return {
            "voice": voice.canonical,
            "sample_rate": sr,
            "samples": samples,
            "duration": round(samples / sr, 3),
            "words": words,
            "timings_ms": {"synthesize": round((t1 - t0) * 1000, 1), "write": round((t2 - t1) * 1000, 1)},
        }
