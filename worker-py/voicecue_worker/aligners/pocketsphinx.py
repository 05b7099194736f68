"""The `pocketsphinx` aligner (cpu lane, English): forced alignment with PocketSphinx.

Debian's libpocketsphinx3 and its US English model (pocketsphinx-en-us) through ctypes, as the
espeak engine uses libespeak-ng: the worker stays on the standard library (no venv at run
time, nothing to download), and the library is the one every Debian machine gets with apt. The
PyPI package would bring a newer decoder but would make the CPU lane need a virtualenv.

How a text is aligned:
- Each word of the text (voicecue's tokenizer) becomes a slot of a finite-state grammar; a slot
  holds every reading of the word (spoken_en: "1998" nineteen ninety eight / one thousand nine
  hundred (and) ninety eight; "$12" with and without "dollars"), so the audio picks the reading,
  and the word keeps its own character span however many words were spoken for it. Silence
  may come between any two words (-fsgusefiller).
- Pronunciations come from the model's CMU dictionary; a word it lacks gets espeak-ng's
  phonemes mapped onto the CMU phone set, added to the decoder's dictionary once.
- A decode that never reaches the grammar's final state (pruned away) is tried again with wide
  beams, then with a tolerant grammar: any word may be skipped at a price, and a loop of phones
  at the start, the end and each sentence end takes speech the text lacks. The tolerant grammar
  is also tried when a strict decode put a long silence over speech as loud as the words (the
  audio has a sentence the text lacks). Skipped words are interpolated with low confidence.
- Audio longer than a window (WINDOW_S) is aligned window by window: each window ends at a
  quiet moment and is decoded against the next stretch of text with a grammar that may end
  after any word; the words that end well inside the window are kept (the anchors) and the next
  window starts where they end. Memory stays bounded by the window, cost grows linearly.
- Audio the model fits badly (its words score low per frame) is decoded twice: the second
  time with the model adapted to this voice and channel by an MLLR transform estimated from
  the first decode (mllr.py); the decoder is reset to the model as loaded afterwards.
- Confidence: the word's acoustic score per frame against the median word of its decode, less
  for a duration implausible for its phones; interpolated words get 0.05. A heuristic, not a
  posterior: it separates words the audio holds from words it lacks, not much more.
- Times are on PocketSphinx's 10 ms frame grid (ends shifted by half a frame, measured on the
  corpus's dev set, bench/corpus/make.py).
"""

from __future__ import annotations

import ctypes
import logging
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import wave
from typing import Dict, List, Optional, Sequence, Tuple

import warnings

from ..errors import ENGINE_FAILED, INVALID_PARAMS, RpcError
from ..plugins import Aligner, Job
from . import spoken_en

with warnings.catch_warnings():  # C resampling in the standard library up to Python 3.12
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import audioop  # type: ignore
    except ImportError:  # Python 3.13+: ffmpeg converts, frame levels in Python
        audioop = None

log = logging.getLogger("voicecue")

SR = 16000
FRAME_S = 0.01
#: Shifts from frame boundaries to times, measured on the corpus's dev set (bench/corpus):
#: starts sit on the truth (median 0 ms), ends half a frame late.
BOUNDARY_SHIFT_S = 0.0
END_SHIFT_S = -0.005
WINDOW_S = 40.0  # audio longer than this is aligned window by window (a decode slows as its grammar grows)
PAUSE_SEARCH_S = 6.0  # a window ends at the quietest moment of its last this many seconds
END_FROM = 0.3  # a window's grammar may end after any word past this share of its text
KEEP_MARGIN_S = 8.0  # words ending this close to a window's end wait for the next window
MODEL_DIRS = ("/usr/share/pocketsphinx/model/en-us",)
LIB_NAMES = (("libpocketsphinx.so.3", "libpocketsphinx.so"), ("libsphinxbase.so.3", "libsphinxbase.so"))
DECODER_ARGS = {"-remove_silence": "no", "-bestpath": "no", "-fsgusefiller": "yes", "-fsgusealtpron": "yes", "-topn": "3"}
NORMAL_BEAMS = {"-beam": 1e-48, "-wbeam": 7e-29, "-pbeam": 1e-48}
WIDE_BEAMS = {"-beam": 1e-80, "-wbeam": 1e-60, "-pbeam": 1e-80}
SKIP_PROB = 1e-3  # tolerant grammar: the price of leaving a word out (scaled by -lw)
INTERPOLATED_CONFIDENCE = 0.05
MIN_AUDIO_S = 0.05
MISMATCH_SIL_FRAMES = 40  # a strict decode's silence this long, as loud as the words (its
MISMATCH_DB = 4.0  # median within this many dB of theirs), is speech the text lacks
GARBAGE_PROB = 1e-4  # tolerant grammar: entering the phone loop for speech the text lacks
PHONE_PROB = 1e-3  # ... and each phone in it
PHONES = ("AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH "
          "UH UW V W Y Z ZH").split()
