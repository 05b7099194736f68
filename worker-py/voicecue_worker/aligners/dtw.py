"""The `dtw` aligner (cpu lane): time the words of any espeak language in any recording.

espeak speaks the text (its word events give each word's exact place in that synthetic
reference), both signals become spectral features, and dynamic time warping maps the
reference onto the recording; each word's reference frames, carried over the path, give its
times in the recording. numpy does the arithmetic (no torch, no model, no download).

What mattered (measured on Festival speech with exact word times, bench/align.mjs):
  * steps: diagonal, horizontal and vertical all cost one local distance, so a path gains
    nothing by staircasing around the diagonal;
  * the recording's noise floor, measured per mel band on its quietest frames, is added to
    the (digitally silent) reference after matching speech levels, so silence looks like
    silence on both sides and a noisy recording does not pull words into its pauses;
  * room for pauses: silent padding around the reference and a short silent gap between every
    two words, so a pause in the recording has silence to sit on; a word's start is where the
    recording leaves that gap and its end where the recording enters the next one, and a
    boundary frame's run of recording silence is left out of the word. A word espeak speaks
    as several ("1987" -> nineteen eighty-seven) gets its gap only after its last part, so it
    ends where its last spoken word ends;
  * the reference at the recording's pace: where the recording is clean enough to measure its
    speech time, espeak speaks again at the ratio of the two speech times when they differ by
    more than 8% (+1 point on clean speech, +2 on rate changes);
  * English numbers and symbols spoken for the reference as their most common reading
    (spoken_en), since espeak-ng alone says "dollar two hundred fifty" for "$250" (+2 points
    on clean speech, +3 on noisy);
  * coarse to fine: DTW on 4x pooled frames, then at full resolution in a band around the
    coarse path. A long recording is aligned window by window at the coarse level: each
    window starts at an anchor, a stretch the previous window matched with low cost, so time
    and memory grow linearly with the length (an hour is a few hundred MB at most).

Confidence per word: its mean distance along the path against the recording's typical one,
lowered where the path squeezes the word into much less time than espeak gave it (text the
recording does not have); runs of unsure words are spread evenly over the time between the
words around them.
"""

from __future__ import annotations

import logging
import math
import re
import time
import wave
from typing import List, Optional, Sequence, Tuple

from ..errors import INVALID_PARAMS, NO_SPEECH, RpcError
from ..plugins import Aligner, Job
from . import spoken_en

log = logging.getLogger("voicecue.dtw")

try:  # the aligner reports itself unavailable without numpy; the worker still starts
    import numpy as np
except ImportError:  # pragma: no cover - depends on the environment
    np = None

FRAME_S = 0.010  # hop
WINDOW_S = 0.025
N_MELS = 40
N_CEPS = 13  # c0..c12
F_MIN = 100.0
F_MAX = 7600.0
COARSE = 4  # frames pooled for the coarse pass
BAND = 30  # fine frames each side of the coarse path
MID_BAND = 12  # coarse frames each side of the coarsest path (long audio)
# espeak again at the recording's pace when their speech times differ by more than this share,
# where the recording is clean enough (speech over its floor) for its speech time to be measured
TEMPO_TOLERANCE = 0.08
TEMPO_SNR_DB = 40.0
PAD_FRAMES = 10  # silence before and after the reference
GAP_FRAMES = 1  # silence between two words of the reference
# the coarse pass at once while ref x rec coarse frames stay under this, else window by window
FULL_CELLS = 6_000_000
WINDOW_REF = 1500  # frames of reference per window (at 160 ms, 4 minutes)
BLOCK_S = 30.0  # seconds of audio featurized at a time
TAU_FRAC = 1.0
SKIP_FRAC = 0.5
GARBAGE_FRAC = 0.6
PAUSE_FRAMES = 5
FREE = (True, True)  # reference rows at either end may stay off the path
UNSURE = 0.35  # below this confidence a word is placed by its neighbours
TRIM = True
START_SHIFT = -0.008
END_SHIFT = 0.0
NOISE_MATCH = 1.0


