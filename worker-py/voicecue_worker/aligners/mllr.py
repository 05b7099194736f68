"""Speaker adaptation for the pocketsphinx aligner: one MLLR mean transform and variance scale per
feature stream, estimated on the utterance itself from a first decode, for a second decode.

The first decode's words (and their pronunciations) are split into phones by a Viterbi pass
over each word's frames; each frame's posteriors over the Gaussians of its phone's codebook
(a PTM model: one codebook of densities per base phone) give the occupancies and first-order
statistics, and a closed-form solve per dimension gives the transform (Leggetter & Woodland,
diagonal covariances), pulled toward the identity where the utterance says little; the
variances are scaled by how far the frames sit from the adapted means (noise widens them). The
decoder applies it to its own Gaussians (ps_update_mllr) and is reset to the identity after.

The features are the decoder's own (its front end and feature computation through the
library), so the statistics are taken on exactly what it scores.
"""

from __future__ import annotations

import ctypes
import os
import re
import struct
import tempfile
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

P = ctypes.c_void_p
MIN_FRAMES = 150  # speech frames an utterance needs before a transform is worth estimating
PRIOR = 100.0  # frames' worth of weight on the identity transform (see estimate)


def declare(ps, sb) -> None:
    for lib, name, res, args in (
        (ps, "ps_get_fe", P, [P]),
        (ps, "ps_get_feat", P, [P]),
        (ps, "ps_mllr_read", P, [ctypes.c_char_p]),
        (ps, "ps_mllr_retain", P, [P]),
        (ps, "ps_update_mllr", P, [P, P]),
        (ps, "ps_start_stream", ctypes.c_int, [P]),
        (sb, "fe_start_utt", ctypes.c_int, [P]),
        (sb, "fe_process_frames", ctypes.c_int, [P, ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_size_t),
                                                 P, ctypes.POINTER(ctypes.c_int32), P]),
        (sb, "fe_end_utt", ctypes.c_int, [P, P, ctypes.POINTER(ctypes.c_int32)]),
        (sb, "fe_get_output_size", ctypes.c_int, [P]),
        (sb, "feat_array_alloc", P, [P, ctypes.c_int32]),
        (sb, "feat_array_free", None, [P]),
        (sb, "feat_s2mfc2feat_live", ctypes.c_int32, [P, P, ctypes.POINTER(ctypes.c_int32), ctypes.c_int32,
                                                      ctypes.c_int32, P]),
    ):
        f = getattr(lib, name)
        f.restype = res
        f.argtypes = args


def read_gauden(path: str) -> np.ndarray:
    """A Sphinx-3 Gaussian parameter file (means, variances): [codebook, stream, density, dim]."""
    with open(path, "rb") as f:
        data = f.read()
    end = data.index(b"endhdr\n") + len(b"endhdr\n")
    magic = struct.unpack_from("<I", data, end)[0]
    bo = "<" if magic == 0x11223344 else ">"
    n_mgau, n_feat, n_density = struct.unpack_from(bo + "3i", data, end + 4)
    veclen = struct.unpack_from(bo + "%di" % n_feat, data, end + 16)
    if len(set(veclen)) != 1:
        raise ValueError("streams of different lengths")
    n = struct.unpack_from(bo + "i", data, end + 16 + 4 * n_feat)[0]
    values = np.frombuffer(data, dtype=bo + "f4", count=n, offset=end + 20 + 4 * n_feat)
    return values.reshape(n_mgau, n_feat, n_density, veclen[0]).astype(np.float64)


def ci_phones(mdef_path: str) -> List[str]:
    """The base phones of a binary model definition, in their id order (the codebooks' order)."""
    with open(mdef_path, "rb") as f:
        data = f.read(1 << 16)
    m = re.search(rb"\+NSN\+\x00", data)
    if not m:
        raise ValueError("no phone names in %s" % mdef_path)
    names = []
    for raw in data[m.start():].split(b"\x00"):
        if not raw or not re.fullmatch(rb"[+A-Z]+", raw) or (names and raw.decode() <= names[-1]):
            break  # sorted names end where the next field begins
        names.append(raw.decode())
    return names


