"""F5-TTS (gpu lane): voice cloning from a short reference, on the real ``f5_tts`` library.

Loaded once at worker start (model, checkpoint, vocab, vocoder, device from VOICECUE_F5_*). The
engine chunks the text itself within F5's own per-generation budget and calls ``F5TTS.infer``
once per chunk, so each chunk's sample span is exact: the aligners' segments, the unit of
progress and the point where a cancel takes effect. F5 gives no word timings.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import os
import random
import re
import time
import wave
from typing import Dict, List, Optional, Sequence, Tuple

from .. import detect as _detect
from .. import wav
from ..errors import INVALID_PARAMS, NO_SPEECH, RpcError
from ..plugins import Engine, Job
from ..text import content_span

log = logging.getLogger("voicecue.f5")

SAMPLE_RATE = 24000
HOP = 256
#: F5's own defaults, as the system voicecue replaces tuned them.
DEFAULTS = {"nfe_step": 32, "cfg_strength": 2.0, "target_rms": 0.1, "cross_fade_duration": 0.15,
            "sway_sampling_coef": -1.0}
SHIPPED = ("F5TTS_v1_Base", "F5TTS_v1_Small", "F5TTS_Base", "F5TTS_Small", "E2TTS_Base", "E2TTS_Small")
#: Where F5TTS() itself downloads each shipped model's checkpoint from (repo, file).
_HUB_CKPT = {
    "F5TTS_v1_Base": ("SWivid/F5-TTS", "F5TTS_v1_Base/model_1250000.safetensors"),
    "F5TTS_Base": ("SWivid/F5-TTS", "F5TTS_Base/model_1200000.safetensors"),
    "E2TTS_Base": ("SWivid/E2-TTS", "E2TTS_Base/model_1200000.safetensors"),
}
_HUB_VOCODER = ("charactr/vocos-mel-24khz", ("config.yaml", "pytorch_model.bin"))
# Where F5 splits sentences and clauses (its own chunk_text's marks, full-width forms included).
_SENTENCE = re.compile(r"(?<=[.!?。！？])\s+|(?<=[。！？])")
_CLAUSE = re.compile(r"(?<=[;:,；：，])\s*")


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def budget_chars(ref_text: str, ref_seconds: float, speed: float) -> int:
    """F5's per-generation budget in UTF-8 bytes: ref_text_bytes / ref_seconds × (22 − ref_seconds) × speed."""
    return int(len(ref_text.encode("utf-8")) / ref_seconds * (22 - ref_seconds) * speed)


def chunk_spans(text: str, spans: Sequence[Tuple[int, int]], max_bytes: int) -> List[Tuple[int, int]]:
    """Split ``text`` into (start, end) character spans of whole words, each within ``max_bytes``
    where possible: at sentence ends first, then at clause marks, then between words. A single
    word over the budget stays one chunk (F5 does the same with a long sentence)."""
    max_bytes = max(1, max_bytes)
    size = lambda a, b: len(text[a:b].encode("utf-8"))
    out: List[Tuple[int, int]] = []

    def pieces(a: int, b: int, level: int) -> List[Tuple[int, int]]:
        if size(a, b) <= max_bytes or level == 3:
            return [(a, b)]
        if level < 2:
            pattern = _SENTENCE if level == 0 else _CLAUSE
            cuts = [a] + [m.end() for m in pattern.finditer(text, a, b) if a < m.end() < b] + [b]
        else:  # between words
            inside = [s for s in spans if a <= s[0] and s[1] <= b]
            cuts = [a] + [s[0] for s in inside[1:]] + [b]
        parts = [(cuts[i], cuts[i + 1]) for i in range(len(cuts) - 1)]
        if len(parts) == 1:
            return pieces(a, b, level + 1)
        return [p for part in parts for p in pieces(*part, level + 1)]

    # Pack the pieces greedily up to the budget, as F5's chunk_text packs its sentences.
    first, last = spans[0][0], content_span(text)[1]  # trailing punctuation belongs to the speech
    current: Optional[List[int]] = None
    for a, b in pieces(first, last, 0):
        a, b = _strip(text, a, b)
        if a >= b:
            continue
        if current is not None and size(current[0], b) <= max_bytes:
            current[1] = b
        else:
            if current is not None:
                out.append((current[0], current[1]))
            current = [a, b]
    if current is not None:
        out.append((current[0], current[1]))
    return out


