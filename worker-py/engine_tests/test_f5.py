"""The f5 engine on the real f5-tts library: the real worker (`python -m voicecue_worker --lane
gpu`) loading a tiny random-weight F5 in the real DiT/Vocos architecture (tiny_f5.py) on CPU, and
synthesizing through its protocol. The audio is noise; its length, chunks, seed and files are
the engine's and the library's real behaviour."""
import json
import subprocess
import wave
from pathlib import Path

import pytest

from tiny_f5 import build_tiny_f5
from worker import Worker
from voicecue_worker.engines.f5 import HOP, SAMPLE_RATE, generated_frames, normalise_ref_text

REF_TEXT = "This is a short reference recording."
FAST = {"nfe_step": 4}


def reference(path: Path) -> float:
    """An espeak-ng recording as the gateway hands references over: mono 24 kHz 16-bit WAV."""
    raw = path.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(raw), REF_TEXT], check=True)
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(raw), "-ac", "1", "-ar", str(SAMPLE_RATE),
                    "-c:a", "pcm_s16le", str(path)], check=True)
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("f5")
    env = build_tiny_f5(root / "model")
    data = root / "data"
    data.mkdir()
    ref = data / "reference.wav"
    reference(ref)
    worker = Worker({**env, "VOICECUE_DATA_DIR": str(data), "VOICECUE_ALLOW_DOWNLOADS": "0"}, module="voicecue_worker")
    yield {"worker": worker, "data": data, "ref": str(ref), "env": env, "root": root}
    worker.close()


def synth(setup, name, text, **extra):
    out = setup["data"] / name
    params = {"engine": "f5", "text": text, "output_path": str(out),
              "reference": {"audio_path": setup["ref"], "text": REF_TEXT}, "options": {**FAST, **extra.pop("options", {})}, **extra}
    return out, setup["worker"].call("synthesize", params)


def test_loaded_once_at_start_and_reported(setup):
    f5 = setup["worker"].ready["engines"]["f5"]
    assert f5["available"] is True, f5
    assert f5["loads"] == 1 and f5["device"] == "cpu" and f5["model"] == setup["env"]["VOICECUE_F5_MODEL"]
    assert f5["sample_rate"] == SAMPLE_RATE and f5["needs_reference"] is True
    assert isinstance(f5["infer_dropped"], list), "what the installed F5TTS.infer does not take is reported"
    _, answer = synth(setup, "a.wav", "Hello there.")
    _, again = synth(setup, "b.wav", "Hello again.")
    assert "result" in answer and "result" in again, (answer, again)
    caps = setup["worker"].call("capabilities")["result"]
    assert caps["engines"]["f5"]["loads"] == 1, "never loaded per request"


def test_a_24_khz_wav_as_long_as_f5s_duration_rule(setup):
    text = "The quick brown fox jumps over the lazy dog."
    out, answer = synth(setup, "rule.wav", text)
    result = answer["result"]
    with wave.open(str(out)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (SAMPLE_RATE, 1, 2)
        frames = w.getnframes()
    assert frames == result["samples"] and result["sample_rate"] == SAMPLE_RATE
    with wave.open(setup["ref"]) as w:
        ref_frames = w.getnframes() // HOP
    expected = generated_frames(ref_frames, normalise_ref_text(REF_TEXT), text, 1.0) * HOP
    assert abs(frames - expected) <= 0.05 * expected, (frames, expected)
    assert result["words"] == [], "f5 gives no word timings: the aligners time it"
    assert result["chunks"] == [{"char_start": 0, "char_end": len(text), "start": 0.0, "end": round(frames / SAMPLE_RATE, 4)}]


def test_the_seed_is_reported_and_the_same_seed_gives_the_same_audio(setup):
    a, first = synth(setup, "s1.wav", "Same seed, same audio.", options={"seed": 1234})
    b, second = synth(setup, "s2.wav", "Same seed, same audio.", options={"seed": 1234})
    _, random_seed = synth(setup, "s3.wav", "No seed given.")
    assert first["result"]["seed"] == 1234 == second["result"]["seed"]
    assert a.read_bytes() == b.read_bytes(), "a seed makes the audio reproducible"
    assert isinstance(random_seed["result"]["seed"], int), "a random seed is still reported, so it can be replayed"


def test_long_text_is_spoken_in_chunks_with_exact_spans_and_progress(setup):
    text = " ".join(["Every sentence here is one more piece of a longer text, spoken in turn."] * 12)
    worker = setup["worker"]
    rid = worker.send("synthesize", {"engine": "f5", "text": text, "output_path": str(setup["data"] / "long.wav"),
                                     "reference": {"audio_path": setup["ref"], "text": REF_TEXT}, "options": FAST})
    progress = []
    while True:
        msg = worker.recv()  # every line is JSON: F5's prints went to stderr, not the protocol
        if msg.get("id") != rid:
            continue
        if msg.get("event") == "progress":
            progress.append(msg)
            continue
        break
    chunks = msg["result"]["chunks"]
    assert len(chunks) >= 2, chunks
    assert [p["done"] for p in progress] == list(range(1, len(chunks) + 1))
    assert [p["chunk"] for p in progress] == chunks, "each chunk is announced as it is made"
    for prev, cur in zip(chunks, chunks[1:]):
        assert prev["char_end"] <= cur["char_start"] and prev["end"] <= cur["start"] + 0.2  # cross-faded
    assert chunks[0]["char_start"] == 0 and chunks[-1]["char_end"] == len(text)
    assert abs(chunks[-1]["end"] - msg["result"]["duration"]) < 0.01


def test_a_cancel_between_chunks_stops_and_leaves_no_file(setup):
    text = " ".join(["This long text will be cancelled after its first chunk is spoken."] * 16)
    worker = setup["worker"]
    out = setup["data"] / "cancelled.wav"
    rid = worker.send("synthesize", {"engine": "f5", "text": text, "output_path": str(out),
                                     "reference": {"audio_path": setup["ref"], "text": REF_TEXT}, "options": FAST})
    while True:
        msg = worker.recv()
        if msg.get("id") == rid and msg.get("event") == "progress":
            worker.send("cancel", {"id": rid})
            break
    while True:
        msg = worker.recv()
        if msg.get("id") == rid and msg.get("event") != "progress":
            break
    assert msg.get("error", {}).get("code") == "CANCELLED", msg
    assert not out.exists() and not [p for p in setup["data"].iterdir() if p.name.startswith("cancelled")]


def test_without_a_reference_f5_says_what_to_send(setup):
    answer = setup["worker"].call("synthesize", {"engine": "f5", "text": "No reference.", "output_path": str(setup["data"] / "x.wav")})
    assert answer["error"]["code"] == "INVALID_PARAMS" and "reference" in answer["error"]["message"]


def test_a_missing_checkpoint_makes_f5_unavailable_naming_the_file(setup):
    missing = str(setup["root"] / "nowhere" / "model.safetensors")
    worker = Worker({**setup["env"], "VOICECUE_F5_CKPT": missing, "VOICECUE_DATA_DIR": str(setup["data"]),
                     "VOICECUE_ALLOW_DOWNLOADS": "0"}, module="voicecue_worker")
    try:
        f5 = worker.ready["engines"]["f5"]
        assert f5["available"] is False and missing in f5["reason"], f5
        answer = worker.call("synthesize", {"engine": "f5", "text": "Hello.", "output_path": str(setup["data"] / "y.wav"),
                                            "reference": {"audio_path": setup["ref"], "text": REF_TEXT}})
        assert answer["error"]["code"] == "ENGINE_UNAVAILABLE" and missing in answer["error"]["message"]
    finally:
        worker.close()
