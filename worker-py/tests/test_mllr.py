"""Speaker adaptation (MLLR) for the pocketsphinx aligner: the model's parameters as read, the
decoder's own features, the transform's and the variance scale's closed forms, and a decoder
that is back to the model as loaded after each adapted decode."""

import numpy as np
import pytest

from voicecue_worker.aligners import mllr
from voicecue_worker.aligners.pocketsphinx import ADAPT_BELOW

from test_pocketsphinx import aligner, align, corpus, errors, share_within  # noqa: F401 (fixtures)


@pytest.fixture(scope="session")
def adapter(aligner):  # noqa: F811
    if aligner.adapter is None:
        pytest.fail("the pocketsphinx aligner loaded without its adapter (numpy is a worker requirement)")
    return aligner.adapter


def test_the_model_is_read_as_the_decoder_reads_it(adapter):
    # Debian's en-us PTM model: a codebook per base phone, three 13-dim streams (feat.params' svspec)
    assert adapter.means.shape == (42, 3, 128, 13)
    phones = list(adapter.phone_ids)
    assert phones == sorted(phones) and phones[:2] == ["+NSN+", "+SPN+"] and "SIL" in phones and "ZH" in phones
    assert (adapter.ivar > 0).all() and np.isfinite(adapter.means).all()


def test_features_come_through_the_decoders_front_end_framed_and_normalised(adapter, corpus):  # noqa: F811
    it = corpus["clean-clean-00"]
    with open(it["audio"], "rb") as f:
        pcm = f.read()[44:]
    feats = adapter.features(pcm)
    assert abs(len(feats) - len(pcm) // 320) <= 2, "one frame per 10 ms"
    # the model's CMN (feat.params): the cepstra are centred on the utterance, next to their spread
    cep = feats[:, 0]
    assert (np.abs(cep.mean(axis=0)) < 0.05 * cep.std(axis=0)).all()
    assert np.abs(feats[:, 1]).mean() < np.abs(feats[:, 0]).mean()


def test_the_closed_form_recovers_a_known_transform(adapter):
    rng = np.random.default_rng(1)
    A = np.eye(13)[None].repeat(3, 0) + rng.normal(0, 0.05, (3, 13, 13))
    b = rng.normal(0, 0.3, (3, 13))
    # statistics of a voice whose every Gaussian sits at A mu + b, plenty of frames on each
    occ = np.full(adapter.means.shape[:3], 50.0)
    shifted = np.einsum("sij,csgj->csgi", A, adapter.means) + b[None, :, None, :]
    A_hat, b_hat = adapter.estimate(occ, occ[..., None] * shifted)
    assert np.abs(A_hat - A).max() < 0.01
    assert np.abs(b_hat - b).max() < 0.05
    # frames spread twice as widely as the model's variances around those means: variances scale by 2
    first = occ[..., None] * shifted
    second = occ[..., None] * (shifted ** 2 + 2.0 / adapter.ivar)
    h = adapter.variance_scale(occ, first, second, A_hat, b_hat)
    assert h.shape == (3, 13) and np.abs(h - 2.0).max() < 0.1
    # no data: the prior holds it at the identity
    A0, b0 = adapter.estimate(np.zeros_like(occ), np.zeros(adapter.means.shape))
    assert np.abs(A0 - np.eye(13)).max() < 1e-6 and np.abs(b0).max() < 1e-6


def test_adapted_decodes_leave_the_model_as_loaded(aligner, adapter, corpus, monkeypatch):  # noqa: F811
    clean, noisy = corpus["clean-clean-00"], corpus["hard-babble-00"]
    before = align(aligner, clean["audio"], clean["text"])
    applied = []
    real = adapter.adapt
    monkeypatch.setattr(adapter, "adapt", lambda pcm, segs: applied.append(real(pcm, segs)) or applied[-1])
    words = align(aligner, noisy["audio"], noisy["text"])
    assert applied == [True], "babble scores below ADAPT_BELOW (%s): the second pass runs" % ADAPT_BELOW
    assert share_within(errors(words, noisy["words"])) >= 0.7
    assert not adapter.adapted
    applied.clear()
    assert align(aligner, clean["audio"], clean["text"]) == before, "the next request sees the model as loaded"
    assert applied == [], "clean speech is decoded once"