def _strip(text: str, a: int, b: int) -> Tuple[int, int]:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


def generated_frames(ref_frames: int, ref_text: str, chunk: str, speed: float) -> int:
    """F5's duration rule for one chunk: the mel frames it generates beyond the reference."""
    local_speed = 0.3 if len(chunk.encode("utf-8")) < 10 else speed
    return int(ref_frames / len(ref_text.encode("utf-8")) * len(chunk.encode("utf-8")) / local_speed)


def normalise_ref_text(ref_text: str) -> str:
    """The reference text as F5's preprocess_ref_audio_text leaves it (ends with ". ")."""
    if ref_text.endswith(". ") or ref_text.endswith("。"):
        return ref_text
    return ref_text + " " if ref_text.endswith(".") else ref_text + ". "


class F5Engine(Engine):
    name = "f5"
    lane = "gpu"

    def __init__(self) -> None:
        super().__init__()
        self.tts = None
        self.accepted: Tuple[str, ...] = ()
        self.dropped: List[str] = []
        self.facts: Dict[str, object] = {}
        self.loads = 0
        self.slow = False

    # ------------------------------------------------------------------ load
    def load(self) -> None:
        reason = _detect.missing_reason("f5_tts", "torch")
        if reason:
            self.reason = reason
            return
        device = os.environ.get("VOICECUE_F5_DEVICE", "cuda").strip() or "cuda"
        if device.startswith("cuda"):
            cuda = _detect.cuda_reason()
            if cuda:
                self.reason = "f5 runs on device %s, but %s (set VOICECUE_F5_DEVICE=cpu to run it slowly on the CPU)" % (device, cuda)
                return
        model = os.environ.get("VOICECUE_F5_MODEL", "F5TTS_v1_Base").strip() or "F5TTS_v1_Base"
        files, missing = self._model_files(model)
        if missing:
            self.reason = "f5 model files are not in the model cache (HF_HOME) and downloads are off " \
                          "(VOICECUE_ALLOW_DOWNLOADS): " + "; ".join(missing)
            return
        t0 = time.perf_counter()
        self.tts = self._build(model, files, device)
        self.loads += 1
        self._inspect()
        self.slow = device == "cpu"
        self.facts = {
            "model": model, "device": device, "load_ms": round((time.perf_counter() - t0) * 1000, 1),
            "loads": self.loads, "flash_attn": _flash_attn(), "infer_dropped": self.dropped,
            "pid": os.getpid(), **({"note": "device cpu is slow: expect far slower than real time"} if self.slow else {}),
        }
        log.info("f5 loaded %s on %s in %.1f s", model, device, self.facts["load_ms"] / 1000)
        self.available, self.reason = True, None

    def _model_files(self, model: str) -> Tuple[Dict[str, str], List[str]]:
        """The checkpoint, vocab and vocoder folder: from VOICECUE_F5_*, else the model cache; fetched
        now (at start, before readiness) when missing and downloads are allowed."""
        missing: List[str] = []
        files: Dict[str, str] = {"vocab": os.environ.get("VOICECUE_F5_VOCAB", "")}
        if model not in SHIPPED and not os.path.isfile(model):
            return files, ["VOICECUE_F5_MODEL=%r is neither a shipped config (%s) nor a YAML file" % (model, ", ".join(SHIPPED))]
        if files["vocab"] and not os.path.isfile(files["vocab"]):
            missing.append("VOICECUE_F5_VOCAB %s" % files["vocab"])
        ckpt = os.environ.get("VOICECUE_F5_CKPT", "")
        if ckpt:
            if not os.path.isfile(ckpt):
                missing.append("VOICECUE_F5_CKPT %s" % ckpt)
        elif model in _HUB_CKPT:
            ckpt = _cached(*_HUB_CKPT[model]) or ""
            if not ckpt:
                missing.append("checkpoint hf://%s/%s" % _HUB_CKPT[model])
        else:
            missing.append("VOICECUE_F5_CKPT (model %s has no default checkpoint)" % model)
        vocoder = os.environ.get("VOICECUE_F5_VOCODER", "")
        if vocoder:
            absent = [f for f in _HUB_VOCODER[1] if not os.path.isfile(os.path.join(vocoder, f))]
            if absent:
                missing.append("VOICECUE_F5_VOCODER %s lacks %s" % (vocoder, ", ".join(absent)))
        else:
            paths = [_cached(_HUB_VOCODER[0], f) for f in _HUB_VOCODER[1]]
            if all(paths):
                vocoder = os.path.dirname(paths[0])
            else:
                missing.append("vocoder hf://%s (%s)" % (_HUB_VOCODER[0], ", ".join(_HUB_VOCODER[1])))
        files.update(ckpt=ckpt, vocoder=vocoder)
        return files, missing

    def _build(self, model: str, files: Dict[str, str], device: str):
        """An F5TTS over our files. F5TTS() takes only shipped config names, so the object is made
        the way its own __init__ makes it, from the shipped or custom YAML."""
        from importlib.resources import files as package_files

        from f5_tts.api import F5TTS
        from f5_tts.infer.utils_infer import load_model, load_vocoder
        from hydra.utils import get_class
        from omegaconf import OmegaConf

        path = model if os.path.isfile(model) else str(package_files("f5_tts").joinpath("configs/%s.yaml" % model))
        cfg = OmegaConf.load(path)
        tts = F5TTS.__new__(F5TTS)
        tts.mel_spec_type = cfg.model.mel_spec.mel_spec_type
        tts.target_sample_rate = cfg.model.mel_spec.target_sample_rate
        tts.ode_method, tts.use_ema, tts.device = "euler", True, device
        tts.vocoder = load_vocoder(tts.mel_spec_type, True, files["vocoder"], device)
        backbone = get_class("f5_tts.model.%s" % cfg.model.backbone)
        tts.ema_model = load_model(backbone, cfg.model.arch, files["ckpt"], tts.mel_spec_type, files["vocab"],
                                   tts.ode_method, tts.use_ema, device)
        return tts

    def _inspect(self) -> None:
        """Which of our keywords the installed F5TTS.infer takes; the others are dropped and said so."""
        self.accepted, self.dropped = filter_keywords(inspect.signature(type(self.tts).infer))

    def language_codes(self) -> Optional[List[str]]:
        return None  # whatever the checkpoint was trained on

    def details(self) -> dict:
        return {"sample_rate": SAMPLE_RATE, "needs_reference": True, "defaults": DEFAULTS, **self.facts}

    def versions(self) -> Dict[str, Optional[str]]:
        return {"f5-tts": _version("f5-tts"), "torch": _version("torch")}

    # ------------------------------------------------------------------ synthesis
    def estimate_seconds(self, text, spans, params) -> Optional[float]:
        ref = _reference(params)
        ref_frames, ref_text = _ref_frames(ref["audio_path"]), normalise_ref_text(ref["text"] or "x")
        frames = generated_frames(ref_frames, ref_text, text, params.speed)
        return frames * HOP / SAMPLE_RATE

    def synthesize(self, text, spans, params, out_path: str, job: Job) -> dict:
        ref = _reference(params)
        opts = {**DEFAULTS, **(params.options or {})}
        seed = opts.pop("seed", None)
        if seed is None:
            # within 2^53: the gateway reads JSON numbers as doubles, and the answered seed must replay exactly
            seed = random.randint(0, 2 ** 53 - 1)
        remove_silence = bool(opts.pop("remove_silence", False))
        fix_duration = opts.pop("fix_duration", None)
        notes: List[str] = []
        if self.slow:
            notes.append("f5 runs on the CPU here: slow")
        ref_text = ref["text"]
        if not ref_text.strip():
            ref_text = self._transcribe(ref["audio_path"])
            notes.append("the reference was transcribed by F5's ASR model (send ref_text to skip this)")
        ref_text = normalise_ref_text(ref_text)
        ref_frames = _ref_frames(ref["audio_path"])
        ref_seconds = ref_frames * HOP / SAMPLE_RATE
        chunks = chunk_spans(text, spans, budget_chars(ref_text, ref_seconds, params.speed))
        # F5 caches each processed reference as a temp WAV it never deletes; ours is already clean
        # (mono 24 kHz, trimmed by the gateway), so it is handed over as its own processed copy.
        from f5_tts.infer import utils_infer
        with open(ref["audio_path"], "rb") as f:
            utils_infer._ref_audio_cache[hashlib.md5(f.read()).hexdigest()] = ref["audio_path"]

        fade = int(opts["cross_fade_duration"] * SAMPLE_RATE)
        kwargs = {k: v for k, v in {**opts, "speed": params.speed, "seed": seed, "show_info": log.debug,
                                    "progress": None, "remove_silence": False}.items() if k in self.accepted}
        t0 = time.perf_counter()
        out_chunks: List[dict] = []
        with wav.WavWriter(out_path, SAMPLE_RATE, max_seconds=params.max_audio_s) as writer:
            mix = _CrossFade(writer, fade)
            for i, (a, b) in enumerate(chunks):
                job.check()
                piece = text[a:b]
                if fix_duration is not None and "fix_duration" in self.accepted:
                    # F5's fix_duration is reference + generated seconds; shared by length across chunks.
                    share = len(piece.encode("utf-8")) / len(text[chunks[0][0]:chunks[-1][1]].encode("utf-8"))
                    kwargs["fix_duration"] = ref_seconds + max(0.1, (fix_duration - ref_seconds) * share)
                audio, sr, _ = self.tts.infer(ref["audio_path"], ref_text, piece, **kwargs)
                if audio is None or len(audio) == 0:
                    raise RpcError(NO_SPEECH, "f5 produced no audio for chunk %d (%r)" % (i, piece[:40]))
                start, end = mix.add(audio)
                out_chunks.append({"char_start": a, "char_end": b, "start": round(start / SAMPLE_RATE, 4), "end": round(end / SAMPLE_RATE, 4)})
                job.progress(i + 1, len(chunks), chunk=out_chunks[-1])
            samples = mix.close()
            writer.commit()
        if remove_silence:
            samples = _remove_silence(out_path, params.max_audio_s)
            out_chunks = []
            notes.append("remove_silence: long pauses were cut, so chunk spans are not reported")
        t1 = time.perf_counter()
        duration = samples / SAMPLE_RATE
        log.info("synthesize id=%s f5 %d chars in %d chunks -> %.2f s audio in %.1f s (RTF %.2f)",
                 job.id, len(text), len(chunks), duration, t1 - t0, (t1 - t0) / max(duration, 1e-9))
        return {
            "voice": ref.get("voice") or "reference",
            "sample_rate": SAMPLE_RATE,
            "samples": samples,
            "duration": round(duration, 3),
            "words": [],
            "chunks": out_chunks,
            "seed": seed,
            "dropped": self.dropped,
            "notes": notes,
            "timings_ms": {"synthesize": round((t1 - t0) * 1000, 1), "rtf": round((t1 - t0) / max(duration, 1e-9), 3)},
        }

    def _transcribe(self, path: str) -> str:
        """F5's own ASR (whisper-large-v3-turbo): only from the model cache unless downloads are allowed."""
        if not _flag("VOICECUE_ALLOW_DOWNLOADS") and not _cached("openai/whisper-large-v3-turbo", "config.json"):
            raise RpcError(INVALID_PARAMS, "ref_text is empty and F5's speech recognition model (openai/whisper-large-v3-turbo) "
                                           "is not in the model cache: send ref_text, the transcript of the reference")
        return self.tts.transcribe(path)


