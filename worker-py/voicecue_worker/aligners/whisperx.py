"""WhisperX forced alignment (gpu lane): the words of the text we already know, timed in any audio.

Never a transcription: ``whisperx.align`` gets segments built from our own text, one per chunk
the engine spoke (F5's chunk spans), or one for the whole audio. The wav2vec2 model of each
language is loaded once (``load_align_model``) and kept in an LRU of VOICECUE_ALIGN_CACHE
languages; VOICECUE_ALIGN_MODELS (``{"en": "<model name or local folder>"}``) overrides
whisperx's default model per language.

whisperx splits our segments into sentences (NLTK punkt) and names its words by the text
between spaces ("world," "$4.50,"). Its words are mapped back onto OUR word spans
(text.tokenize) by character position inside the segment, never by zipping lists: a word it
leaves untimed (a failed segment, characters the model cannot time) is interpolated from its
neighbours, marked ``source: "interpolated"``. Its score becomes the confidence.

NLTK punkt_tab must be on disk: whisperx loads ``tokenizers/punkt_tab/<language>/`` (the four
files nltk's PunktTokenizer reads) for every segment and downloads it when missing. It only groups
whisperx's output into sentences: the word times come from the CTC trellis over the whole segment,
and we place words by character position, so the trained parameters change no time we return.
The real models are used where NLTK_DATA has them; for the others the worker builds minimal ones
(no abbreviations, splits at every sentence end) in a cache folder, unless
VOICECUE_PUNKT_FALLBACK=none, which refuses those languages instead. ``info()`` says which.
Nothing is ever downloaded: nltk.download is refused in this process.
"""

from __future__ import annotations

import bisect
import json
import logging
import os
import re
import threading
import time
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

from .. import detect as _detect
from ..errors import ENGINE_FAILED, ENGINE_UNAVAILABLE, INVALID_PARAMS, RpcError
from ..plugins import Aligner, Job
from ..text import BLANKS

log = logging.getLogger("voicecue.whisperx")

SAMPLE_RATE = 16000  # whisperx slices the audio assuming 16 kHz
MODELS_ENV = "VOICECUE_ALIGN_MODELS"
CACHE_ENV = "VOICECUE_ALIGN_CACHE"
MODEL_DIR_ENV = "VOICECUE_ALIGN_MODEL_DIR"
DEVICE_ENV = "VOICECUE_DEVICE"
PUNKT_FALLBACK_ENV = "VOICECUE_PUNKT_FALLBACK"
DEFAULT_CACHE = 2
# whisperx runs wav2vec2 over each segment in one pass, with attention over all its frames (50 a
# second): memory grows with the square of its length. A longer segment is refused (the chain then
# tries the next aligner) rather than let it exhaust the GPU; F5's chunks stay far below it.
MAX_SEGMENT_S = 90.0
# Gaps narrower than this per word are widened into the neighbours before interpolating.
MIN_WORD_S = 0.02

Span = Tuple[int, int]


def base_language(language: Optional[str]) -> str:
    """``en-US`` / ``en_us`` / ``en-us+f3`` -> ``en``; no language: English."""
    if not language:
        return "en"
    return re.split(r"[-_+]", language.strip().lower(), 1)[0] or "en"


def parse_models(raw: Optional[str]) -> Dict[str, str]:
    """VOICECUE_ALIGN_MODELS: a JSON object of language -> model name or local folder."""
    if not raw or not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError as e:
        raise ValueError("%s is not valid JSON: %s" % (MODELS_ENV, e))
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) and k and v for k, v in value.items()):
        raise ValueError('%s must be a JSON object of language -> model, e.g. {"en": "/models/wav2vec2-en"}' % MODELS_ENV)
    return {base_language(k): v for k, v in value.items()}


PUNKT_FILES = ("abbrev_types.txt", "collocations.tab", "ortho_context.tab", "sent_starters.txt")