FILLERS = frozenset(("<s>", "</s>", "<sil>", "[NOISE]", "[SPEECH]", "(NULL)"))
#: Speaker adaptation (a second, MLLR-adapted pass) for audio whose words score worse per frame
#: than any clean file of the corpus's dev set did (noise, reverberation, a telephone band).
ADAPT_BELOW = -16.0
MAX_G2P_CACHE = 20000
MAX_ADDED_WORDS = 100000  # past this, words the dictionary lacks are interpolated, not decoded

P = ctypes.c_void_p
I32P = ctypes.POINTER(ctypes.c_int32)


class _FsgModel(ctypes.Structure):
    """The head of sphinxbase's fsg_model_t (fsg_model.h), for its start and final states."""
    _fields_ = [("refcount", ctypes.c_int), ("name", ctypes.c_char_p), ("n_word", ctypes.c_int32),
                ("n_word_alloc", ctypes.c_int32), ("vocab", P), ("silwords", P), ("altwords", P),
                ("lmath", P), ("n_state", ctypes.c_int32), ("start_state", ctypes.c_int32),
                ("final_state", ctypes.c_int32), ("lw", ctypes.c_float)]


def _declare(ps, sb) -> None:
    for lib, name, res, args in (
        (ps, "ps_args", P, []),
        (sb, "cmd_ln_init", P, None),
        (ps, "ps_init", P, [P]),
        (ps, "ps_get_config", P, [P]),
        (ps, "ps_get_logmath", P, [P]),
        (sb, "cmd_ln_set_float_r", None, [P, ctypes.c_char_p, ctypes.c_double]),
        (sb, "logmath_log", ctypes.c_int, [P, ctypes.c_double]),
        (sb, "fsg_model_init", P, [ctypes.c_char_p, P, ctypes.c_float, ctypes.c_int32]),
        (sb, "fsg_model_word_add", ctypes.c_int, [P, ctypes.c_char_p]),
        (sb, "fsg_model_trans_add", None, [P, ctypes.c_int32, ctypes.c_int32, ctypes.c_int32, ctypes.c_int32]),
        (sb, "fsg_model_null_trans_add", ctypes.c_int32, [P, ctypes.c_int32, ctypes.c_int32, ctypes.c_int32]),
        (sb, "fsg_model_null_trans_closure", P, [P, P]),
        (sb, "fsg_model_free", ctypes.c_int, [P]),
        (ps, "ps_set_fsg", ctypes.c_int, [P, ctypes.c_char_p, P]),
        (ps, "ps_set_search", ctypes.c_int, [P, ctypes.c_char_p]),
        (ps, "ps_lookup_word", P, [P, ctypes.c_char_p]),  # a string the caller frees
        (sb, "ckd_free", None, [P]),
        (ps, "ps_add_word", ctypes.c_int, [P, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int]),
        (ps, "ps_start_utt", ctypes.c_int, [P]),
        (ps, "ps_start_stream", ctypes.c_int, [P]),
        (ps, "ps_process_raw", ctypes.c_int, [P, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int]),
        (ps, "ps_end_utt", ctypes.c_int, [P]),
        (ps, "ps_get_hyp", ctypes.c_char_p, [P, I32P]),
        (ps, "ps_seg_iter", P, [P]),
        (ps, "ps_seg_next", P, [P]),
        (ps, "ps_seg_free", None, [P]),
        (ps, "ps_seg_word", ctypes.c_char_p, [P]),
        (ps, "ps_seg_frames", None, [P, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int)]),
        (ps, "ps_seg_prob", ctypes.c_int32, [P, I32P, I32P, I32P]),
    ):
        f = getattr(lib, name)
        f.restype = res
        if args is not None:
            f.argtypes = args


