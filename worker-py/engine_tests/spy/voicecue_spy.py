"""`python -m voicecue_spy --lane gpu`: the real worker (`python -m voicecue_worker`), with the real
whisperx, watched: every call of whisperx.alignment.align is recorded (its transcript, and whether
any transcription code was loaded) in $VOICECUE_SPY_LOG, and whisperx's transcription entry points
record and refuse. The engine tests read that log to show our own text reached align."""
import json
import os
import runpy
import sys

_LOG = os.environ["VOICECUE_SPY_LOG"]


def _record(entry):
    with open(_LOG, "a", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\n")


def _install():
    import whisperx
    import whisperx.alignment as wxa

    real_align = wxa.align

    def align(transcript, model, metadata, audio, device, *args, **kwargs):
        _record({
            "call": "align",
            "transcript": [{"start": s["start"], "end": s["end"], "text": s["text"]} for s in transcript],
            "audio_dtype": str(audio.dtype), "audio_samples": int(audio.shape[-1]),
            "transcription_loaded": any(m in sys.modules for m in ("whisperx.asr", "faster_whisper")),
        })
        return real_align(transcript, model, metadata, audio, device, *args, **kwargs)

    def load_model(*args, **kwargs):
        _record({"call": "load_model"})
        raise RuntimeError("voicecue_spy: transcription is not allowed")

    wxa.align = align
    whisperx.load_model = load_model


import voicecue_worker.server as _server  # noqa: E402

_registry = _server.default_registry


def _watched_registry(lane):
    _install()  # after the worker moved fd 1 aside: nothing printed here reaches the protocol
    return _registry(lane)


_server.default_registry = _watched_registry
sys.argv[0] = "voicecue_worker"
runpy.run_module("voicecue_worker", run_name="__main__", alter_sys=True)
