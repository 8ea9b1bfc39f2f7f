"""Fixtures shared by the test files (real data, fitted models) and the hypothesis profiles.

Helpers that test files import (settings, markers, assertions) live in
``tests/_testing.py``.
"""

import os

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skaevae import AutoencoderTransformer, VAETransformer
from tests._testing import THREE_EPOCHS_16_UNITS


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


@pytest.fixture(params=[AutoencoderTransformer, VAETransformer], ids=["ae", "vae"])
def fast_estimator(request):
    """Each estimator class, unfitted, with two codes and ``THREE_EPOCHS_16_UNITS``."""
    return request.param(n_components=2, **THREE_EPOCHS_16_UNITS)


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