class Adapter:
    """Estimates and applies one utterance's transform on a loaded decoder."""

    def __init__(self, ps, sb, decoder, hmm_dir: str):
        declare(ps, sb)
        self.ps, self.sb, self.decoder = ps, sb, decoder
        self.means = read_gauden(os.path.join(hmm_dir, "means"))
        var = np.maximum(read_gauden(os.path.join(hmm_dir, "variances")), 1e-4)  # the decoder's varfloor
        self.ivar = 1.0 / var
        self.phone_ids = {p: i for i, p in enumerate(ci_phones(os.path.join(hmm_dir, "mdef")))}
        n_cb, self.n_stream, self.n_density, self.dim = self.means.shape
        if len(self.phone_ids) != n_cb:
            raise ValueError("%d phones for %d codebooks" % (len(self.phone_ids), n_cb))
        # log N(o) = -0.5 * (o^2 . ivar - 2 o . mu*ivar + mu^2 . ivar + sum log(2 pi var))
        self.mu_ivar = self.means * self.ivar
        self.const = -0.5 * ((self.means ** 2 * self.ivar).sum(-1) + np.log(2 * np.pi * var).sum(-1))
        self.fe = ps.ps_get_fe(decoder)
        self.feat = ps.ps_get_feat(decoder)
        self.ncep = sb.fe_get_output_size(self.fe)
        self.identity = self._load(np.tile(np.eye(self.dim), (self.n_stream, 1, 1)), np.zeros((self.n_stream, self.dim)))
        if not self.identity:
            raise ValueError("pocketsphinx could not read an MLLR transform")
        self.adapted = False

    # ------------------------------------------------------------ features
    def features(self, pcm: bytes) -> np.ndarray:
        """The decoder's features of ``pcm`` (16 kHz 16-bit): [frame, stream, dim]."""
        sb = self.sb
        n = ctypes.c_size_t(len(pcm) // 2)
        nfr = ctypes.c_int32(0)
        buf = ctypes.create_string_buffer(pcm, len(pcm))
        ptr = ctypes.c_void_p(ctypes.addressof(buf))
        sb.fe_process_frames(self.fe, None, ctypes.byref(n), None, ctypes.byref(nfr), None)
        rows = nfr.value + 1
        cep = (ctypes.c_float * (rows * self.ncep))()
        rowp = (ctypes.c_void_p * rows)(*[ctypes.addressof(cep) + 4 * self.ncep * i for i in range(rows)])
        n = ctypes.c_size_t(len(pcm) // 2)
        nfr = ctypes.c_int32(rows - 1)
        self.ps.ps_start_stream(self.decoder)  # the noise estimate afresh, as each decode starts
        sb.fe_start_utt(self.fe)
        sb.fe_process_frames(self.fe, ctypes.byref(ptr), ctypes.byref(n), rowp, ctypes.byref(nfr), None)
        tail = ctypes.c_int32(0)
        got = nfr.value
        sb.fe_end_utt(self.fe, ctypes.c_void_p(rowp[got]), ctypes.byref(tail))
        got += tail.value
        if got <= 0:
            return np.zeros((0, self.n_stream, self.dim))
        out = sb.feat_array_alloc(self.feat, got)
        try:
            count = ctypes.c_int32(got)
            nout = sb.feat_s2mfc2feat_live(self.feat, rowp, ctypes.byref(count), 1, 1, out)
            first = ctypes.cast(out, ctypes.POINTER(ctypes.POINTER(ctypes.c_void_p)))[0][0]
            flat = np.ctypeslib.as_array(ctypes.cast(first, ctypes.POINTER(ctypes.c_float)), (nout * self.n_stream * self.dim,))
            return flat.reshape(nout, self.n_stream, self.dim).astype(np.float64)
        finally:
            sb.feat_array_free(out)

    # ------------------------------------------------------------ statistics
    def _loglik(self, o: np.ndarray, cb: int) -> np.ndarray:
        """log N per frame, stream and density of codebook ``cb``: [frame, stream, density]."""
        return (-0.5 * np.einsum("tsd,sgd->tsg", o ** 2, self.ivar[cb])
                + np.einsum("tsd,sgd->tsg", o, self.mu_ivar[cb]) + self.const[cb])

    @staticmethod
    def _logsumexp(x: np.ndarray, axis: int) -> np.ndarray:
        m = x.max(axis=axis, keepdims=True)
        return (m + np.log(np.exp(x - m).sum(axis=axis, keepdims=True))).squeeze(axis)

    def _phone_path(self, score: np.ndarray) -> np.ndarray:
        """Viterbi over phones in order, each at least one frame: [frame, phone] -> phone per frame."""
        t_n, k_n = score.shape
        if k_n == 1 or t_n < k_n:
            return np.minimum(np.arange(t_n) * k_n // max(1, t_n), k_n - 1)
        back = np.zeros((t_n, k_n), dtype=bool)  # True: came from the previous phone
        acc = np.full(k_n, -np.inf)
        acc[0] = score[0, 0]
        for t in range(1, t_n):
            move = np.concatenate(([-np.inf], acc[:-1]))
            back[t] = move > acc
            acc = np.maximum(acc, move) + score[t]
        path = np.empty(t_n, dtype=np.int64)
        k = k_n - 1
        for t in range(t_n - 1, -1, -1):
            path[t] = k
            if t and back[t, k]:
                k -= 1
        return path

    def statistics(self, feats: np.ndarray, segments: Sequence[Tuple[List[str], int, int]]):
        """Occupancy, first- and second-order sums per (codebook, stream, density) from timed
        phone strings of speech, and the frames they cover."""
        occ = np.zeros(self.means.shape[:3])
        first = np.zeros(self.means.shape)
        second = np.zeros(self.means.shape)
        speech = 0
        for phones, sf, ef in segments:
            ef = min(ef, len(feats) - 1)
            ids = [self.phone_ids[p] for p in phones if p in self.phone_ids]
            if not ids or ef < sf:
                continue
            o = feats[sf:ef + 1]
            ll = [self._loglik(o, cb) for cb in ids]
            score = np.stack([self._logsumexp(x, 2).sum(1) for x in ll], axis=1)
            path = self._phone_path(score)
            for k, cb in enumerate(ids):
                sel = path == k
                if not sel.any():
                    continue
                x = ll[k][sel]
                post = np.exp(x - self._logsumexp(x, 2)[..., None])  # [frame, stream, density]
                occ[cb] += post.sum(0)
                first[cb] += np.einsum("tsg,tsd->sgd", post, o[sel])
                second[cb] += np.einsum("tsg,tsd->sgd", post, o[sel] ** 2)
                speech += int(sel.sum())
        return occ, first, second, speech

    def estimate(self, occ: np.ndarray, first: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """A and b per stream, each row solved in closed form. The prior: PRIOR frames that sit
        on the model's own means (which the identity fits exactly), spread half by the
        utterance's occupancy and half evenly, so a short utterance moves the model little."""
        A = np.zeros((self.n_stream, self.dim, self.dim))
        b = np.zeros((self.n_stream, self.dim))
        for s in range(self.n_stream):
            g = occ[:, s].reshape(-1)
            mu = self.means[:, s].reshape(-1, self.dim)
            iv = self.ivar[:, s].reshape(-1, self.dim)
            pseudo = PRIOR * (0.5 * g / max(g.sum(), 1e-12) + 0.5 / len(g))
            g_all = g + pseudo
            fs = first[:, s].reshape(-1, self.dim) + pseudo[:, None] * mu
            xi = np.concatenate([np.ones((len(mu), 1)), mu], axis=1)  # extended means [1, mu]
            for i in range(self.dim):
                w = g_all * iv[:, i]
                G = (xi * w[:, None]).T @ xi
                k = xi.T @ (fs[:, i] * iv[:, i])
                row = np.linalg.solve(G, k)
                b[s, i], A[s, i] = row[0], row[1:]
        return A, b

    # ------------------------------------------------------------ the decoder
    def variance_scale(self, occ, first, second, A, b) -> np.ndarray:
        """Per stream and dimension, the adapted Gaussians' variance scale: the frames' squared
        distance from the adapted means in units of the model's variances (1 under the prior)."""
        mu = np.einsum("sij,csgj->csgi", A, self.means) + b[None, :, None, :]
        err = (second - 2 * mu * first + occ[..., None] * mu ** 2) * self.ivar  # [cb, s, g, d]
        num = err.sum(axis=(0, 2)) + PRIOR
        den = occ.sum(axis=(0, 2))[:, None] + PRIOR
        return np.clip(num / den, 0.5, 4.0)

    def _load(self, A: np.ndarray, b: np.ndarray, h: Optional[np.ndarray] = None):
        fd, path = tempfile.mkstemp(prefix="voicecue-mllr-")
        try:
            with os.fdopen(fd, "w") as f:
                f.write("1\n%d\n" % self.n_stream)
                for s in range(self.n_stream):
                    f.write("%d\n" % self.dim)
                    for row in A[s]:
                        f.write(" ".join("%.7g" % v for v in row) + "\n")
                    f.write(" ".join("%.7g" % v for v in b[s]) + "\n")
                    f.write(" ".join("%.7g" % v for v in (h[s] if h is not None else np.ones(self.dim))) + "\n")
            return self.ps.ps_mllr_read(path.encode())
        finally:
            os.unlink(path)

    def adapt(self, pcm: bytes, segments: Sequence[Tuple[List[str], int, int]]) -> bool:
        """Estimate a transform from ``segments`` (phones, first and last frame) and apply it;
        False (nothing changed) when the utterance holds too little speech."""
        feats = self.features(pcm)
        occ, first, second, speech = self.statistics(feats, segments)
        if speech < MIN_FRAMES:
            return False
        A, b = self.estimate(occ, first)
        mllr = self._load(A, b, self.variance_scale(occ, first, second, A, b))
        if not mllr:
            return False
        self.ps.ps_update_mllr(self.decoder, mllr)  # the decoder owns it from here
        self.adapted = True
        return True

    def reset(self) -> None:
        """Back to the model as it was loaded (the decoder rereads its Gaussians)."""
        if self.adapted:
            self.ps.ps_update_mllr(self.decoder, self.ps.ps_mllr_retain(self.identity))
            self.adapted = False