class _CrossFade:
    """Streams chunks into the WAV with F5's own linear cross-fade between neighbours, holding back
    only the fade's length of the last chunk; answers each chunk's (start, end) sample span."""

    def __init__(self, writer: wav.WavWriter, fade: int):
        self.writer, self.fade = writer, fade
        self.tail = None
        self.written = 0

    def add(self, audio) -> Tuple[int, int]:
        import numpy as np

        audio = np.asarray(audio, dtype=np.float32)  # F5 may answer float64: converted once
        start = self.written
        if self.tail is not None:
            n = min(self.fade, len(self.tail), len(audio))
            head = self.tail[: len(self.tail) - n]
            mixed = self.tail[len(self.tail) - n:] * np.linspace(1, 0, n, dtype=np.float32) + audio[:n] * np.linspace(0, 1, n, dtype=np.float32)
            self._write(np.concatenate([head, mixed]))
            start = self.written - n
            audio = audio[n:]
        keep = min(self.fade, len(audio))
        self._write(audio[: len(audio) - keep])
        self.tail = audio[len(audio) - keep:]
        return start, self.written + keep

    def close(self) -> int:
        if self.tail is not None:
            self._write(self.tail)
            self.tail = None
        return self.written

    def _write(self, audio) -> None:
        import numpy as np

        if len(audio):
            # native byte order, as the writer takes it
            self.writer.write((np.clip(audio, -1.0, 1.0) * 32767.0).astype(np.int16).tobytes())
            self.written += len(audio)