def punkt_missing(languages: Sequence[str]) -> Dict[str, str]:
    """language -> the punkt_tab model it needs that is not on disk (NLTK_DATA), for ``languages``.
    A model folder counts only with the four files nltk's PunktTokenizer reads."""
    import nltk.data
    from whisperx.utils import PUNKT_LANGUAGES

    missing: Dict[str, str] = {}
    found: Dict[str, bool] = {}
    for lang in languages:
        name = PUNKT_LANGUAGES.get(lang, "english")
        if name not in found:
            try:
                folder = nltk.data.find("tokenizers/punkt_tab/%s/" % name)
                found[name] = all(_has(folder, f) for f in PUNKT_FILES)
            except LookupError:
                found[name] = False
        if not found[name]:
            missing[lang] = name
    return missing


def build_minimal_punkt(names: Sequence[str]) -> str:
    """A folder for nltk.data.path with an empty (untrained) punkt_tab model per language name, made
    once in the user's cache (temp name, then rename), else in a temp folder."""
    import tempfile

    base = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
                        "voicecue", "punkt-minimal-1")
    try:
        os.makedirs(base, exist_ok=True)
        root = base
    except OSError:  # no writable home (a read-only container)
        root = tempfile.mkdtemp(prefix="voicecue-punkt-")
    for name in names:
        folder = os.path.join(root, "tokenizers", "punkt_tab", name)
        if all(os.path.isfile(os.path.join(folder, f)) for f in PUNKT_FILES):
            continue
        os.makedirs(os.path.dirname(folder), exist_ok=True)
        staging = tempfile.mkdtemp(prefix=".%s-" % name, dir=os.path.dirname(folder))
        for f in PUNKT_FILES:
            open(os.path.join(staging, f), "w").close()
        try:
            os.rename(staging, folder)
        except OSError:  # another worker made it first
            import shutil

            shutil.rmtree(staging, ignore_errors=True)
    return root


def _has(folder, name: str) -> bool:
    try:
        folder.join(name)  # a folder on disk or inside a zip: raises when the file is not there
        return True
    except (OSError, ValueError):
        return False


def refuse_downloads() -> None:
    """whisperx calls nltk.download when punkt_tab cannot be loaded: in the worker that is an
    error, never a download at run time."""
    import nltk

    def no_download(*args, **kwargs):
        raise LookupError("the voicecue worker never downloads NLTK data: put punkt_tab under NLTK_DATA")

    nltk.download = no_download


def model_missing(name: str, model_dir: Optional[str]) -> Optional[str]:
    """None when the align model ``name`` is on disk, else why not. whisperx would download a
    missing one (torchaudio's server, the Hugging Face hub): the worker never does."""
    import torch
    import torchaudio

    if os.path.isdir(name):
        return None
    if name in torchaudio.pipelines.__all__:
        bundle = getattr(torchaudio.pipelines, name)
        folder = model_dir or os.path.join(torch.hub.get_dir(), "checkpoints")
        path = os.path.join(folder, os.path.basename(bundle._path))
        return None if os.path.isfile(path) else "the torchaudio bundle %s is not on disk (%s)" % (name, path)
    if os.path.isabs(name) or name.startswith("."):
        return "the folder %s does not exist" % name
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(name, "config.json", cache_dir=model_dir)
    return None if isinstance(found, str) else "the Hugging Face model %s is not in the local cache" % name


class ModelCache:
    """The align models of the languages used last, at most ``size`` of them; ``load`` is called
    once per language while it stays in the cache."""

    def __init__(self, size: int, load):
        self.size = max(1, size)
        self._load = load
        self._models: "OrderedDict[str, tuple]" = OrderedDict()
        self._lock = threading.Lock()
        self.loads: Dict[str, int] = {}

    def get(self, language: str) -> Tuple[tuple, bool]:
        """(model, metadata), and whether it was loaded now."""
        with self._lock:
            hit = self._models.get(language)
            if hit is not None:
                self._models.move_to_end(language)
                return hit, False
            value = self._load(language)
            self.loads[language] = self.loads.get(language, 0) + 1
            self._models[language] = value
            while len(self._models) > self.size:
                old, _ = self._models.popitem(last=False)
                log.info("whisperx: align model for %s evicted (cache of %d)", old, self.size)
            return value, True

    def loaded(self) -> List[str]:
        with self._lock:
            return list(self._models)


