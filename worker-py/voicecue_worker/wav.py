"""16-bit PCM WAV writing: stream into ``<path>.tmp-<pid>``, then ``os.replace``.

The audio is streamed to disk as it is produced, so a 20-minute text does not sit in memory.
On any failure the temp file is removed: a reader of ``path`` sees the whole file or none.
"""

from __future__ import annotations

import os
import struct
import sys
from array import array
from typing import Optional, Set

from .errors import BUDGET_EXCEEDED, RpcError

_HEADER = struct.Struct("<4sI4s4sIHHIIHH4sI")
HEADER_SIZE = _HEADER.size  # 44
# RIFF sizes are 32-bit: the data of one file can never grow past this.
MAX_DATA_BYTES = 0xFFFFFFFF - 36

# temp files being written, removed by the SIGTERM handler before it exits
active_temp_files: Set[str] = set()


def _header(data_bytes: int, sample_rate: int, channels: int) -> bytes:
    block = channels * 2
    return _HEADER.pack(
        b"RIFF", 36 + data_bytes, b"WAVE",
        b"fmt ", 16, 1, channels, sample_rate, sample_rate * block, block, 16,
        b"data", data_bytes,
    )


class WavWriter:
    """Write 16-bit PCM (native-endian samples in, little-endian file out).

    with WavWriter(path, 22050) as w:
        w.write(pcm_bytes)
        ...
        w.commit()          # without commit, leaving the block removes the temp file
    """

    def __init__(self, path: str, sample_rate: int, channels: int = 1, max_seconds: Optional[float] = None):
        self.path = path
        self.tmp_path = "%s.tmp-%d" % (path, os.getpid())
        self.sample_rate = sample_rate
        self.channels = channels
        self.data_bytes = 0
        # The budget in bytes: the request's seconds of audio, and never past the RIFF header's reach.
        budget = MAX_DATA_BYTES if max_seconds is None else int(max_seconds * sample_rate) * 2 * channels
        self.max_bytes = min(budget, MAX_DATA_BYTES)
        self.max_seconds = max_seconds
        self.committed = False
        self._swap = sys.byteorder != "little"
        active_temp_files.add(self.tmp_path)
        try:
            self._f: Optional[object] = open(self.tmp_path, "wb", buffering=1 << 20)
            self._f.write(_header(0, sample_rate, channels))
        except BaseException:
            self.abort()
            raise

    def write(self, pcm: bytes) -> None:
        if self.data_bytes + len(pcm) > self.max_bytes:
            if self.max_seconds is not None and self.max_bytes < MAX_DATA_BYTES:
                raise RpcError(BUDGET_EXCEEDED, "the audio grew past the limit of %s s of audio for one request"
                               % _figure(self.max_seconds))
            raise RpcError(BUDGET_EXCEEDED, "the audio grew past the 4 GiB a WAV file can hold")
        if self._swap:
            a = array("h")
            a.frombytes(pcm)
            a.byteswap()
            pcm = a.tobytes()
        self._f.write(pcm)
        self.data_bytes += len(pcm)

    def flush(self) -> None:
        """Hand what was written to the OS, so a reader of the temp file sees it."""
        self._f.flush()

    @property
    def frames(self) -> int:
        return self.data_bytes // (2 * self.channels)

    def commit(self) -> None:
        """Finish the header, close and rename into place."""
        f = self._f
        if self.data_bytes % 2:
            f.write(b"\0")  # never happens with whole samples; keeps RIFF chunks even
        f.seek(0)
        f.write(_header(self.data_bytes, self.sample_rate, self.channels))
        f.close()
        self._f = None
        os.replace(self.tmp_path, self.path)
        active_temp_files.discard(self.tmp_path)
        self.committed = True

    def abort(self) -> None:
        f = getattr(self, "_f", None)
        self._f = None
        if f is not None:
            try:
                f.close()
            except OSError:
                pass
        try:
            os.unlink(self.tmp_path)
        except FileNotFoundError:
            pass
        except OSError:
            pass
        active_temp_files.discard(self.tmp_path)

    def __enter__(self) -> "WavWriter":
        return self

    def __exit__(self, *exc) -> None:
        if not self.committed:
            self.abort()


def _figure(seconds: float) -> str:
    return ("%.1f" % seconds).rstrip("0").rstrip(".")


def write_wav(path: str, pcm: bytes, sample_rate: int, channels: int = 1) -> None:
    """Write a whole buffer of native-endian 16-bit samples as a WAV file, atomically."""
    with WavWriter(path, sample_rate, channels) as w:
        w.write(pcm)
        w.commit()