# ---------------------------------------------------------------- espeak phonemes -> CMU phones
# espeak-ng's IPA for en-us, longest symbols first; stress and length marks are dropped.
_IPA = [
    ("aɪə", "AY ER"), ("aʊə", "AW ER"), ("ɑːɹ", "AA R"), ("ɔːɹ", "AO R"), ("oːɹ", "AO R"), ("ɛɹ", "EH R"),
    ("ɪɹ", "IH R"), ("ʊɹ", "UH R"), ("əl", "AH L"), ("aɪ", "AY"), ("aʊ", "AW"), ("eɪ", "EY"),
    ("oʊ", "OW"), ("əʊ", "OW"), ("ɔɪ", "OY"), ("tʃ", "CH"), ("dʒ", "JH"), ("ɜː", "ER"), ("ɚ", "ER"),
    ("ɝ", "ER"), ("ɑ", "AA"), ("æ", "AE"), ("ʌ", "AH"), ("ə", "AH"), ("ɐ", "AH"), ("ɔ", "AO"),
    ("ɛ", "EH"), ("e", "EH"), ("ɜ", "ER"), ("ɪ", "IH"), ("ᵻ", "IH"), ("i", "IY"), ("o", "OW"),
    ("ʊ", "UH"), ("u", "UW"), ("a", "AA"), ("b", "B"), ("d", "D"), ("ð", "DH"), ("f", "F"),
    ("ɡ", "G"), ("g", "G"), ("h", "HH"), ("k", "K"), ("l", "L"), ("m", "M"), ("n", "N"), ("ŋ", "NG"),
    ("p", "P"), ("ɹ", "R"), ("r", "R"), ("s", "S"), ("ʃ", "SH"), ("t", "T"), ("θ", "TH"), ("v", "V"),
    ("w", "W"), ("j", "Y"), ("z", "Z"), ("ʒ", "ZH"), ("ɾ", "D"), ("ʔ", "T"), ("x", "HH"), ("ɬ", "L"),
]
_IPA_DROP = set("ˈˌːˑ‿̩̃ ")


def ipa_to_cmu(ipa: str) -> List[str]:
    s = "".join(ch for ch in ipa if ch not in _IPA_DROP)
    out: List[str] = []
    i = 0
    while i < len(s):
        for sym, cmu in _IPA:
            if s.startswith(sym, i):
                out += cmu.split()
                i += len(sym)
                break
        else:
            i += 1  # a symbol with no CMU counterpart
    return out


class _G2P:
    """Letter to sound for words the dictionary lacks: espeak-ng's IPA, in one call a request."""

    def __init__(self) -> None:
        self.exe = shutil.which("espeak-ng") or shutil.which("espeak")
        self.cache: Dict[str, List[str]] = {}

    def phones(self, words: Sequence[str]) -> Dict[str, List[str]]:
        todo = [w for w in dict.fromkeys(words) if w not in self.cache]
        if todo and self.exe:
            clean = [re.sub(r"[^\w' -]", " ", w).strip() or "x" for w in todo]
            try:
                out = subprocess.run([self.exe, "-q", "--ipa", "-v", "en-us"], input="\n".join(clean) + "\n",
                                     capture_output=True, text=True, timeout=30).stdout.splitlines()
            except (OSError, subprocess.SubprocessError) as e:
                log.warning("espeak-ng phonemes failed: %s", e)
                out = []
            lines = [ln for ln in out if ln.strip()]
            if len(lines) == len(todo):
                if len(self.cache) > MAX_G2P_CACHE:
                    self.cache.clear()
                for w, ln in zip(todo, lines):
                    self.cache[w] = ipa_to_cmu(ln)
        return {w: self.cache.get(w, []) for w in words}


# ---------------------------------------------------------------- audio in, 16 kHz mono
class _Audio:
    """16 kHz mono 16-bit samples of the request's audio, read a window at a time."""

    def __init__(self, path: str):
        self.tmp: Optional[str] = None
        self.path = path
        try:
            self._open(path)
        except (wave.Error, EOFError, RpcError):
            self._open(self._convert(path))

    def _open(self, path: str) -> None:
        w = wave.open(path, "rb")
        self.w = w
        self.rate, self.channels, self.width = w.getframerate(), w.getnchannels(), w.getsampwidth()
        self.frames = w.getnframes()
        if (self.rate, self.channels, self.width) != (SR, 1, 2) and audioop is None:
            w.close()
            raise RpcError(INVALID_PARAMS, "needs conversion")
        self.duration = self.frames / float(self.rate) if self.rate else 0.0

    def _convert(self, path: str) -> str:
        exe = shutil.which("ffmpeg")
        if not exe:
            raise RpcError(INVALID_PARAMS, "audio_path is not a 16-bit PCM WAV file, and ffmpeg is not installed to convert it")
        fd, tmp = tempfile.mkstemp(prefix="voicecue-align-", suffix=".wav")
        os.close(fd)
        self.tmp = tmp
        r = subprocess.run([exe, "-nostdin", "-loglevel", "error", "-y", "-i", path, "-ac", "1", "-ar", str(SR),
                            "-c:a", "pcm_s16le", "-f", "wav", tmp], capture_output=True, text=True)
        if r.returncode != 0:
            self.close()
            raise RpcError(INVALID_PARAMS, "audio_path is not audio ffmpeg can read: %s" % (r.stderr.strip()[-300:] or "failed"))
        return tmp

    def read(self, t0: float, t1: float) -> bytes:
        """Samples from t0 to t1 seconds, as 16 kHz mono 16-bit native-endian PCM."""
        a = max(0, int(t0 * self.rate))
        b = min(self.frames, int(math.ceil(t1 * self.rate)))
        if b <= a:
            return b""
        self.w.setpos(a)
        data = self.w.readframes(b - a)
        if self.width != 2:
            data = audioop.lin2lin(data, self.width, 2) if self.width != 1 else audioop.lin2lin(
                audioop.bias(data, 1, -128), 1, 2)
        if self.channels == 2:
            data = audioop.tomono(data, 2, 0.5, 0.5)
        elif self.channels > 2:  # keep the first channel
            data = b"".join(data[i:i + 2] for i in range(0, len(data), 2 * self.channels))
        if self.rate != SR:
            data, _ = audioop.ratecv(data, 2, 1, self.rate, SR, None)
        if sys.byteorder == "big":  # WAV is little-endian; the decoder takes native samples
            data = audioop.byteswap(data, 2)
        return data

    def close(self) -> None:
        w = getattr(self, "w", None)
        if w is not None:
            w.close()
        if self.tmp:
            try:
                os.unlink(self.tmp)
            except OSError:
                pass
            self.tmp = None