class WhisperxAligner(Aligner):
    name = "whisperx"
    lane = "gpu"

    def load(self) -> None:
        reason = _detect.missing_reason("whisperx", "torch", "nltk", "soundfile")
        if reason:
            self.reason = reason
            return
        try:
            self.overrides = parse_models(os.environ.get(MODELS_ENV))
            self.cache_size = int(os.environ.get(CACHE_ENV) or DEFAULT_CACHE)
            if self.cache_size < 1:
                raise ValueError
        except ValueError as e:
            self.reason = str(e) or "%s must be a positive integer" % CACHE_ENV
            return
        try:
            import torch
            import whisperx.alignment as wxa  # heavy (torch, transformers, pandas): once, at start
        except ImportError as e:  # found but broken (a missing dependency, a wrong torch build)
            self.reason = "whisperx could not be imported: %s" % e
            return

        self._wxa = wxa
        self._torch = torch
        refuse_downloads()
        self.device = pick_device(torch)
        self.model_dir = os.environ.get(MODEL_DIR_ENV) or None
        defaults = {**wxa.DEFAULT_ALIGN_MODELS_TORCH, **wxa.DEFAULT_ALIGN_MODELS_HF}
        self.models = {**defaults, **self.overrides}
        self.sources = {lang: "override" if lang in self.overrides else "default" for lang in self.models}
        self.cache = ModelCache(self.cache_size, self._load_model)
        self.missing = {lang: why for lang, name in self.models.items() if (why := model_missing(name, self.model_dir))}
        self.punkt = punkt_missing(sorted(self.models))
        self.punkt_minimal: Dict[str, str] = {}
        fallback = (os.environ.get(PUNKT_FALLBACK_ENV) or "minimal").strip().lower()
        if self.punkt and fallback == "minimal":
            import nltk.data

            nltk.data.path.append(build_minimal_punkt(sorted(set(self.punkt.values()))))  # after NLTK_DATA's
            self.punkt_minimal, self.punkt = self.punkt, punkt_missing(sorted(self.punkt))
            log.info("whisperx: no punkt_tab data for %s under NLTK_DATA; using minimal models (word times are unaffected)",
                     ", ".join(sorted(set(self.punkt_minimal.values()))))
        if len(self.punkt) == len(self.models):
            self.reason = ("NLTK punkt_tab data is missing (whisperx splits sentences with it and would download it): "
                           "put tokenizers/punkt_tab/<language>/ under a folder named by NLTK_DATA")
            return
        if not self.language_codes():
            self.reason = ("no language has an align model on disk (whisperx would download them): set %s to local "
                           'folders, e.g. {"en": "/models/wav2vec2-en"}' % MODELS_ENV)
            return
        self.available, self.reason = True, None
        log.info("whisperx on %s; align models: %s", self.device,
                 ", ".join("%s=%s" % (k, v) for k, v in sorted(self.overrides.items())) or "whisperx defaults")

    def language_codes(self) -> Optional[List[str]]:
        """The languages that can be aligned now: an align model on disk and punkt_tab data."""
        return sorted(lang for lang in self.models if lang not in self.punkt and lang not in self.missing)

    def details(self) -> dict:
        return {
            **super().details(),
            "device": self.device,
            "sample_rate": SAMPLE_RATE,
            "models": {lang: {"model": m, "source": self.sources[lang], "on_disk": lang not in self.missing}
                       for lang, m in sorted(self.models.items())},
            # Any language not in "languages" has no align model; these have one but no punkt_tab data.
            "punkt_tab_missing": dict(sorted(self.punkt.items())),
            # These split sentences with a minimal, untrained punkt model (VOICECUE_PUNKT_FALLBACK).
            "punkt_tab_minimal": dict(sorted(self.punkt_minimal.items())),
            "cache": {"size": self.cache_size, "loaded": self.cache.loaded(), "loads": dict(self.cache.loads)},
        }

    def versions(self) -> Dict[str, Optional[str]]:
        from importlib.metadata import PackageNotFoundError, version

        out: Dict[str, Optional[str]] = {}
        for pkg in ("whisperx", "torch", "transformers", "nltk"):
            try:
                out[pkg] = version(pkg)
            except PackageNotFoundError:
                out[pkg] = None
        return out

    # ------------------------------------------------------------ models
    def _load_model(self, language: str) -> tuple:
        t0 = time.perf_counter()
        name = self.models[language]
        # model_cache_only: a hub name resolves from the local cache only, never a download
        model, metadata = self._wxa.load_align_model(language, self.device, model_name=name, model_dir=self.model_dir,
                                                     model_cache_only=True)
        log.info("whisperx: loaded align model for %s (%s) on %s in %.0f ms", language, name, self.device,
                 (time.perf_counter() - t0) * 1000)
        return model, metadata

    # ------------------------------------------------------------ align
    def align(self, audio_path: str, text: str, spans: Sequence[Span], language: Optional[str],
              segments: Optional[List[dict]], job: Job) -> List[dict]:
        lang = base_language(language)
        if lang not in self.models:
            raise RpcError(ENGINE_UNAVAILABLE, "whisperx has no align model for language %s (set %s)" % (lang, MODELS_ENV))
        if lang in self.punkt:
            raise RpcError(ENGINE_UNAVAILABLE, "NLTK punkt_tab data for %s (%s) is missing; whisperx would download it"
                           % (lang, self.punkt[lang]))
        if lang in self.missing:  # put there since the start? then it is used
            why = model_missing(self.models[lang], self.model_dir)
            if why:
                raise RpcError(ENGINE_UNAVAILABLE, "no align model for %s on disk: %s (set %s)" % (lang, why, MODELS_ENV))
            del self.missing[lang]
        audio = read_audio_16k(audio_path)
        duration = len(audio) / SAMPLE_RATE
        if duration <= 0:
            raise RpcError(INVALID_PARAMS, "audio_path holds no audio")
        pieces = plan_segments(text, segments, duration)
        check_lengths(pieces)
        try:
            (model, metadata), _ = self.cache.get(lang)
        except Exception as e:
            log.exception("whisperx: loading the align model for %s failed", lang)
            raise RpcError(ENGINE_FAILED, "loading the whisperx align model for %s failed: %s: %s" % (lang, type(e).__name__, e))
        job.check()
        tokens: List[dict] = []
        for k, (cs, ce, start, end) in enumerate(pieces):
            seg_text = whitespace_to_spaces(text[cs:ce])
            try:
                result = self._wxa.align([{"start": start, "end": end, "text": seg_text}], model, metadata, audio,
                                         self.device, interpolate_method="nearest", return_char_alignments=False)
            except Exception as e:
                log.exception("whisperx: align failed on segment %d", k)
                raise RpcError(ENGINE_FAILED, "whisperx align failed: %s: %s" % (type(e).__name__, e))
            tokens.extend(place_words(seg_text, cs, result.get("segments") or []))
            job.progress(k + 1, len(pieces))
            job.check()
        words = words_from_tokens(text, spans, tokens, pieces, duration)
        if not any(w["source"] == "whisperx" for w in words):
            raise RpcError(ENGINE_FAILED, "whisperx could not align any word of the text to this audio")
        return words