# ------------------------------------------------------------------ features
class Featurizer:
    """Streaming mel power spectra: feed 16-bit PCM, get (frames, N_MELS) float32."""

    def __init__(self, sample_rate: int, f_max: float):
        self.sr = sample_rate
        self.win = int(round(WINDOW_S * sample_rate))
        self.hop = int(round(FRAME_S * sample_rate))
        self.nfft = 1 << (self.win - 1).bit_length()
        self.window = np.hanning(self.win).astype(np.float32)
        self.mel = mel_filters(sample_rate, self.nfft, N_MELS, F_MIN, f_max)
        self._tail = np.zeros(0, np.float32)
        self._blocks: List["np.ndarray"] = []
        self._block_samples = int(BLOCK_S * sample_rate)
        self._pending: List["np.ndarray"] = []
        self._pending_n = 0
        self.samples = 0

    @property
    def frame_s(self) -> float:
        return self.hop / self.sr

    def center_s(self) -> float:
        return self.win / 2 / self.sr

    def feed_pcm(self, pcm: bytes) -> None:
        a = np.frombuffer(pcm, dtype=np.int16, count=len(pcm) // 2)  # espeak's native-endian samples
        self.feed(a.astype(np.float32) / 32768.0)

    def feed(self, x: "np.ndarray") -> None:
        self.samples += len(x)
        self._pending.append(x)
        self._pending_n += len(x)
        if self._pending_n >= self._block_samples:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        x = np.concatenate([self._tail, *self._pending])
        self._pending, self._pending_n = [], 0
        n = 0 if len(x) < self.win else 1 + (len(x) - self.win) // self.hop
        if n:
            frames = np.lib.stride_tricks.as_strided(x, (n, self.win), (x.strides[0] * self.hop, x.strides[0]), writeable=False)
            spec = np.fft.rfft(frames * self.window, self.nfft, axis=1)
            power = np.square(spec.real, dtype=np.float32) + np.square(spec.imag, dtype=np.float32)
            self._blocks.append(power @ self.mel.T)
        self._tail = x[n * self.hop:]

    def finish(self) -> "np.ndarray":
        self._flush()
        if len(self._tail) and (not self._blocks or len(self._tail) > self.hop):
            # the last partial frame, zero padded, so the end of the audio has a frame too
            x = np.zeros(self.win, np.float32)
            x[: len(self._tail)] = self._tail[: self.win]
            power = np.abs(np.fft.rfft(x * self.window, self.nfft)) ** 2
            self._blocks.append((power.astype(np.float32) @ self.mel.T)[None, :].astype(np.float32))
            self._tail = np.zeros(0, np.float32)
        if not self._blocks:
            return np.zeros((0, N_MELS), np.float32)
        out = np.concatenate(self._blocks)
        self._blocks = []
        return out


def mel_filters(sr: int, nfft: int, n_mels: int, f_min: float, f_max: float) -> "np.ndarray":
    def mel(f):
        return 2595.0 * np.log10(1.0 + f / 700.0)

    def hz(m):
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)

    freqs = np.arange(nfft // 2 + 1) * sr / nfft
    edges = hz(np.linspace(mel(f_min), mel(f_max), n_mels + 2))
    fb = np.zeros((n_mels, len(freqs)), np.float32)
    for k in range(n_mels):
        lo, mid, hi = edges[k], edges[k + 1], edges[k + 2]
        up = (freqs - lo) / max(mid - lo, 1e-9)
        down = (hi - freqs) / max(hi - mid, 1e-9)
        fb[k] = np.maximum(0.0, np.minimum(up, down))
        if fb[k].sum() == 0:  # a band narrower than a bin: take the nearest bin
            fb[k, int(np.argmin(np.abs(freqs - mid)))] = 1.0
    return fb


def dct_matrix(n_in: int, n_out: int) -> "np.ndarray":
    k = np.arange(n_out)[:, None]
    n = np.arange(n_in)[None, :]
    return (np.cos(np.pi * k * (2 * n + 1) / (2 * n_in)) * math.sqrt(2.0 / n_in)).astype(np.float32)


def noise_floor(mel: "np.ndarray") -> "np.ndarray":
    """Per band, the mean power of the quietest tenth of the frames."""
    energy = mel.sum(axis=1)
    k = max(1, len(energy) // 10)
    quiet = np.argpartition(energy, k - 1)[:k]
    return mel[quiet].mean(axis=0) + 1e-10


def speech_level(mel: "np.ndarray") -> float:
    """The power of loud speech: the 90th percentile of frame energies."""
    return float(np.percentile(mel.sum(axis=1), 90)) + 1e-10


DELTA_W = 1.0
C0_W = 0.5
VARNORM = False
LOGMEL = False


def cepstra(mel: "np.ndarray", dct: "np.ndarray", mean: Optional["np.ndarray"] = None) -> "np.ndarray":
    """Mean-normalized cepstra with their deltas."""
    c = np.log(mel + 1e-10)
    if not LOGMEL:
        c = c @ dct.T
    c -= c.mean(axis=0) if mean is None else mean
    if VARNORM:
        c /= c.std(axis=0) + 1e-6
    if not LOGMEL:
        c[:, 0] *= C0_W
    d = np.zeros_like(c)
    if len(c) > 2:
        d[1:-1] = (c[2:] - c[:-2]) * 0.5
    if DELTA_W == 0:
        return c.astype(np.float32)
    return np.concatenate([c, d * DELTA_W], axis=1).astype(np.float32)


# ------------------------------------------------------------------ DTW
def band_costs(X: "np.ndarray", Y: "np.ndarray", lo: "np.ndarray", width: int, rows: slice) -> "np.ndarray":
    """Euclidean distances of rows ``rows`` of X to Y[lo[i] : lo[i] + width] (clipped to Y)."""
    idx = np.minimum(lo[rows][:, None] + np.arange(width)[None, :], len(Y) - 1)
    diff = Y[idx] - X[rows][:, None, :]
    return np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))