def frame_db(pcm: bytes) -> List[float]:
    """The level of each 10 ms frame in dB (16-bit full scale is about 90 dB)."""
    step = int(SR * FRAME_S) * 2
    out = []
    for i in range(0, len(pcm) - step + 1, step):
        r = audioop.rms(pcm[i:i + step], 2) if audioop is not None else _rms(pcm[i:i + step])
        out.append(20 * math.log10(r + 1.0))
    return out


def _rms(frame: bytes) -> float:  # Python 3.13+, without audioop
    import array
    a = array.array("h")
    a.frombytes(frame)
    if sys.byteorder != "little":
        a.byteswap()
    return math.sqrt(sum(x * x for x in a) / max(1, len(a)))


# ---------------------------------------------------------------- the grammar
class _Slot:
    """One word of the text: its readings, each a list of dictionary words."""
    __slots__ = ("index", "alts", "phones", "sentence_end")

    def __init__(self, index: int, alts: List[List[str]], phones: int, sentence_end: bool = False):
        self.index = index
        self.alts = alts
        self.phones = phones  # phones of the first reading, for duration checks
        self.sentence_end = sentence_end  # a sentence ends after this word


class _Segment:
    __slots__ = ("word", "sf", "ef", "ascr")

    def __init__(self, word: str, sf: int, ef: int, ascr: int):
        self.word, self.sf, self.ef, self.ascr = word, sf, ef, ascr