def _remove_silence(path: str, max_seconds: Optional[float]) -> int:
    """F5's own silence removal (pauses over 1 s) on a copy, published over ``path`` atomically."""
    import shutil

    from f5_tts.infer.utils_infer import remove_silence_for_generated_wav

    scratch = "%s.silence-%d.wav" % (path, os.getpid())
    try:
        shutil.copyfile(path, scratch)
        remove_silence_for_generated_wav(scratch)
        with wave.open(scratch, "rb") as r:
            frames, pcm = r.getnframes(), r.readframes(r.getnframes())
        with wav.WavWriter(path, SAMPLE_RATE, max_seconds=max_seconds) as w:
            w.write(pcm)  # pydub writes 16-bit little-endian, as the writer takes it here
            w.commit()
        return frames
    finally:
        if os.path.exists(scratch):
            os.remove(scratch)


def filter_keywords(signature: inspect.Signature) -> Tuple[Tuple[str, ...], List[str]]:
    """(keywords the installed infer accepts, ours it does not)."""
    wanted = ("nfe_step", "cfg_strength", "target_rms", "cross_fade_duration", "sway_sampling_coef", "speed",
              "seed", "fix_duration", "remove_silence", "show_info", "progress")
    params = signature.parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return wanted, []
    accepted = tuple(k for k in wanted if k in params)
    return accepted, [k for k in wanted if k not in params and k not in ("show_info", "progress")]


