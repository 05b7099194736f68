"""Validation of request params. Every failure is INVALID_PARAMS with a message naming the param."""

from __future__ import annotations

import math
import os
from typing import Any, Optional

from .errors import INVALID_PARAMS, RpcError
from .text import content_span

# The gateway passes its own limit, so both sides agree on what is too long.
MAX_TEXT = int(os.environ.get("VOICECUE_MAX_TEXT_CHARS") or 20000)
# a script to align (POST /align: an hour-long chapter) may be longer than a text to speak
MAX_ALIGN_TEXT = max(MAX_TEXT, int(os.environ.get("VOICECUE_MAX_ALIGN_TEXT_CHARS") or 200000))
MIN_SPEED = 0.5
MAX_SPEED = 2.0
DATA_DIR_ENV = "VOICECUE_DATA_DIR"


def bad(message: str) -> RpcError:
    return RpcError(INVALID_PARAMS, message)


class SynthesizeParams:
    __slots__ = ("engine", "text", "voice", "language", "speed", "output_path", "word_timings",
                 "max_audio_s", "max_worker_s", "reference", "options")

    def __init__(self, **kw: Any):
        for k in self.__slots__:
            setattr(self, k, kw[k])


ENGINE_NAMES = ("espeak", "f5")
ALIGNER_NAMES = ("native", "whisperx", "pocketsphinx", "dtw")


def engine_name(params: Optional[dict]) -> str:
    if params is None:
        raise bad("params is required: an object with engine, text, output_path, ...")
    engine = params.get("engine")
    if engine is None:
        return "espeak"
    if not isinstance(engine, str) or engine not in ENGINE_NAMES:
        raise bad("engine must be one of %s, got %s" % (", ".join(ENGINE_NAMES), _show(engine)))
    return engine


def job_id(params: Optional[dict]) -> Any:
    rid = (params or {}).get("id")
    if rid is None or isinstance(rid, bool) or not isinstance(rid, (int, str)):
        raise bad("id must be the integer or string id of a request, got %s" % _show(rid))
    return rid


def text_param(params: Optional[dict], allow_blank: bool = False, limit: Optional[int] = None) -> str:
    """The ``text`` of a request: a string within the limits, encodable as UTF-8 (and not only
    blanks, unless ``allow_blank``: tokenize answers for any text)."""
    text = (params or {}).get("text")
    if text is None:
        raise bad("text is required")
    if not isinstance(text, str):
        raise bad("text must be a string, got %s" % _type(text))
    start, end = content_span(text)  # the blanks both sides trim (text.BLANK_CODE_POINTS)
    n = end - start
    if n == 0 and not allow_blank:
        raise bad("text is empty (only whitespace)")
    limit = limit or MAX_TEXT
    if n > limit:
        raise bad("text is too long: %d characters after trimming, at most %d" % (n, limit))
    if len(text) > 2 * limit:  # surrounding whitespace is free, but not without end
        raise bad("text is too long: %d characters with its surrounding whitespace, at most %d"
                  % (len(text), 2 * limit))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise bad("text contains an unpaired surrogate at offset %d" % e.start)
    return text


def synthesize(params: dict, engine: str) -> SynthesizeParams:
    text = text_param(params)
    voice = _opt_str(params, "voice")
    language = _opt_str(params, "language")

    speed = params.get("speed")
    if speed is None:
        speed = 1.0
    elif isinstance(speed, bool) or not isinstance(speed, (int, float)):
        raise bad("speed must be a number from %s to %s, got %s" % (MIN_SPEED, MAX_SPEED, _type(speed)))
    speed = float(speed)
    if not math.isfinite(speed) or not (MIN_SPEED <= speed <= MAX_SPEED):
        raise bad("speed must be from %s to %s, got %r" % (MIN_SPEED, MAX_SPEED, speed))

    word_timings = params.get("word_timings")
    if word_timings is None:
        word_timings = True
    elif not isinstance(word_timings, bool):
        raise bad("word_timings must be a boolean, got %s" % _type(word_timings))

    output_path = check_output_path(params.get("output_path"))
    return SynthesizeParams(
        engine=engine, text=text, voice=voice, language=language, speed=speed,
        output_path=output_path, word_timings=word_timings,
        max_audio_s=_opt_seconds(params, "max_audio_s"), max_worker_s=_opt_seconds(params, "max_worker_s"),
        reference=_reference(params.get("reference")), options=_options(params.get("options")),
    )


MAX_REF_TEXT = 2000
#: Engine options (f5's): name -> (type, low, high); bounds inclusive.
OPTIONS = {
    "nfe_step": (int, 4, 64),
    "cfg_strength": (float, 0.0, 10.0),
    "target_rms": (float, 0.001, 1.0),
    "cross_fade_duration": (float, 0.0, 1.0),
    "sway_sampling_coef": (float, -1.0, 1.0),
    "seed": (int, 0, 2 ** 63 - 1),
    "fix_duration": (float, 0.1, 3600.0),
    "remove_silence": (bool, None, None),
}


