"""Fixtures shared by the test files (real data, fitted models), the hooks that run the suite
on several pytest-xdist workers, and the hypothesis profiles.

Helpers that test files import (settings, markers, assertions) live in
``tests/_testing.py``.
"""

import os
import pickle

import numpy as np
import pytest
import torch
from filelock import FileLock
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from skaevae import AutoencoderTransformer, VAETransformer
from tests._testing import THREE_EPOCHS_16_UNITS


@pytest.fixture(scope="session")
def digits_split():
    """Standardised digits, 75% train / 25% held out, scaled on the training part."""
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def pytest_configure(config):
    # Each pytest-xdist worker is a process of its own: torch's default of one
    # thread per core in every worker would put several threads on each core,
    # and their waits for each other cost more than the threads gain.
    # The same holds for OpenMP, which scikit-learn's gradient-boosted trees
    # (the imputer's default column_estimator) use.
    n_workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if n_workers is not None:
        n_threads = max(1, (os.cpu_count() or 1) // int(n_workers))
        torch.set_num_threads(n_threads)
        threadpool_limits(n_threads, user_api="openmp")


def pytest_collection_modifyitems(config, items):
    # The slow tests first (a stable sort keeps the order within each part):
    # with several workers they then run beside the many short ones, rather
    # than alone at the end.
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def _fitted_once(name, fit, tmp_path_factory):
    """``fit()``'s model, fitted once per test run however many workers ask for it.

    The first pytest-xdist worker to ask fits the model and pickles it into
    the run's shared temporary directory; the others wait for the file and
    load it (a pickled model gives the original's outputs bit for bit).
    """
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        return fit()
    path = tmp_path_factory.getbasetemp().parent / f"{name}.pkl"
    with FileLock(f"{path}.lock"):
        if path.is_file():
            return pickle.loads(path.read_bytes())
        model = fit()
        path.write_bytes(pickle.dumps(model))
        return model


@pytest.fixture(scope="session")
def default_ae(digits_split, tmp_path_factory):
    """The default autoencoder at n_components=8, fitted on the digits training split."""
    return _fitted_once(
        "default_ae",
        lambda: AutoencoderTransformer(n_components=8, random_state=0, device="cpu").fit(
            digits_split[0]
        ),
        tmp_path_factory,
    )


@pytest.fixture(scope="session")
def default_vae(digits_split, tmp_path_factory):
    """The default VAE at n_components=8, fitted on the digits training split."""
    return _fitted_once(
        "default_vae",
        lambda: VAETransformer(n_components=8, random_state=0, device="cpu").fit(digits_split[0]),
        tmp_path_factory,
    )


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