def _reference(params) -> dict:
    ref = params.reference
    if not ref:
        raise RpcError(INVALID_PARAMS, "f5 clones a voice: send a reference recording (ref_audio and ref_text) or a stored voice id")
    return ref


def _ref_frames(path: str) -> int:
    try:
        with wave.open(path, "rb") as w:
            if w.getframerate() != SAMPLE_RATE or w.getnchannels() != 1:
                raise RpcError(INVALID_PARAMS, "reference.audio_path must be a mono %d Hz WAV" % SAMPLE_RATE)
            return w.getnframes() // HOP
    except (wave.Error, EOFError) as e:
        raise RpcError(INVALID_PARAMS, "reference.audio_path is not a readable WAV: %s" % e)


def _cached(repo: str, filename: str) -> Optional[str]:
    """A hub file from the model cache; fetched when downloads are allowed (only ever at start)."""
    from huggingface_hub import hf_hub_download, try_to_load_from_cache

    path = try_to_load_from_cache(repo, filename)
    if isinstance(path, str) and os.path.isfile(path):
        return path
    if _flag("VOICECUE_ALLOW_DOWNLOADS"):
        return hf_hub_download(repo, filename)
    return None


def _flash_attn() -> Optional[str]:
    return _version("flash-attn") if _detect.has_module("flash_attn") else None


def _version(dist: str) -> Optional[str]:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None