def pick_device(torch) -> str:
    """VOICECUE_DEVICE (cpu, cuda, cuda:N), else CUDA when usable, else the CPU."""
    wanted = (os.environ.get(DEVICE_ENV) or "auto").strip().lower()
    if wanted != "auto":
        return wanted
    if _detect.cuda_reason() is None and torch.cuda.is_available():
        return "cuda"
    return "cpu"


def read_audio_16k(path: str):
    """The audio as mono float32 at 16 kHz, resampled once."""
    import numpy as np
    import soundfile as sf

    try:
        data, rate = sf.read(path, dtype="float32", always_2d=True)
    except Exception as e:
        raise RpcError(INVALID_PARAMS, "audio_path is not readable audio: %s" % e)
    mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if rate != SAMPLE_RATE and len(mono):
        try:
            import soxr

            mono = soxr.resample(mono, rate, SAMPLE_RATE)
        except ImportError:
            import torch
            import torchaudio.functional as F

            mono = F.resample(torch.from_numpy(np.ascontiguousarray(mono)), rate, SAMPLE_RATE).numpy()
    return np.ascontiguousarray(mono, dtype=np.float32)


def whitespace_to_spaces(s: str) -> str:
    """whisperx splits words at " " only: every other blank (newline, tab, NBSP) becomes one, so
    character offsets stay the same and no word of ours straddles two of its words."""
    return "".join(" " if (ch.isspace() or ch in BLANKS) else ch for ch in s)