class PocketsphinxAligner(Aligner):
    name = "pocketsphinx"
    lane = "cpu"

    def __init__(self) -> None:
        super().__init__()
        self.ps = self.sb = None
        self.decoder = None
        self.model_dir: Optional[str] = None
        self.phone_words: List[str] = []
        self.g2p = _G2P()
        self._added = 0  # words added to the decoder's dictionary (it cannot forget them)
        self._phone_count: Dict[str, int] = {}

    # ------------------------------------------------------------ loading
    def load(self) -> None:
        libs = []
        for names in LIB_NAMES:
            lib = None
            for n in names:
                try:
                    lib = ctypes.CDLL(n)
                    break
                except OSError:
                    continue
            if lib is None:
                self.available, self.reason = False, "%s not found (apt-get install libpocketsphinx3)" % names[0]
                return
            libs.append(lib)
        self.ps, self.sb = libs
        self.model_dir = next((d for d in MODEL_DIRS if os.path.isfile(os.path.join(d, "en-us", "mdef"))), None)
        if self.model_dir is None:
            self.available, self.reason = False, "the US English model is missing (apt-get install pocketsphinx-en-us)"
            return
        _declare(self.ps, self.sb)
        args = ["-hmm", os.path.join(self.model_dir, "en-us"), "-dict", os.path.join(self.model_dir, "cmudict-en-us.dict"),
                "-logfn", os.devnull, *[x for kv in DECODER_ARGS.items() for x in kv]]
        cargs = [ctypes.c_char_p(a.encode()) for a in args]
        config = self.sb.cmd_ln_init(None, ctypes.c_void_p(self.ps.ps_args()), 1, *cargs, None)
        if not config:
            self.available, self.reason = False, "pocketsphinx rejected its configuration"
            return
        self.decoder = self.ps.ps_init(config)
        if not self.decoder:
            self.available, self.reason = False, "pocketsphinx could not load the model in %s" % self.model_dir
            return
        self.config = self.ps.ps_get_config(self.decoder)
        self.phone_words = []
        for ph in PHONES:  # one-phone words for the tolerant grammar's phone loop
            w = "vcg_" + ph.lower()
            if self.ps.ps_add_word(self.decoder, w.encode(), ph.encode(), 1) >= 0:
                self.phone_words.append(w)
        self.lmath = self.ps.ps_get_logmath(self.decoder)
        self.adapter = None
        if os.environ.get("VOICECUE_PS_ADAPT", "mllr") != "none":
            try:
                from . import mllr
                self.adapter = mllr.Adapter(self.ps, self.sb, self.decoder, os.path.join(self.model_dir, "en-us"))
            except (ImportError, OSError, ValueError) as e:  # numpy missing, another model: one pass
                log.warning("pocketsphinx: no speaker adaptation (%s)", e)
        self.available, self.reason = True, None

    def language_codes(self) -> List[str]:
        return ["en"]

    def details(self) -> dict:
        return {**super().details(), "model": self.model_dir, "sample_rate": SR}

    def versions(self) -> dict:
        return {"pocketsphinx": "5prealpha (Debian libpocketsphinx3)" if self.available else None}

    # ------------------------------------------------------------ pronunciations
    def _phones_of(self, word: str) -> Optional[int]:
        n = self._phone_count.get(word)
        if n is None:
            n = len(self._pronunciation(word))
            if len(self._phone_count) < 200000:
                self._phone_count[word] = n
        return n or None

    def _slots(self, text: str, spans: Sequence[Tuple[int, int]]) -> List[_Slot]:
        readings = [spoken_en.readings(text[s:e]) for s, e in spans]
        unknown = {t for rs in readings for r in rs for t in r if self._phones_of(t) is None}
        if unknown:
            for w, phones in self.g2p.phones(sorted(unknown)).items():
                if phones and self._valid_word(w) and self._added < MAX_ADDED_WORDS:
                    if self.ps.ps_add_word(self.decoder, w.encode("utf-8"), " ".join(phones).encode(), 1) >= 0:
                        self._phone_count[w] = len(phones)
                        self._added += 1
        slots = []
        for i, rs in enumerate(readings):
            alts = [r for r in rs if all(self._phones_of(t) for t in r)]
            phones = sum(self._phones_of(t) or 0 for t in alts[0]) if alts else 0
            after = text[spans[i][1]:spans[i + 1][0] if i + 1 < len(spans) else len(text)]
            slots.append(_Slot(i, alts, phones, bool(re.search(r"[.!?;\n\u2026]", after))))
        return slots

    @staticmethod
    def _valid_word(w: str) -> bool:
        return bool(w) and not any(ch.isspace() for ch in w) and len(w.encode("utf-8")) < 200

    # ------------------------------------------------------------ one decode
    def _fsg(self, slots: Sequence[_Slot], end_anywhere: bool, skips: bool):
        sb, lm = self.sb, self.lmath
        # the tolerant grammar may also pass speech the text lacks through a loop of phones
        # at the start, the end and each sentence end
        garbage = [0] + [k + 1 for k, s in enumerate(slots) if s.sentence_end or k == len(slots) - 1] \
            if skips and self.phone_words else []
        n_states = 1 + len(slots) + sum(len(r) - 1 for s in slots for r in s.alts) + 1 + len(garbage)
        fsg = sb.fsg_model_init(b"align", lm, ctypes.c_float(1.0), n_states)
        head = _FsgModel.from_address(fsg)
        wids: Dict[str, int] = {}
        one = sb.logmath_log(lm, 1.0)
        nxt = len(slots) + 1  # states 0..len(slots) are the slot boundaries
        nulls = False
        final = len(slots)
        for k, s in enumerate(slots):
            a, b = k, k + 1
            for r in s.alts:
                prev = a
                for j, t in enumerate(r):
                    wid = wids.get(t)
                    if wid is None:
                        wid = wids[t] = sb.fsg_model_word_add(fsg, t.encode("utf-8"))
                    to = b if j == len(r) - 1 else nxt
                    if to == nxt:
                        nxt += 1
                    sb.fsg_model_trans_add(fsg, prev, to, one, wid)
                    prev = to
            if not s.alts or skips:
                sb.fsg_model_null_trans_add(fsg, a, b, one if not s.alts else sb.logmath_log(lm, SKIP_PROB))
                nulls = True
            if end_anywhere and k >= len(slots) * END_FROM:
                sb.fsg_model_null_trans_add(fsg, a, final, one)
                nulls = True
        head.start_state, head.final_state = 0, final
        if garbage:
            enter, loop = sb.logmath_log(lm, GARBAGE_PROB), sb.logmath_log(lm, PHONE_PROB)
            for b in dict.fromkeys(garbage):
                g = nxt
                nxt += 1
                for pw in self.phone_words:
                    wid = wids.get(pw)
                    if wid is None:
                        wid = wids[pw] = sb.fsg_model_word_add(fsg, pw.encode())
                    sb.fsg_model_trans_add(fsg, b, g, enter, wid)
                    sb.fsg_model_trans_add(fsg, g, g, loop, wid)
                sb.fsg_model_null_trans_add(fsg, g, b, one)
                nulls = True
        if nulls:
            sb.fsg_model_null_trans_closure(fsg, None)
        return fsg

    def _forget(self) -> None:
        """The front end's noise estimate (5prealpha's noise removal) carries over from one
        utterance to the next; a new stream starts it afresh, so the same audio always decodes
        the same, whatever came before it."""
        self.ps.ps_start_stream(self.decoder)

    def _set_beams(self, beams: Dict[str, float]) -> None:
        for k, v in beams.items():
            self.sb.cmd_ln_set_float_r(self.config, k.encode(), v)

    def _decode(self, pcm: bytes, slots: Sequence[_Slot], end_anywhere: bool, skips: bool,
                wide: bool) -> Optional[List[_Segment]]:
        ps, dec = self.ps, self.decoder
        self._set_beams(WIDE_BEAMS if wide else NORMAL_BEAMS)
        fsg = self._fsg(slots, end_anywhere, skips)
        ok = ps.ps_set_fsg(dec, b"align", fsg) >= 0
        self.sb.fsg_model_free(fsg)  # the search holds its own reference (and frees the last one)
        if not ok:
            raise RpcError(ENGINE_FAILED, "pocketsphinx refused the alignment grammar")
        ps.ps_set_search(dec, b"align")
        self._forget()
        if ps.ps_start_utt(dec) < 0:
            raise RpcError(ENGINE_FAILED, "pocketsphinx could not start an utterance")
        ps.ps_process_raw(dec, pcm, len(pcm) // 2, 0, 1)
        ps.ps_end_utt(dec)
        score = ctypes.c_int32()
        if not ps.ps_get_hyp(dec, ctypes.byref(score)):
            return None
        segs: List[_Segment] = []
        sf, ef = ctypes.c_int(), ctypes.c_int()
        a, lsc, lb = ctypes.c_int32(), ctypes.c_int32(), ctypes.c_int32()
        it = ps.ps_seg_iter(dec)
        while it:
            ps.ps_seg_frames(it, ctypes.byref(sf), ctypes.byref(ef))
            ps.ps_seg_prob(it, ctypes.byref(a), ctypes.byref(lsc), ctypes.byref(lb))
            w = ps.ps_seg_word(it).decode("utf-8", "replace")
            segs.append(_Segment(w, sf.value, ef.value, a.value))
            it = ps.ps_seg_next(it)
        return segs

    @staticmethod
    def _parse(segs: Sequence[_Segment], slots: Sequence[_Slot], need_all: bool):
        """Map the decoded words back onto the slots: {slot position: (sf, ef, ascr)}, or None
        when the words do not walk the grammar to its end (a decode pruned early)."""
        words = [s for s in segs if s.word not in FILLERS and not s.word.startswith(("++", "vcg_"))]
        base = [re.sub(r"\(\d+\)$", "", s.word) for s in words]
        out: Dict[int, Tuple[int, int, int]] = {}
        j = 0
        m = len(words)
        for k, slot in enumerate(slots):
            if j >= m:
                if need_all and any(s.alts for s in slots[k:]):
                    return None
                break
            best = None
            for r in sorted(slot.alts, key=len, reverse=True):
                if base[j:j + len(r)] == r:
                    after = j + len(r)
                    nxt = slots[k + 1] if k + 1 < len(slots) else None
                    if after == m or nxt is None or any(base[after] == r2[0] for r2 in nxt.alts) or not need_all:
                        best = r
                        break
                    best = best or r
            if best is None:
                continue  # skipped (a null arc of the tolerant grammar)
            ws = words[j:j + len(best)]
            out[k] = (ws[0].sf, ws[-1].ef, sum(w.ascr for w in ws))
            j += len(best)
        if j < m and need_all:
            return None
        return out

    def _align_piece(self, pcm: bytes, slots: Sequence[_Slot], end_anywhere: bool, job: Job):
        """Decode one piece of audio against ``slots``: strict, then wide beams, then tolerant."""
        # (skips, wide beams): the tolerant grammar keeps normal beams, as its phone loops
        # with wide beams cost tens of times more time and memory
        tries = ((False, False), (False, True), (True, False))
        for skips, wide in tries:
            job.check()
            segs = self._decode(pcm, slots, end_anywhere, skips, wide)
            if segs is None:
                continue
            got = self._parse(segs, slots, need_all=not end_anywhere and not skips)
            if got is not None and (got or not any(s.alts for s in slots)):
                if not skips and self._mismatched(segs, pcm):
                    log.info("pocketsphinx: the text and the audio look mismatched; trying the tolerant grammar")
                    skips = True
                    tolerant = self._decode(pcm, slots, end_anywhere, True, False)
                    better = self._parse(tolerant, slots, need_all=False) if tolerant else None
                    if not better:
                        return got, False
                    segs, got = tolerant, better
                return self._adapted(pcm, slots, end_anywhere, skips, wide, segs, got, job), skips
            log.info("pocketsphinx: decode %s did not reach the end of the grammar; retrying",
                     "with wide beams" if not wide else "tolerant")
        return {}, True

    def _adapted(self, pcm: bytes, slots: Sequence[_Slot], end_anywhere: bool, skips: bool, wide: bool,
                 segs: Sequence[_Segment], got, job: Job):
        """The second pass: the same decode with the model adapted (MLLR) to this audio's voice
        and channel, estimated from the first pass's words; the first pass's words where the
        adapted decode does not walk the grammar."""
        words = [g for g in segs if g.word not in FILLERS and not g.word.startswith(("vcg_", "++"))]
        frames = sum(g.ef - g.sf + 1 for g in words)
        if self.adapter is None or not frames or sum(g.ascr for g in words) / frames >= ADAPT_BELOW:
            return got  # a voice and channel the model already fits: one pass
        job.check()
        # speech only, the words and the phone loop's phones: under noise, silence and fillers
        # would pull the transform toward the noise
        timed = [([g.word[4:].upper()] if g.word.startswith("vcg_") else self._pronunciation(g.word), g.sf, g.ef)
                 for g in segs if g.word not in FILLERS and not g.word.startswith("++")]
        timed = [t for t in timed if t[0]]
        try:
            if not self.adapter.adapt(pcm, timed):
                return got
            again = self._decode(pcm, slots, end_anywhere, skips, wide)
        finally:
            self.adapter.reset()
        better = self._parse(again, slots, need_all=not end_anywhere and not skips) if again else None
        return better if better else got

    def _pronunciation(self, word: str) -> List[str]:
        """The dictionary's phones for ``word`` (an alternate as ``word(2)``); none when it lacks it."""
        p = self.ps.ps_lookup_word(self.decoder, word.encode("utf-8"))
        if not p:
            return []
        try:
            return ctypes.string_at(p).decode().split()
        finally:
            self.sb.ckd_free(p)

    @staticmethod
    def _mismatched(segs: Sequence[_Segment], pcm: bytes) -> bool:
        """Speech where a strict decode put a long silence: the audio holds words the text
        lacks (a strict grammar has nowhere else to put them)."""
        long_sil = [g for g in segs if g.word in FILLERS and g.ef - g.sf + 1 >= MISMATCH_SIL_FRAMES]
        if not long_sil:
            return False
        db = frame_db(pcm)
        words = sorted(db[f] for g in segs if g.word not in FILLERS for f in range(g.sf, min(g.ef + 1, len(db))))
        if not words:
            return False
        speech = words[len(words) // 2]
        for g in long_sil:
            lv = sorted(db[g.sf:g.ef + 1])
            # as loud as the words, not a noise floor 10 dB under them (other talkers, noise)
            if lv and lv[len(lv) // 2] >= speech - MISMATCH_DB and lv[len(lv) * 3 // 4] >= speech - 1.0:
                return True
        return False

    # ------------------------------------------------------------ the request
    def align(self, audio_path: str, text: str, spans: Sequence[Tuple[int, int]], language: Optional[str],
              segments: Optional[List[dict]], job: Job) -> List[dict]:
        if language and not language.lower().startswith("en"):
            raise RpcError(INVALID_PARAMS, "the pocketsphinx aligner speaks English only, not %r" % language)
        audio = _Audio(audio_path)
        try:
            duration = audio.duration
            if duration < MIN_AUDIO_S:
                raise RpcError(INVALID_PARAMS, "the audio is too short to align: %.3f s" % duration)
            slots = self._slots(text, spans)
            timed: Dict[int, Tuple[float, float, float]] = {}
            if duration <= WINDOW_S:
                job.progress(0, 1)
                pcm = audio.read(0, duration)
                got, tolerant = self._align_piece(pcm, slots, False, job)
                timed = self._times(got, slots, 0.0, tolerant)
                job.progress(1, 1)
            else:
                timed = self._align_long(audio, slots, duration, job)
        finally:
            audio.close()
        return self._emit(text, spans, slots, timed, duration)

    def _align_long(self, audio: _Audio, slots: List[_Slot], duration: float, job: Job):
        timed: Dict[int, Tuple[float, float, float]] = {}
        k = 0
        t0 = 0.0
        n = len(slots)
        total = max(1, int(math.ceil(duration / (WINDOW_S - KEEP_MARGIN_S))))
        step = 0
        while k < n and t0 < duration:
            job.check()
            last = duration - t0 <= WINDOW_S * 1.2
            t1 = duration if last else self._quiet_point(audio, t0 + WINDOW_S - PAUSE_SEARCH_S, t0 + WINDOW_S)
            if last:
                piece = slots[k:]
            else:  # the text this window may hold: the remaining rate, with room to spare
                rate = (n - k) / max(1.0, duration - t0)
                piece = slots[k:k + int(rate * (t1 - t0) * 1.6) + 20]
            pcm = audio.read(t0, t1)
            got, tolerant = self._align_piece(pcm, piece, not last, job)
            times = self._times(got, piece, t0, tolerant)
            keep_until = duration if last else t1 - KEEP_MARGIN_S
            kept = [(i, tm) for i, tm in times.items() if tm[1] <= keep_until]
            if not kept and times:  # slow speech: every word placed runs past the margin
                first = min(times)
                kept = [(first, times[first])]
            if kept:
                top = max(i for i, _ in kept)
                for i, tm in kept:
                    timed[piece[i].index] = tm
                k = piece[top].index + 1
                t0 = max(t0 + 1.0, timed[piece[top].index][1])
            else:  # nothing placed here (music, noise, text the audio lacks): move on
                t0 = t0 + (WINDOW_S - KEEP_MARGIN_S)
            step += 1
            job.progress(min(step, total), total)
            if last:
                break
        return timed

    @staticmethod
    def _quiet_point(audio: _Audio, a: float, b: float) -> float:
        """The middle of the quietest 200 ms between a and b seconds: a window that ends in a
        pause lets its grammar end after a whole word."""
        db = frame_db(audio.read(a, b))
        w = 20
        if len(db) <= w:
            return b
        run = sum(db[:w])
        best, at = run, 0
        for i in range(w, len(db)):
            run += db[i] - db[i - w]
            if run < best:
                best, at = run, i - w + 1
        return a + (at + w / 2) * FRAME_S

    def _times(self, got, slots: Sequence[_Slot], offset: float, tolerant: bool):
        """Seconds and confidence for the slots decoded: {position in slots: (start, end, conf)}."""
        if not got:
            return {}
        apf = sorted(a / max(1, ef - sf + 1) for sf, ef, a in got.values())
        ref = apf[len(apf) // 2]
        out = {}
        for i, (sf, ef, a) in got.items():
            frames = ef - sf + 1
            score = a / max(1, frames) - ref
            conf = 1.0 / (1.0 + math.exp(-(score + 6.0) / 3.0))
            ph = max(1, slots[i].phones)
            if frames < 3 * ph * 0.9 or frames > 40 * ph:  # at the HMMs' floor, or stretched
                conf *= 0.4
            if tolerant:
                conf *= 0.8
            start = offset + sf * FRAME_S + BOUNDARY_SHIFT_S
            end = offset + (ef + 1) * FRAME_S + BOUNDARY_SHIFT_S + END_SHIFT_S
            out[i] = (start, end, round(min(1.0, conf), 3))
        return out

    def _emit(self, text, spans, slots, timed, duration) -> List[dict]:
        """Every word, in order, inside the audio; untimed ones interpolated, confidence 0.05."""
        n = len(spans)
        dur_ms = int(duration * 1000)
        st: List[Optional[int]] = [None] * n
        en: List[Optional[int]] = [None] * n
        conf: List[float] = [0.0] * n
        last_end = 0
        for i in range(n):
            tm = timed.get(i)
            if tm is None:
                continue
            room = dur_ms - (n - 1 - i)  # a millisecond at least for every word after this one
            s, e = max(int(round(tm[0] * 1000)), last_end), min(int(round(tm[1] * 1000)), room)
            if e - s < 1:
                continue  # squeezed out by its neighbour: interpolated below
            st[i], en[i], conf[i] = s, e, tm[2]
            last_end = e
        # the runs of untimed words share the time between their timed neighbours, by length
        i = 0
        while i < n:
            if st[i] is not None:
                i += 1
                continue
            j = i
            while j < n and st[j] is None:
                j += 1
            lo = en[i - 1] if i > 0 else 0
            hi = st[j] if j < n else dur_ms
            lens = [max(1, spans[k][1] - spans[k][0]) for k in range(i, j)]
            tot, acc = sum(lens), 0
            for k in range(i, j):
                a = lo + (hi - lo) * acc // tot
                acc += lens[k - i]
                st[k], en[k], conf[k] = a, lo + (hi - lo) * acc // tot, INTERPOLATED_CONFIDENCE
            i = j
        out = []
        prev_start = prev_end = 0
        for i, (s0, s1) in enumerate(spans):
            # in order and inside the audio; only when the audio has less than a millisecond a
            # word left do words share their last millisecond
            s = max(min(max(st[i], prev_end), dur_ms - 1), prev_start, 0)
            e = min(max(en[i], s + 1), dur_ms)
            prev_start, prev_end = s, e
            out.append({"word": text[s0:s1], "start": s / 1000, "end": e / 1000, "char_start": s0,
                        "char_end": s1, "source": "pocketsphinx", "confidence": conf[i]})
        return out
