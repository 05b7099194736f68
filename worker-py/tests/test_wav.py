import os
import struct
import wave

import pytest

from voicecue_worker import wav


def test_write_wav_roundtrip(tmp_path):
    path = str(tmp_path / "a.wav")
    pcm = struct.pack("<5h", 0, 1000, -1000, 32767, -32768)
    wav.write_wav(path, pcm, 22050)
    with wave.open(path, "rb") as f:
        assert (f.getnchannels(), f.getsampwidth(), f.getframerate(), f.getnframes()) == (1, 2, 22050, 5)
        assert f.readframes(5) == pcm
    assert os.listdir(str(tmp_path)) == ["a.wav"]
    assert not wav.active_temp_files


def test_streaming_writer_uses_temp_name_until_commit(tmp_path):
    path = str(tmp_path / "b.wav")
    with wav.WavWriter(path, 16000) as w:
        w.write(b"\x01\x00" * 100)
        w.write(b"\x02\x00" * 50)
        assert os.path.exists(w.tmp_path) and w.tmp_path == "%s.tmp-%d" % (path, os.getpid())
        assert not os.path.exists(path)
        assert w.frames == 150
        w.commit()
    with wave.open(path, "rb") as f:
        assert f.getnframes() == 150 and f.getframerate() == 16000
    assert os.listdir(str(tmp_path)) == ["b.wav"]


def test_failure_removes_temp_file_and_keeps_old_file(tmp_path):
    path = str(tmp_path / "c.wav")
    wav.write_wav(path, b"\x00\x00" * 10, 22050)
    with pytest.raises(RuntimeError):
        with wav.WavWriter(path, 22050) as w:
            w.write(b"\x00\x00" * 99)
            raise RuntimeError("synthesis failed")
    assert os.listdir(str(tmp_path)) == ["c.wav"]
    with wave.open(path, "rb") as f:
        assert f.getnframes() == 10
    assert not wav.active_temp_files