def plan_segments(text: str, segments: Optional[List[dict]], duration: float) -> List[Tuple[int, int, float, float]]:
    """(char_start, char_end, start, end) pieces to align: the engine's chunks, in text order and
    clamped to the audio, or the whole text over the whole audio."""
    n = len(text)
    if not segments:
        return [(0, n, 0.0, duration)]
    out = []
    for s in sorted(segments, key=lambda s: (s["char_start"], s["start"])):
        cs, ce = int(s["char_start"]), int(s["char_end"])
        start, end = float(s["start"]), min(float(s["end"]), duration)
        if not (0 <= cs < ce <= n):
            raise RpcError(INVALID_PARAMS, "segment [%d, %d) is outside the text of %d characters" % (cs, ce, n))
        if out and cs < out[-1][1]:
            raise RpcError(INVALID_PARAMS, "segments overlap in the text at character %d" % cs)
        if start >= end:
            continue  # a chunk past the end of the audio (or empty): its words are interpolated
        out.append((cs, ce, start, end))
    if not out:
        raise RpcError(INVALID_PARAMS, "no segment lies inside the audio (%.3f s)" % duration)
    return out


def check_lengths(pieces: List[Tuple[int, int, float, float]]) -> None:
    for cs, ce, start, end in pieces:
        if end - start > MAX_SEGMENT_S:
            raise RpcError(ENGINE_FAILED, "whisperx aligns at most %g s in one segment; this one is %.1f s (characters %d-%d): "
                           "send the engine's chunks as segments" % (MAX_SEGMENT_S, end - start, cs, ce))


_TOKEN = re.compile(r"[^ ]+")


def place_words(seg_text: str, offset: int, aligned: List[dict]) -> List[dict]:
    """whisperx's words of one segment, placed at their character positions in the text.

    whisperx names each word by the characters between spaces, so its words are the space-
    separated tokens of the segment, in order within a sentence; sentences come back sorted by
    time and may be merged. Each of its words is matched to the next token with the same text
    (searching on from the last match, then from the start among unmatched ones)."""
    tokens = [{"cs": offset + m.start(), "ce": offset + m.end(), "text": m.group(), "start": None, "end": None,
               "score": None} for m in _TOKEN.finditer(seg_text)]
    used = [False] * len(tokens)
    cursor = 0
    for seg in aligned:
        for w in seg.get("words") or []:
            text = w.get("word")
            j = _find(tokens, used, text, cursor)
            if j < 0:
                j = _find(tokens, used, text, 0)
            if j < 0:
                continue
            used[j] = True
            cursor = j + 1
            start, end = w.get("start"), w.get("end")
            if _finite(start) and _finite(end) and end >= start:
                tokens[j]["start"], tokens[j]["end"] = float(start), float(end)
                tokens[j]["score"] = float(w["score"]) if _finite(w.get("score")) else None
    return tokens


def _find(tokens, used, text, frm) -> int:
    for j in range(frm, len(tokens)):
        if not used[j] and tokens[j]["text"] == text:
            return j
    return -1


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v == v and v not in (float("inf"), float("-inf"))


