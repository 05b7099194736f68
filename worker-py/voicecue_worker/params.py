"""Validation of request params. Every failure is INVALID_PARAMS with a message naming the param."""

from __future__ import annotations

import math
import os
from typing import Any, Optional

from .engines import ENGINE_NAMES
from .errors import INVALID_PARAMS, RpcError

# The gateway passes its own limit, so both sides agree on what is too long.
MAX_TEXT = int(os.environ.get("VOICECUE_MAX_TEXT_CHARS") or 20000)
MIN_SPEED = 0.5
MAX_SPEED = 2.0
DATA_DIR_ENV = "VOICECUE_DATA_DIR"


def bad(message: str) -> RpcError:
    return RpcError(INVALID_PARAMS, message)


class SynthesizeParams:
    __slots__ = ("engine", "text", "voice", "language", "speed", "output_path", "word_timings")

    def __init__(self, **kw: Any):
        for k in self.__slots__:
            setattr(self, k, kw[k])


def engine_name(params: Optional[dict]) -> str:
    if params is None:
        raise bad("params is required: an object with engine, text, output_path, ...")
    engine = params.get("engine")
    if engine is None:
        return "espeak"
    if not isinstance(engine, str) or engine not in ENGINE_NAMES:
        raise bad("engine must be one of %s, got %s" % (", ".join(ENGINE_NAMES), _show(engine)))
    return engine


def synthesize(params: dict, engine: str) -> SynthesizeParams:
    text = params.get("text")
    if text is None:
        raise bad("text is required")
    if not isinstance(text, str):
        raise bad("text must be a string, got %s" % _type(text))
    n = len(text.strip())
    if n == 0:
        raise bad("text is empty (only whitespace)")
    if n > MAX_TEXT:
        raise bad("text is too long: %d characters after trimming, at most %d" % (n, MAX_TEXT))
    if len(text) > 2 * MAX_TEXT:  # surrounding whitespace is free, but not without end
        raise bad("text is too long: %d characters with its surrounding whitespace, at most %d"
                  % (len(text), 2 * MAX_TEXT))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise bad("text contains an unpaired surrogate at offset %d" % e.start)

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
    )


def check_output_path(path: Any) -> str:
    """Return the real path to write, or raise INVALID_PARAMS naming output_path."""
    if path is None:
        raise bad("output_path is required")
    if not isinstance(path, str) or not path:
        raise bad("output_path must be a non-empty string, got %s" % _show(path))
    if "\0" in path:
        raise bad("output_path contains a NUL character")
    if not os.path.isabs(path):
        raise bad("output_path must be absolute, got %r" % path)
    if path.endswith(os.sep) or os.path.basename(path) in ("", ".", ".."):
        raise bad("output_path must name a file, got %r" % path)
    real = os.path.realpath(path)
    root_env = os.environ.get(DATA_DIR_ENV)
    if root_env:
        root = os.path.realpath(root_env)
        try:
            inside = os.path.commonpath([real, root]) == root and real != root
        except ValueError:
            inside = False
        if not inside:
            raise bad("output_path %r is outside the data directory %s (%s)" % (path, DATA_DIR_ENV, root))
    parent = os.path.dirname(real)
    if not os.path.isdir(parent):
        raise bad("output_path's directory does not exist: %r" % os.path.dirname(path))
    if os.path.isdir(real):
        raise bad("output_path is a directory: %r" % path)
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