def _reference(ref: Any) -> Optional[dict]:
    """A cloning reference: {audio_path: a WAV inside the data dir, text: its transcript ("" lets the
    engine transcribe it), voice?: the stored voice's id, for the answer}."""
    if ref is None:
        return None
    if not isinstance(ref, dict):
        raise bad("reference must be an object {audio_path, text}, got %s" % _type(ref))
    path = check_output_path(ref.get("audio_path"), "reference.audio_path")
    if not os.path.isfile(path):
        raise bad("reference.audio_path is not a file: %r" % ref.get("audio_path"))
    text = ref.get("text")
    if not isinstance(text, str):
        raise bad("reference.text must be a string (empty to transcribe the reference), got %s" % _type(text))
    if len(text) > MAX_REF_TEXT:
        raise bad("reference.text is too long: %d characters, at most %d" % (len(text), MAX_REF_TEXT))
    voice = ref.get("voice")
    if voice is not None and not isinstance(voice, str):
        raise bad("reference.voice must be a string, got %s" % _type(voice))
    return {"audio_path": path, "text": text, "voice": voice}


def _options(opts: Any) -> Optional[dict]:
    if opts is None:
        return None
    if not isinstance(opts, dict):
        raise bad("options must be an object, got %s" % _type(opts))
    out = {}
    for key, value in opts.items():
        if key not in OPTIONS:
            raise bad("options.%s is not an engine option (known: %s)" % (key, ", ".join(OPTIONS)))
        if value is None:
            continue
        kind, low, high = OPTIONS[key]
        if kind is bool:
            if not isinstance(value, bool):
                raise bad("options.%s must be true or false, got %s" % (key, _type(value)))
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and not float(value).is_integer()):
            raise bad("options.%s must be %s, got %s" % (key, "an integer" if kind is int else "a number", _show(value) if not isinstance(value, (int, float)) else repr(value)))
        elif not math.isfinite(value) or not (low <= value <= high):
            raise bad("options.%s must be from %s to %s, got %r" % (key, low, high, value))
        else:
            value = kind(value)
        out[key] = value
    return out


def _opt_seconds(params: dict, key: str) -> Optional[float]:
    """A budget in seconds: absent (no limit) or a positive finite number."""
    v = params.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
        raise bad("%s must be a positive number of seconds, got %s" % (key, _show(v) if isinstance(v, str) else repr(v)))
    return float(v)


class AlignParams:
    __slots__ = ("aligner", "text", "audio_path", "language", "segments")

    def __init__(self, **kw: Any):
        for k in self.__slots__:
            setattr(self, k, kw[k])


def align(params: Optional[dict]) -> AlignParams:
    if params is None:
        raise bad("params is required: an object with aligner, text, audio_path, ...")
    aligner = params.get("aligner")
    if not isinstance(aligner, str) or aligner not in ALIGNER_NAMES:
        raise bad("aligner must be one of %s, got %s" % (", ".join(ALIGNER_NAMES), _show(aligner)))
    text = text_param(params, limit=MAX_ALIGN_TEXT)
    audio = check_output_path(params.get("audio_path"), "audio_path")
    if not os.path.isfile(audio):
        raise bad("audio_path is not a file: %r" % params.get("audio_path"))
    segments = params.get("segments")
    if segments is not None:
        if not isinstance(segments, list) or not all(_segment(s) for s in segments):
            raise bad("segments must be a list of {char_start, char_end, start, end} objects")
    return AlignParams(aligner=aligner, text=text, audio_path=audio,
                       language=_opt_str(params, "language"), segments=segments)


def _segment(s: Any) -> bool:
    if not isinstance(s, dict):
        return False
    vals = [s.get(k) for k in ("char_start", "char_end", "start", "end")]
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0 for v in vals)


def check_output_path(path: Any, name: str = "output_path") -> str:
    """Return the real path (to write, or for audio_path to read), or raise INVALID_PARAMS naming it."""
    if path is None:
        raise bad(name + " is required")
    if not isinstance(path, str) or not path:
        raise bad(name + " must be a non-empty string, got %s" % _show(path))
    if "\0" in path:
        raise bad(name + " contains a NUL character")
    if not os.path.isabs(path):
        raise bad(name + " must be absolute, got %r" % path)
    if path.endswith(os.sep) or os.path.basename(path) in ("", ".", ".."):
        raise bad(name + " must name a file, got %r" % path)
    real = os.path.realpath(path)
    root_env = os.environ.get(DATA_DIR_ENV)
    if root_env:
        root = os.path.realpath(root_env)
        try:
            inside = os.path.commonpath([real, root]) == root and real != root
        except ValueError:
            inside = False
        if not inside:
            raise bad(name + " %r is outside the data directory %s (%s)" % (path, DATA_DIR_ENV, root))
    parent = os.path.dirname(real)
    if not os.path.isdir(parent):
        raise bad(name + "'s directory does not exist: %r" % os.path.dirname(path))
    if os.path.isdir(real):
        raise bad(name + " is a directory: %r" % path)
    return real


def _opt_str(params: dict, key: str) -> Optional[str]:
    v = params.get(key)
    if v is None:
        return None
    if not isinstance(v, str):
        raise bad("%s must be a string or null, got %s" % (key, _type(v)))
    if not v.strip():
        raise bad("%s must not be empty" % key)
    return v.strip()


def _type(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, (int, float)):
        return "a number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return "an array"
    if isinstance(v, dict):
        return "an object"
    return type(v).__name__


def _show(v: Any) -> str:
    if isinstance(v, str):
        return repr(v[:80])
    return _type(v)