def words_from_tokens(text: str, spans: Sequence[Span], tokens: List[dict],
                      pieces: List[Tuple[int, int, float, float]], duration: float) -> List[dict]:
    """Our words (one per span) with whisperx's times; those it left untimed interpolated."""
    starts = [t["cs"] for t in tokens]
    n = len(spans)
    times: List[Optional[Tuple[float, float, Optional[float]]]] = [None] * n
    # Our words inside one token share its time by length ("hello—world" is one whisperx word).
    by_token: Dict[int, List[int]] = {}
    for i, (a, b) in enumerate(spans):
        j = bisect.bisect_right(starts, a) - 1
        if j >= 0 and b <= tokens[j]["ce"] and tokens[j]["start"] is not None:
            by_token.setdefault(j, []).append(i)
    for j, members in by_token.items():
        t = tokens[j]
        parts = split_by_length([spans[i] for i in members], t["start"], t["end"])
        for i, (s, e) in zip(members, parts):
            times[i] = (s, e, t["score"])

    piece_starts = [p[0] for p in pieces]

    def window(i: int) -> Tuple[float, float]:
        k = bisect.bisect_right(piece_starts, spans[i][0]) - 1
        if k >= 0 and spans[i][0] < pieces[k][1]:
            return pieces[k][2], pieces[k][3]
        return 0.0, duration

    bounds: List[List[float]] = [[t[0], t[1]] if t else [0.0, 0.0] for t in times]
    i = 0
    while i < n:
        if times[i] is not None:
            i += 1
            continue
        j = i
        while j < n and times[j] is None:
            j += 1
        prev, nxt = i - 1, j if j < n else None
        lo = bounds[prev][1] if prev >= 0 else window(i)[0]
        hi = bounds[nxt][0] if nxt is not None else window(j - 1)[1]
        # never across the edge of the run's own chunk: its words were spoken inside it
        lo, hi = max(lo, window(i)[0]), min(hi, window(j - 1)[1])
        if hi - lo < MIN_WORD_S * (j - i):  # no room between adjacent neighbours: take half of each
            if prev >= 0 and bounds[prev][1] >= lo - 1e-6:
                lo = max(window(i)[0], (bounds[prev][0] + bounds[prev][1]) / 2)
                bounds[prev][1] = min(bounds[prev][1], lo)
            if nxt is not None and bounds[nxt][0] <= hi + 1e-6:
                hi = min(window(j - 1)[1], max(hi, (bounds[nxt][0] + bounds[nxt][1]) / 2))
                bounds[nxt][0] = max(bounds[nxt][0], hi)
            hi = max(hi, lo)  # emit() gives each word at least a millisecond
        for k, (s, e) in zip(range(i, j), split_by_length(spans[i:j], lo, hi)):
            bounds[k] = [s, e]
        i = j
    return emit(text, spans, bounds, [t[2] if t else None for t in times], [t is not None for t in times], duration)


def split_by_length(spans: Sequence[Span], s: float, e: float) -> List[Tuple[float, float]]:
    lens = [max(1, b - a) for a, b in spans]
    total = sum(lens)
    out, acc, pos = [], 0, s
    for ln in lens:
        acc += ln
        nxt = s + (e - s) * acc / total
        out.append((pos, nxt))
        pos = nxt
    return out


def emit(text, spans, bounds, scores, aligned, duration) -> List[dict]:
    """Millisecond times, starts strictly increasing, each end in (start, next start], all inside
    the audio."""
    n = len(spans)
    total_ms = int(duration * 1000)
    starts = [max(0, min(int(round(b[0] * 1000)), total_ms)) for b in bounds]
    ends = [max(0, min(int(round(b[1] * 1000)), total_ms)) for b in bounds]
    for i in range(1, n):
        if starts[i] <= starts[i - 1]:
            starts[i] = starts[i - 1] + 1
    for i in range(n - 1, -1, -1):  # only for absurdly dense text: squeeze the tail inside the audio
        cap = total_ms - (n - i)
        if starts[i] > cap:
            starts[i] = max(0, cap)
    out = []
    for i, (a, b) in enumerate(spans):
        nxt = starts[i + 1] if i + 1 < n else total_ms
        e = min(max(ends[i], starts[i] + 1), max(nxt, starts[i] + 1))
        out.append({
            "word": text[a:b], "start": starts[i] / 1000, "end": e / 1000, "char_start": a, "char_end": b,
            "source": "whisperx" if aligned[i] else "interpolated",
            "confidence": round(max(0.0, min(1.0, scores[i])), 3) if scores[i] is not None else None,
        })
    return out
