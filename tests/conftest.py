"""Shared fixtures: real data (sklearn's bundled digits) and fitted models."""

import os

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skaevae import AutoencoderTransformer, VAETransformer
from skaevae.train._fast import _onednn


@pytest.fixture(scope="session")
def digits_split():
    """Standardised digits, 75% train / 25% held out, scaled on the training part."""
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


@pytest.fixture(scope="session")
def default_ae(digits_split):
    """The default autoencoder at n_components=8, fitted on the digits training split."""
    return AutoencoderTransformer(n_components=8, random_state=0, device="cpu").fit(digits_split[0])


@pytest.fixture(scope="session")
def default_vae(digits_split):
    """The default VAE at n_components=8, fitted on the digits training split."""
    return VAETransformer(n_components=8, random_state=0, device="cpu").fit(digits_split[0])


@pytest.fixture
def small_X():
    """A small standardised real dataset for fast behaviour tests (digits rows)."""
    X = load_digits().data[:200]
    return StandardScaler().fit_transform(X).astype(np.float64)


@pytest.fixture
def two_threads():
    """Run the test with torch set to 2 threads, as on a 2-core machine, then restore."""
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(previous)


# Tests of the CPU inference path, which runs oneDNN's linear where torch has it.
needs_onednn = pytest.mark.skipif(
    not _onednn.available(), reason="torch built without oneDNN's linear"
)

# Fast settings for behaviour tests: tiny network, few epochs.
FAST = {"hidden_layer_sizes": (16,), "max_iter": 3, "random_state": 0, "device": "cpu"}


@pytest.fixture(params=[AutoencoderTransformer, VAETransformer], ids=["ae", "vae"])
def fast_estimator(request):
    """A fast-settings instance of each estimator class."""
    return request.param(n_components=2, **FAST)


try:
    from hypothesis import HealthCheck, settings
except ImportError:  # pragma: no cover - hypothesis comes with the test extra
    pass
else:
    # The property tests fit small networks: a bounded, reproducible number
    # of examples in CI ("ci"), many more on demand ("thorough").
    _relaxed = [HealthCheck.too_slow, HealthCheck.data_too_large]
    settings.register_profile(
        "ci", max_examples=12, deadline=None, derandomize=True, suppress_health_check=_relaxed
    )
    settings.register_profile(
        "thorough", max_examples=300, deadline=None, suppress_health_check=_relaxed
    )
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def assert_same_rows(alone, together):
    """A row's outputs alone and among other rows: equal to float32 rounding.

    Vectorised float32 kernels (matrix products, reductions) choose their
    code path by the number of rows, which moves the last bits.
    """
    np.testing.assert_allclose(alone, together, rtol=2e-6, atol=1e-6)
