"""Work budgets: audio seconds refused up front from an estimate and enforced while speaking,
worker seconds enforced while running, and no WAV past what its header can hold."""

import os

import pytest

from conftest import MUST_SHOW
from test_protocol import assert_error
from voicecue_worker import wav
from voicecue_worker.errors import RpcError


def _synth(worker, data_dir, text, **budget):
    return worker.request("synthesize", {"text": text, "output_path": str(data_dir / "b.wav"), **budget})[0]


def test_a_text_over_the_audio_budget_is_refused_before_any_work(worker, data_dir):
    text = " ".join(["word"] * 3000)
    msg = assert_error(_synth(worker, data_dir, text, max_audio_s=60), "BUDGET_EXCEEDED")
    assert "at least" in msg and "60 s" in msg
    assert os.listdir(data_dir) == []
    assert not any("synthesize id=" in line for line in worker.stderr_lines), "no synthesis ran"


def test_audio_that_grows_past_the_budget_is_stopped_and_removed(worker, data_dir):
    # One Han character spoken by the English voice: the estimate (0.35 s each) passes a 40 s
    # budget, the speech (about 0.64 s each) does not.
    msg = assert_error(_synth(worker, data_dir, "中" * 100, max_audio_s=40), "BUDGET_EXCEEDED")
    assert "40 s of audio" in msg
    assert os.listdir(data_dir) == []
    reply = _synth(worker, data_dir, MUST_SHOW, max_audio_s=40)
    assert reply["result"]["duration"] < 40, "the next request is served"


def test_worker_time_past_the_budget_stops_the_job(worker, data_dir):
    text = " ".join(["The quick brown fox jumps over the lazy dog."] * 400)
    msg = assert_error(_synth(worker, data_dir, text, max_worker_s=0.05), "BUDGET_EXCEEDED")
    assert "0.05 s of worker time" in msg
    assert os.listdir(data_dir) == []


def test_budgets_must_be_positive_numbers(worker, data_dir):
    for bad in (0, -1, "10", True, [5]):
        assert "max_audio_s" in assert_error(_synth(worker, data_dir, MUST_SHOW, max_audio_s=bad), "INVALID_PARAMS")
        assert "max_worker_s" in assert_error(_synth(worker, data_dir, MUST_SHOW, max_worker_s=bad), "INVALID_PARAMS")


def test_the_writer_never_overflows_the_wav_header(tmp_path, monkeypatch):
    monkeypatch.setattr(wav, "MAX_DATA_BYTES", 100)
    with wav.WavWriter(str(tmp_path / "x.wav"), 22050) as w:
        w.write(b"\0" * 100)
        with pytest.raises(RpcError) as e:
            w.write(b"\0" * 2)
    assert e.value.code == "BUDGET_EXCEEDED" and "4 GiB" in e.value.message
    assert os.listdir(tmp_path) == [], "the temp file is gone"
