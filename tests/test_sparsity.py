"""Sparse codes: the autoencoder's L1 activity penalty (``sparsity``) and ``code_sparsity_``."""

import numpy as np
import pytest
import torch

from skaevae import AutoencoderTransformer
from skaevae.models._autoencoder import hoyer_sparsity
from skaevae.nn._batch import Batch
from skaevae.nn._losses import ReconstructionLoss
from tests._testing import THREE_EPOCHS_16_UNITS


def test_hoyer_sparsity_is_one_for_a_single_active_entry_and_zero_for_equal_ones():
    Z = np.array([[0.0, 3.0, 0.0, 0.0], [1.0, -1.0, 1.0, -1.0], [0.0, 0.0, 0.0, 0.0]])
    np.testing.assert_allclose(hoyer_sparsity(Z), [1.0, 0.0, 1.0])
    assert hoyer_sparsity(np.ones((3, 1))).tolist() == [0.0, 0.0, 0.0]


def test_penalty_is_added_per_row():
    x = torch.randn(5, 4)
    output = {"x_loc": x + 1.0, "z": torch.tensor([[1.0, -1.0]] * 5)}
    plain = ReconstructionLoss()(output, Batch(x))
    sparse = ReconstructionLoss(sparsity=0.5)(output, Batch(x))
    torch.testing.assert_close(sparse - plain, torch.full((5,), 0.5))
    torch.testing.assert_close(ReconstructionLoss(0.5).batch_mean(output, Batch(x)), sparse.mean())


def test_sparsity_makes_digit_codes_sparser(digits_split):
    """On digits, the penalty concentrates each code on fewer dimensions."""
    X_train, X_test = digits_split[:2]
    fits = {
        s: AutoencoderTransformer(16, sparsity=s, max_iter=40, random_state=0, device="cpu").fit(
            X_train
        )
        for s in (0.0, 0.5)
    }
    assert fits[0.5].code_sparsity_ > fits[0.0].code_sparsity_ + 0.1
    held_out = {s: hoyer_sparsity(f.transform(X_test)).mean() for s, f in fits.items()}
    assert held_out[0.5] > held_out[0.0] + 0.1
    # The price: reconstruction is worse, but still well below the variance (1).
    assert -fits[0.0].score(X_test) < -fits[0.5].score(X_test) < 0.8


def test_code_sparsity_is_that_of_the_training_codes(small_X):
    ae = AutoencoderTransformer(**THREE_EPOCHS_16_UNITS, n_components=4, sparsity=0.2).fit(small_X)
    expected = hoyer_sparsity(ae.transform(small_X)).mean()
    assert ae.code_sparsity_ == pytest.approx(expected, rel=1e-6)


def test_score_samples_leaves_the_penalty_out(small_X):
    ae = AutoencoderTransformer(**THREE_EPOCHS_16_UNITS, sparsity=1.0).fit(small_X)
    reconstruction = ae.inverse_transform(ae.transform(small_X))
    np.testing.assert_allclose(
        ae.score_samples(small_X), -np.mean((small_X - reconstruction) ** 2, axis=1), rtol=1e-5
    )


def test_sparsity_takes_effect_at_the_next_partial_fit(small_X):
    ae = AutoencoderTransformer(**THREE_EPOCHS_16_UNITS).partial_fit(small_X)
    ae.set_params(sparsity=0.3).partial_fit(small_X)
    assert ae.net_.criterion_.sparsity == 0.3
    assert len(ae.loss_curve_) == 2
