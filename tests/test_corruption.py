"""Denoising: the training-time corruption of the encoder's input (``corruption``)."""

import numpy as np
import pandas as pd
import pytest
import torch

from skaevae import AutoencoderTransformer, VAETransformer
from skaevae.nn._networks import Corruption
from skaevae.utils._layout import ColumnLayout
from tests._testing import THREE_EPOCHS_16_UNITS


def test_gaussian_corruption_adds_noise_of_the_level_to_numeric_columns_only():
    layout = ColumnLayout(n_continuous=3, n_binary=1, categories=(2,))
    corruption = Corruption("gaussian", 0.5, layout.n_numeric, layout.model_columns())
    x = torch.zeros(20000, layout.width)
    x[:, 3] = 1.0
    x[:, 4] = 1.0
    torch.manual_seed(0)
    noisy, mask = corruption(x, None, torch.zeros(layout.width))
    assert mask is None
    assert abs(float(noisy[:, :3].std()) - 0.5) < 0.01
    assert torch.equal(noisy[:, 3:], x[:, 3:])


def test_masking_hides_whole_columns_with_their_fill_and_mask():
    layout = ColumnLayout(n_continuous=2, categories=(3,))
    corruption = Corruption("masking", 0.3, layout.n_numeric, layout.model_columns())
    x = torch.tensor([[5.0, -5.0, 0.0, 1.0, 0.0]]).repeat(20000, 1)
    fill = torch.tensor([0.1, 0.2, 0.3, 0.3, 0.4])
    torch.manual_seed(0)
    hidden, mask = corruption(x, torch.ones(20000, layout.n_columns), fill)
    assert mask.shape == (20000, 3)
    assert abs(float(1 - mask.mean()) - 0.3) < 0.01
    # A hidden column holds its fill values ("unknown" for the categorical
    # block, its category frequencies), a kept one its own values.
    for column, model in ((0, [0]), (1, [1]), (2, [2, 3, 4])):
        off = mask[:, column] == 0
        assert torch.equal(hidden[off][:, model], fill[model].expand(int(off.sum()), -1))
        assert torch.equal(hidden[~off][:, model], x[~off][:, model])


@pytest.mark.parametrize("Estimator", [AutoencoderTransformer, VAETransformer])
def test_corruption_is_training_only(Estimator, small_X):
    est = Estimator(**THREE_EPOCHS_16_UNITS, corruption="gaussian", corruption_level=1.0).fit(
        small_X
    )
    # Inference is deterministic: no noise is added outside training.
    np.testing.assert_array_equal(est.transform(small_X), est.transform(small_X))
    module = est.net_.module_
    module.train()
    x = torch.as_tensor(small_X[:5], dtype=torch.float32)
    assert not torch.equal(module.corrupted(x, None)[0], x)
    module.eval()
    assert torch.equal(module.corrupted(x, None)[0], x)


def test_level_zero_trains_as_the_plain_model(small_X):
    plain = AutoencoderTransformer(**THREE_EPOCHS_16_UNITS).fit(small_X)
    zero = AutoencoderTransformer(
        **THREE_EPOCHS_16_UNITS, corruption="gaussian", corruption_level=0.0
    )
    noisy = AutoencoderTransformer(
        **THREE_EPOCHS_16_UNITS, corruption="gaussian", corruption_level=0.5
    )
    Z = plain.transform(small_X)
    # The same fit up to float32 rounding (the corrupted model takes the
    # plain training step, the plain one may take the fused one) ...
    np.testing.assert_allclose(zero.fit(small_X).transform(small_X), Z, atol=1e-4)
    # ... while noise in the input changes what is learned.
    assert np.abs(noisy.fit(small_X).transform(small_X) - Z).max() > 1e-2


def test_denoising_autoencoder_reconstructs_noisy_rows_better(digits_split):
    """On held-out digits with Gaussian noise, the denoising AE is closer to the clean rows.

    Denoising needs the longer training (the benchmark's budget): at a few
    dozen epochs the two are level.
    """
    X_train, X_test = digits_split[:2]
    noisy = X_test + 0.5 * np.random.default_rng(0).standard_normal(X_test.shape)
    errors = {}
    for corruption in (None, "gaussian"):
        ae = AutoencoderTransformer(
            16,
            corruption=corruption,
            corruption_level=0.5,
            max_iter=200,
            n_iter_no_change=200,
            random_state=0,
            device="cpu",
        ).fit(X_train)
        errors[corruption] = np.mean((ae.inverse_transform(ae.transform(noisy)) - X_test) ** 2)
    assert errors["gaussian"] < 0.95 * errors[None]


def test_masking_on_a_mixed_table_with_missing_values():
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "a": rng.normal(size=300),
            "b": rng.normal(size=300),
            "colour": pd.Categorical(rng.choice(["red", "green", "blue"], 300)),
        }
    )
    df.loc[rng.random(300) < 0.1, "a"] = np.nan
    for Estimator in (AutoencoderTransformer, VAETransformer):
        est = Estimator(**THREE_EPOCHS_16_UNITS, corruption="masking", corruption_level=0.3).fit(df)
        assert est.net_.module_.corruption.column.tolist() == [0, 1, 2, 2, 2]
        Z = est.transform(df)
        assert np.isfinite(Z).all()
        assert list(est.inverse_transform(Z).columns) == ["a", "b", "colour"]


def test_masking_level_must_be_below_one(small_X):
    with pytest.raises(ValueError, match="must be below 1"):
        AutoencoderTransformer(
            **THREE_EPOCHS_16_UNITS, corruption="masking", corruption_level=1.0
        ).fit(small_X)
    # A Gaussian's level is a standard deviation: any non-negative value.
    AutoencoderTransformer(
        **THREE_EPOCHS_16_UNITS, corruption="gaussian", corruption_level=1.5
    ).fit(small_X)


def test_corruption_is_part_of_the_network_for_partial_fit(small_X):
    est = AutoencoderTransformer(**THREE_EPOCHS_16_UNITS, corruption="gaussian").partial_fit(
        small_X
    )
    est.set_params(corruption_level=0.9)
    with pytest.raises(ValueError, match="corruption_level"):
        est.partial_fit(small_X)