def clip_cost(X: "np.ndarray", Y: "np.ndarray") -> float:
    """The most one step may cost: a share of the typical distance between unrelated frames.
    Text the recording lacks (or speech the text lacks) then costs the same per frame however
    it is warped, so the path takes it in as a straight run instead of bending the words
    around it out of place."""
    if TAU_FRAC <= 0:
        return np.inf
    rng = np.random.default_rng(0)
    i = rng.integers(0, len(X), 4000)
    j = rng.integers(0, len(Y), 4000)
    return float(np.median(np.sqrt(((X[i] - Y[j]) ** 2).sum(axis=1)))) * TAU_FRAC


def banded_dtw(X: "np.ndarray", Y: "np.ndarray", lo: "np.ndarray", hi: "np.ndarray",
               open_end: bool = False, free_rows: Tuple[bool, bool] = (False, False),
               cap: Optional["np.ndarray"] = None, job: Optional[Job] = None) -> Tuple["np.ndarray", "np.ndarray"]:
    """DTW of rows X against columns Y inside a band: row i may use columns [lo[i], hi[i]).

    Steps (1,0), (0,1) and (1,1) all add one local (Euclidean) distance. The path starts at
    (0, 0) and ends at (n-1, m-1), or with ``open_end`` anywhere in the last row (the end with
    the lowest cost per step). ``free_rows`` (start, end): the path may start in any row at
    column 0, and end in any row at the last column, so reference rows at either end that
    match nothing (text the recording does not have) are left off the path. Returns the path
    as two index arrays, in order. ``cap``: per row, the most a cell of that row may cost
    (a share of ``clip_cost`` on the reference's pauses, where speech the text lacks may sit).

    Row by row: the vertical and diagonal steps are elementwise minima of the previous row;
    the horizontal steps within a row are a running minimum (D[j] = min(A[j], D[j-1] + c[j])
    is S[j] + min over k <= j of (A[k] - S[k]), S the running sum of c), so each row is a
    handful of numpy calls whatever its width.
    """
    n, m = len(X), len(Y)
    free_start, free_end = free_rows
    best_end, best_row = np.inf, n - 1
    tau = clip_cost(X, Y)
    skip = SKIP_FRAC * tau if np.isfinite(tau) else 0.0  # what a reference row left off costs
    lo = np.asarray(lo, np.int64)
    hi = np.asarray(hi, np.int64)
    widths = hi - lo
    width = int(widths.max())
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(widths, out=offsets[1:])
    choice = np.zeros(int(offsets[-1]), np.int8)  # 0 diagonal, 1 vertical, 2 horizontal
    shifts = np.diff(lo, prepend=lo[0])
    room = width + int(shifts.max()) + 2
    prev = np.full(room, np.inf)  # prev[1 + k]: the previous row's cost at column lo + k
    A = np.empty(width)
    S = np.empty(width)
    base = np.empty(width)
    T = np.empty(width)
    mask = np.empty(width, bool)
    lo_l, w_l, off_l, sh_l = lo.tolist(), widths.tolist(), offsets.tolist(), shifts.tolist()
    block = max(1, (1 << 18) // width)  # rows whose costs are computed at once (~10 MB)
    C = None
    c0 = 0
    pw = 0
    for i in range(n):
        if i - c0 >= block or C is None:
            c0 = i
            rows = slice(i, min(n, i + block))
            C = np.minimum(band_costs(X, Y, lo, width, rows), tau)
            if cap is not None:
                np.minimum(C, cap[rows, None] * tau, out=C)
            if job is not None:
                job.check()
        w = w_l[i]
        c = C[i - c0, :w]
        a, t, s, b, mk = A[:w], T[:w], S[:w], base[:w], mask[:w]
        ch = choice[off_l[i]: off_l[i] + w]
        if i == 0:
            a.fill(np.inf)
            if lo_l[0] == 0:
                a[0] = c[0]
        elif free_start and lo_l[i] == 0:
            d = sh_l[i]
            V, G = prev[1 + d: 1 + d + w], prev[d: d + w]
            np.less(V, G, out=mk)
            ch[mk] = 1
            np.minimum(V, G, out=a)
            a += c
            if c[0] + i * skip < a[0]:  # start here, the rows above left off at a price each
                a[0] = c[0] + i * skip
                ch[0] = 3
        else:
            d = sh_l[i]
            V, G = prev[1 + d: 1 + d + w], prev[d: d + w]
            np.less(V, G, out=mk)
            ch[mk] = 1
            np.minimum(V, G, out=a)
            a += c
        np.cumsum(c, out=s)
        np.subtract(a, s, out=b)
        np.minimum.accumulate(b, out=t)
        np.less(t, b, out=mk)
        ch[mk] = 2
        np.add(t, s, out=prev[1: 1 + w])
        if free_end and lo_l[i] + w == m and prev[w] + (n - 1 - i) * skip < best_end:
            best_end, best_row = prev[w] + (n - 1 - i) * skip, i
        if pw > w:
            prev[1 + w: 1 + pw] = np.inf
        pw = w
    last = prev[1: 1 + pw]
    plo = lo_l[-1]
    # the end
    if open_end and np.isfinite(last).any():
        cols = np.arange(plo, plo + pw)
        j = int(cols[np.argmin(last / (n + cols + 1))])
    else:
        j = int(hi[-1]) - 1
    i = n - 1
    if free_end and best_row < n - 1:
        i, j = best_row, m - 1
    pi, pj = [], []
    while True:
        pi.append(i)
        pj.append(j)
        if i == 0:
            if j <= lo_l[0]:
                break
            j -= 1
            continue
        k = choice[off_l[i] + j - lo_l[i]]
        if k == 3:
            break
        if k == 0:
            i, j = i - 1, j - 1
        elif k == 1:
            i -= 1
        else:
            j -= 1
    return np.array(pi[::-1], np.int64), np.array(pj[::-1], np.int64)


def coarse_path(Xc: "np.ndarray", Yc: "np.ndarray", cap: "np.ndarray", job: Optional[Job]) -> Tuple["np.ndarray", "np.ndarray"]:
    """DTW over pooled frames: at once when small; else a path over frames pooled 4x more
    (window by window from anchors, ``windowed_path``), refined in a band around it."""
    n, m = len(Xc), len(Yc)
    if n * m <= FULL_CELLS:
        return banded_dtw(Xc, Yc, np.zeros(n, np.int64), np.full(n, m, np.int64), free_rows=FREE, cap=cap, job=job)
    Xt, Yt, ct = pool(Xc, COARSE), pool(Yc, COARSE), pool_cap(cap, COARSE)
    if len(Xt) * len(Yt) <= FULL_CELLS:
        ti, tj = banded_dtw(Xt, Yt, np.zeros(len(Xt), np.int64), np.full(len(Xt), len(Yt), np.int64),
                            free_rows=FREE, cap=ct, job=job)
    else:
        ti, tj = windowed_path(Xt, Yt, ct, job)
    lo, hi = band_from_path(ti, tj, n, m, COARSE, MID_BAND)
    return banded_dtw(Xc, Yc, lo, hi, free_rows=FREE, cap=cap, job=job)


def windowed_path(Xc: "np.ndarray", Yc: "np.ndarray", cap: "np.ndarray", job: Optional[Job]) -> Tuple["np.ndarray", "np.ndarray"]:
    """DTW in windows of WINDOW_REF rows, each from an anchor: the lowest-cost stretch of the
    previous window's path between its half and three quarters. Linear in the length."""
    n, m = len(Xc), len(Yc)
    ratio = m / n
    out_i, out_j = [], []
    a_i = a_j = 0
    while True:
        wi = min(WINDOW_REF, n - a_i)
        last = a_i + wi >= n
        wj = int(wi * ratio * 1.5) + 250
        if last or a_j + wj >= m:
            wj = m - a_j
        wj = max(wj, 1)
        to_end = last and a_j + wj >= m
        pi, pj = banded_dtw(Xc[a_i: a_i + wi], Yc[a_j: a_j + wj], np.zeros(wi, np.int64),
                            np.full(wi, wj, np.int64), open_end=not to_end,
                            free_rows=(FREE[0] and a_i == 0, FREE[1] and to_end), cap=cap[a_i: a_i + wi], job=job)
        if last:
            out_i.append(pi + a_i)
            out_j.append(pj + a_j)
            break
        # the next anchor: the lowest-cost stretch of the path between half and 3/4 of the window
        d = np.sqrt(((Xc[a_i + pi] - Yc[a_j + pj]) ** 2).sum(axis=1))
        k = 25
        smooth = np.convolve(d, np.ones(k) / k, mode="same")
        lo_k = int(np.searchsorted(pi, wi // 2))
        hi_k = max(lo_k + 1, int(np.searchsorted(pi, (3 * wi) // 4)))
        cut = lo_k + int(np.argmin(smooth[lo_k:hi_k]))
        # cut where a new row starts, so the next window begins at a fresh (row, column)
        while cut + 1 < len(pi) and pi[cut + 1] == pi[cut]:
            cut += 1
        if pj[cut] + a_j >= m - 1:
            cut = max(0, int(np.searchsorted(pi, pi[cut])) - 1)
        out_i.append(pi[: cut + 1] + a_i)
        out_j.append(pj[: cut + 1] + a_j)
        a_i, a_j = int(pi[cut]) + a_i + 1, int(pj[cut]) + a_j + 1
        if a_i >= n:
            break
        if a_j >= m:  # the recording ended: the rest of the reference sits on its last frame
            out_i.append(np.arange(a_i, n))
            out_j.append(np.full(n - a_i, m - 1))
            break
        if job is not None:
            job.check()
            job.progress(a_i, n)  # reference frames placed so far
    return np.concatenate(out_i), np.concatenate(out_j)


def band_from_path(pi: "np.ndarray", pj: "np.ndarray", n: int, m: int, factor: int, radius: int):
    """Fine rows' column ranges around a coarse path."""
    nc = (n + factor - 1) // factor
    cmin = np.full(nc, np.iinfo(np.int64).max)
    cmax = np.full(nc, -1)
    np.minimum.at(cmin, pi, pj)
    np.maximum.at(cmax, pi, pj)
    # rows the path left off (reference that matched nothing) hug its first or last column
    first, last = int(pi[0]), int(pi[-1])
    cmin[:first], cmax[:first] = pj[0], pj[0]
    cmin[last + 1:], cmax[last + 1:] = pj[-1], pj[-1]
    rows = np.minimum(np.arange(n) // factor, nc - 1)
    lo = cmin[rows] * factor - radius
    hi = (cmax[rows] + 1) * factor + radius
    lo = np.clip(lo, 0, m - 1)
    hi = np.clip(hi, 1, m)
    lo = np.maximum.accumulate(lo)
    hi = np.maximum.accumulate(hi)
    lo[0] = 0
    hi[-1] = m
    hi = np.maximum.accumulate(hi)
    # every row reachable from the one before
    lo[1:] = np.minimum(lo[1:], hi[:-1])
    lo = np.minimum(lo, hi - 1)
    return lo.astype(np.int64), hi.astype(np.int64)


def pool_cap(cap: "np.ndarray", k: int) -> "np.ndarray":
    n = (len(cap) + k - 1) // k
    padded = np.concatenate([cap, np.full(n * k - len(cap), np.inf)])
    return padded.reshape(n, k).min(axis=1)


def pool(F: "np.ndarray", k: int) -> "np.ndarray":
    n = (len(F) + k - 1) // k
    pad = n * k - len(F)
    if pad:
        F = np.concatenate([F, np.repeat(F[-1:], pad, axis=0)])
    return F.reshape(n, k, F.shape[1]).mean(axis=1)


# ------------------------------------------------------------------ audio
def open_wav(path: str) -> "wave.Wave_read":
    """A PCM WAV file open for reading, or INVALID_PARAMS saying why not."""
    try:
        w = wave.open(path, "rb")
    except (wave.Error, EOFError, OSError) as e:
        raise RpcError(INVALID_PARAMS, "audio_path is not a PCM WAV file: %s" % e)
    if w.getsampwidth() not in (1, 2, 3, 4) or w.getframerate() < 4000 or w.getnchannels() < 1:
        w.close()
        raise RpcError(INVALID_PARAMS, "audio_path: unsupported WAV (%d-byte samples at %d Hz)"
                       % (w.getsampwidth(), w.getframerate()))
    return w


def read_wav(w: "wave.Wave_read", feat: "Featurizer", job: Optional[Job] = None) -> "np.ndarray":
    """Featurize an open WAV block by block (mono: channels averaged); closes it."""
    with w:
        width, ch = w.getsampwidth(), w.getnchannels()
        block = int(BLOCK_S * w.getframerate())
        while True:
            data = w.readframes(block)
            if not data:
                break
            feat.feed(_pcm_to_float(data, width, ch))
            if job is not None and job.should_stop():
                break  # the caller's job.check() says why
    return feat.finish()


def _pcm_to_float(data: bytes, width: int, channels: int) -> "np.ndarray":
    if width == 1:
        x = (np.frombuffer(data, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        x = np.frombuffer(data, "<i2").astype(np.float32) / 32768.0
    elif width == 3:
        b = np.frombuffer(data, np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        v = np.where(v >= 1 << 23, v - (1 << 24), v)
        x = v.astype(np.float32) / float(1 << 23)
    else:
        x = np.frombuffer(data, "<i4").astype(np.float32) / float(1 << 31)
    if channels > 1:
        x = x[: len(x) // channels * channels].reshape(-1, channels).mean(axis=1)
    return x


# ------------------------------------------------------------------ the aligner
class DtwAligner(Aligner):
    name = "dtw"
    lane = "cpu"

    def __init__(self, espeak) -> None:
        super().__init__()
        self.espeak = espeak  # the lane's espeak engine (one libespeak-ng per process)

    def load(self) -> None:
        if np is None:
            self.reason = "numpy is not installed in the worker's python (worker-py/requirements.txt)"
            return
        if not self.espeak.available:
            self.reason = "needs espeak for its reference speech: %s" % (self.espeak.reason or "unavailable")
            return
        self.dct = dct_matrix(N_MELS, N_CEPS)
        self.available, self.reason = True, None

    def language_codes(self) -> Optional[List[str]]:
        return self.espeak.language_codes()

    def versions(self) -> dict:
        return {"numpy": np.__version__} if np is not None else {}

    def align(self, audio_path: str, text: str, spans: Sequence[Tuple[int, int]], language: Optional[str],
              segments: Optional[List[dict]], job: Job) -> List[dict]:
        t0 = time.perf_counter()
        voice = self.espeak.resolve_voice(language or "en-us")
        ref_sr = self.espeak.sample_rate
        w = open_wav(audio_path)
        rec_sr = w.getframerate()
        f_max = min(F_MAX, 0.45 * min(rec_sr, ref_sr))  # a band both signals have
        rec = Featurizer(rec_sr, f_max)
        # one after the other: espeak speaks in a forked child, and a fork beside a running
        # thread can inherit a lock that thread held
        rec_mel = read_wav(w, rec, job)
        job.check()
        english = voice.canonical.lower().startswith("en")
        ref_text, ref_spans, groups = spoken_reference(text, spans) if english else (text, spans, None)

        def reference(speed: float):
            feat = Featurizer(ref_sr, f_max)
            _, spoken, _ = self.espeak.speak(ref_text, ref_spans, voice, speed, feat.feed_pcm, None, job.should_stop)
            job.check()
            return feat, spoken, feat.finish()

        ref, words, ref_mel = reference(1.0)
        # a reference at the recording's pace warps less: espeak again at the ratio of speech times
        snr_db = 10 * math.log10(speech_level(rec_mel) / float(noise_floor(rec_mel).sum())) if len(rec_mel) > 1 else 0.0
        if snr_db >= TEMPO_SNR_DB and len(ref_mel) > 1:
            ratio = float((~_silent_frames(ref_mel)).sum() * ref.frame_s) / max(1e-3, float((~_silent_frames(rec_mel)).sum() * rec.frame_s))
            if abs(ratio - 1.0) > TEMPO_TOLERANCE:
                ref, words, ref_mel = reference(min(max(ratio, 0.5), 2.0))
        duration = rec.samples / rec_sr
        if len(rec_mel) < 2:
            raise RpcError(NO_SPEECH, "the audio is too short to align (%d samples)" % rec.samples)
        if not words or len(ref_mel) < 2:
            raise RpcError(NO_SPEECH, "espeak spoke nothing for this text")
        t1 = time.perf_counter()
        out = align_features(ref_mel, ref, words, rec_mel, rec, duration, self.dct, job)
        if groups is not None:
            out = regroup(out, groups, text, spans)
        log.info("align id=%s dtw %s %d words in %.2f s of audio: %.0f ms (espeak+features %.0f ms)",
                 job.id, voice.canonical, len(out), duration, (time.perf_counter() - t0) * 1000, (t1 - t0) * 1000)
        return out


#: Tokens espeak-ng reads in an order or a form people rarely say ("$250": "dollar two hundred
#: fifty", "1969": "nineteen hundred sixty nine"): spoken from their most common reading instead.
_SPELLED = re.compile(r"[0-9$€£¥%&@#+=]")


def spoken_reference(text: str, spans: Sequence[Tuple[int, int]]):
    """English: the text espeak speaks for the reference, with numbers and symbols written out as
    their most common reading (spoken_en), its word spans, and for each of the text's words the
    first and last of its spoken words (so a multi-word reading ends where its last word ends)."""
    out, ref_spans, groups = [], [], []
    pos = 0
    for s, e in spans:
        out.append(text[pos:s])
        at = sum(len(x) for x in out)
        token = text[s:e]
        reading = spoken_en.readings(token)[0] if _SPELLED.search(token) else None
        parts = reading if reading and all(p.replace("'", "").isalpha() for p in reading) else [token]
        first = len(ref_spans)
        for k, part in enumerate(parts):
            if k:
                out.append(" ")
                at += 1
            out.append(part)
            ref_spans.append((at, at + len(part)))
            at += len(part)
        groups.append((first, len(ref_spans) - 1))
        pos = e
    out.append(text[pos:])
    return "".join(out), ref_spans, groups


def regroup(words: List[dict], groups: Sequence[Tuple[int, int]], text: str, spans: Sequence[Tuple[int, int]]) -> List[dict]:
    """The reference's spoken words back onto the text's words: from the first one's start to the
    last one's end, as sure as the least sure of them."""
    out = []
    for (a, b), (s, e) in zip(groups, spans):
        first, last = words[a], words[b]
        out.append({**first, "word": text[s:e], "end": last["end"], "char_start": s, "char_end": e,
                    "confidence": min(w["confidence"] for w in words[a:b + 1])})
    return out


def align_features(ref_mel, ref: Featurizer, words: List[dict], rec_mel, rec: Featurizer, duration: float,
                   dct, job: Optional[Job]) -> List[dict]:
    """Align the reference's mel frames (with espeak's word times) to the recording's."""
    # match the reference's speech level to the recording's, then give it the recording's floor
    floor = noise_floor(rec_mel)
    ref_mel = ref_mel * (speech_level(rec_mel) / speech_level(ref_mel)) + floor * NOISE_MATCH + 1e-10
    rec_mel = rec_mel + floor * (NOISE_MATCH - 1.0) + 1e-10

    # the reference's frames with silent padding and a gap between every two words
    rfs, rc = ref.frame_s, ref.center_s()
    nref = len(ref_mel)
    starts = np.array([_frame_at(w["start"], rfs, rc, nref) for w in words])
    ends = np.array([_frame_at(w["end"], rfs, rc, nref) for w in words])
    ends = np.maximum(ends, starts + 1)
    ends = np.minimum(ends, nref)
    starts = np.minimum(starts, ends - 1)
    starts, ends = starts.astype(np.int64), ends.astype(np.int64)
    # a gap where each word ends (before the pause espeak made there, if any)
    cuts = np.maximum.accumulate(ends[:-1]) if len(words) > 1 else np.zeros(0, np.int64)
    gap = np.repeat(floor[None, :], GAP_FRAMES, axis=0)
    pad = np.repeat(floor[None, :], PAD_FRAMES, axis=0)
    body = np.insert(ref_mel, np.repeat(cuts, GAP_FRAMES), np.tile(floor, (len(cuts) * GAP_FRAMES, 1)), axis=0) \
        if len(cuts) else ref_mel
    ref_full = np.concatenate([pad, body, pad])
    del gap

    def placed(f):  # an original reference frame's index in ref_full
        return f + PAD_FRAMES + GAP_FRAMES * np.searchsorted(cuts, f, side="right")

    ws = placed(starts)
    we = placed(ends - 1) + 1  # exclusive, before the gap at the word's end

    # features: cepstra normalized by the speech frames' mean on each side
    X = cepstra(ref_full, dct)
    Y = cepstra(rec_mel, dct)
    n, m = len(X), len(Y)
    if job is not None:
        job.check()
    # coarse to fine
    t0 = time.perf_counter()
    # the reference's pauses (padding, and gaps where espeak paused) may hold speech the text lacks
    cap = np.full(n, np.inf)
    cap[:PAD_FRAMES] = cap[n - PAD_FRAMES:] = GARBAGE_FRAC
    for k in range(1, len(words)):
        if starts[k] - ends[k - 1] >= PAUSE_FRAMES:
            g = placed(ends[k - 1]) - GAP_FRAMES
            cap[g: g + GAP_FRAMES] = GARBAGE_FRAC
    ci, cj = coarse_path(pool(X, COARSE), pool(Y, COARSE), pool_cap(cap, COARSE), job)
    t1 = time.perf_counter()
    lo, hi = band_from_path(ci, cj, n, m, COARSE, BAND)
    pi, pj = banded_dtw(X, Y, lo, hi, free_rows=FREE, cap=cap, job=job)
    log.debug("dtw %d x %d frames: coarse %.0f ms, fine %.0f ms", n, m, (t1 - t0) * 1000, (time.perf_counter() - t1) * 1000)
    if job is not None:
        job.check()
    dist = np.sqrt(((X[pi] - Y[pj]) ** 2).sum(axis=1))

    # each reference frame's first and last recording frame (m and -1: not on the path)
    jmin = np.full(n, m, np.int64)
    jmax = np.full(n, -1, np.int64)
    np.minimum.at(jmin, pi, pj)
    np.maximum.at(jmax, pi, pj)
    silent = _silent_frames(rec_mel)
    nw = len(words)
    rfs_rec, rcen = rec.frame_s, rec.center_s()
    b_start = np.zeros(nw)
    b_end = np.zeros(nw)
    cost = np.full(nw, np.inf)
    ref_len = (we - ws) * ref.frame_s
    rec_len = np.zeros(nw)
    for k in range(nw):
        s, e = int(ws[k]), int(we[k])
        a_k, b_k = int(np.searchsorted(pi, s)), int(np.searchsorted(pi, e))
        if b_k <= a_k:
            continue  # the path left this word off: text the recording does not have
        j0, j1 = int(pj[a_k]), int(pj[b_k - 1])
        # pause aware: the recording's silence held on a word's edge frame is not the word
        if TRIM and jmax[s] > j0:
            while j0 < jmax[s] and silent[j0]:
                j0 += 1
        if TRIM and jmin[e - 1] < j1 <= jmax[e - 1]:
            while j1 > jmin[e - 1] and silent[j1]:
                j1 -= 1
        if j1 < j0:
            j1 = j0
        b_start[k] = j0 * rfs_rec + rcen - rfs_rec / 2 + START_SHIFT
        b_end[k] = (j1 + 1) * rfs_rec + rcen - rfs_rec / 2 + END_SHIFT
        cost[k] = float(dist[a_k:b_k].mean())
        rec_len[k] = (j1 + 1 - j0) * rfs_rec
    on = np.isfinite(cost)
    # the recording's pace against espeak's, and each word's against that
    rate = float(np.median(rec_len[on] / np.maximum(ref_len[on], 1e-3))) if on.any() else 1.0
    pace = rec_len / np.maximum(ref_len * rate, 1e-3)
    conf = np.zeros(nw)
    if on.any():
        conf[on] = _confidence(cost[on], pace[on])
    return _finish(words, b_start, b_end, conf, ref_len * rate, duration)


def _frame_at(t: float, frame_s: float, center: float, n: int) -> int:
    """The first frame whose center is at or after ``t`` seconds."""
    return int(min(max(math.ceil((t - center) / frame_s - 1e-9), 0), n))


def _silent_frames(mel: "np.ndarray") -> "np.ndarray":
    """Frames within a few dB of the noise floor."""
    e = np.log10(mel.sum(axis=1) + 1e-12) * 10
    lo, hi = np.percentile(e, 5), np.percentile(e, 95)
    return e < lo + max(6.0, 0.25 * (hi - lo))


def _confidence(cost: "np.ndarray", pace: "np.ndarray") -> "np.ndarray":
    """From a word's mean distance along the path (against the median word's) and its pace
    (its length in the recording over espeak's, scaled by the recording's overall pace):
    a word squeezed to a third or stretched to thrice its expected length is suspect."""
    med = float(np.median(cost))
    mad = float(np.median(np.abs(cost - med))) + 1e-6
    z = np.maximum(0.0, (cost - med) / (4 * mad))
    fit = np.minimum(1.0, np.minimum(pace / 0.33, 3.0 / np.maximum(pace, 1e-6)))
    return np.clip(np.exp(-z * z) * fit, 0.0, 1.0)


def _finish(words: List[dict], start: "np.ndarray", end: "np.ndarray", conf: "np.ndarray",
            expected: "np.ndarray", duration: float) -> List[dict]:
    """Ordered, non-overlapping words inside the audio. A run of unsure words is spread over
    the time between the sure words around it, by their expected lengths; at either end of
    the text, a run gets its expected length next to the nearest sure word (within the audio)."""
    n = len(words)
    total_ms = max(1, int(duration * 1000))
    sure = conf >= UNSURE
    weight = np.maximum(expected, 1e-3)
    if not sure.any():
        sure_lo, sure_hi = 0.0, duration  # nothing to hold on to: spread over the audio
        edges = sure_lo + (sure_hi - sure_lo) * np.concatenate([[0.0], np.cumsum(weight) / weight.sum()])
        start, end = edges[:-1].copy(), edges[1:].copy()
    k = 0
    while sure.any() and k < n:
        if sure[k]:
            k += 1
            continue
        j = k
        while j < n and not sure[j]:
            j += 1
        need = float(weight[k:j].sum())
        if k > 0 and j < n:
            lo, hi = end[k - 1], start[j]
        elif j < n:
            hi = start[j]
            lo = max(0.0, hi - need)
        else:
            lo = end[k - 1]
            hi = min(duration, lo + need)
        hi = max(hi, lo)
        edges = lo + (hi - lo) * np.concatenate([[0.0], np.cumsum(weight[k:j]) / weight[k:j].sum()])
        start[k:j] = edges[:-1]
        end[k:j] = edges[1:]
        k = j
    s_ms = np.clip(np.round(start * 1000), 0, total_ms - 1).astype(np.int64)
    e_ms = np.clip(np.round(end * 1000), 0, total_ms).astype(np.int64)
    for k in range(1, n):  # strictly increasing starts
        if s_ms[k] <= s_ms[k - 1]:
            s_ms[k] = s_ms[k - 1] + 1
    if n and s_ms[-1] > total_ms - 1:  # only when absurdly many words: squeeze the tail back in
        for k in range(n - 1, -1, -1):
            s_ms[k] = min(s_ms[k], max(0, total_ms - (n - k)))
    out = []
    for k in range(n):
        nxt = s_ms[k + 1] if k + 1 < n else total_ms
        e = int(min(max(e_ms[k], s_ms[k] + 1), max(nxt, s_ms[k] + 1)))
        w = words[k]
        out.append({
            "word": w["word"], "start": int(s_ms[k]) / 1000, "end": e / 1000,
            "char_start": w["char_start"], "char_end": w["char_end"],
            "source": "dtw", "confidence": round(float(conf[k]), 3),
        })
    return out
