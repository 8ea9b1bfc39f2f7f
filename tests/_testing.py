"""Helpers for the tests: estimator settings, data locations, markers and assertions.

Test files import what they need from here; ``conftest.py`` holds only the
fixtures, hooks and hypothesis profiles that pytest finds by itself.

Each settings dict is named for what it holds. The small networks and few
epochs keep a fit well under a second: they serve tests of behaviour and
contracts, not of how well a model learns.
"""

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from skaevae.train._fast import _onednn

# -------------------------------------------------------------------- settings

# One hidden layer of 16 units, three epochs, on the CPU, seeded.
THREE_EPOCHS_16_UNITS = {
    "hidden_layer_sizes": (16,),
    "max_iter": 3,
    "random_state": 0,
    "device": "cpu",
}

# The same for a VAE whose KL term has its full weight from the first epoch
# (a warm-up of one epoch), so that three epochs train the whole objective.
THREE_EPOCHS_16_UNITS_FULL_KL = {**THREE_EPOCHS_16_UNITS, "kl_warmup": 1}

# One hidden layer of 8 units, three epochs, on the CPU, seeded.
THREE_EPOCHS_8_UNITS = {
    "hidden_layer_sizes": (8,),
    "max_iter": 3,
    "random_state": 0,
    "device": "cpu",
}

# One hidden layer of 8 units, five epochs, on the CPU, seeded.
FIVE_EPOCHS_8_UNITS = {
    "hidden_layer_sizes": (8,),
    "max_iter": 5,
    "random_state": 0,
    "device": "cpu",
}

# Two codes through one hidden layer of 8 units, on the CPU, seeded; each
# test sets the number of epochs it needs.
TWO_CODES_8_UNITS = {
    "hidden_layer_sizes": (8,),
    "n_components": 2,
    "device": "cpu",
    "random_state": 0,
}

# Two codes through one hidden layer of 16 units, on the GPU, seeded; each
# test sets the number of epochs it needs.
TWO_CODES_16_UNITS_CUDA = {
    "hidden_layer_sizes": (16,),
    "n_components": 2,
    "device": "cuda",
    "random_state": 0,
}

# One hidden layer of 16 units, on the CPU, seeded; the number of epochs is
# the estimator's default or the test's own.
SEEDED_16_UNITS = {"hidden_layer_sizes": (16,), "random_state": 0, "device": "cpu"}

# One hidden layer of 32 units, on the CPU, seeded; the number of epochs is
# the estimator's default or the test's own.
SEEDED_32_UNITS = {"hidden_layer_sizes": (32,), "random_state": 0, "device": "cpu"}

# ------------------------------------------------------------------ data paths

REPOSITORY = Path(__file__).resolve().parents[1]

# Real data sets too large to ship with the package live outside the
# repository; an environment variable names another place, and tests that
# need a file skip when it is absent.
ADBENCH_DIR = Path(
    os.environ.get("SKAEVAE_ADBENCH_DIR", REPOSITORY / ".." / "shared" / "data" / "adbench")
)
TABULAR_DIR = Path(
    os.environ.get("SKAEVAE_TABULAR_DIR", REPOSITORY / ".." / "shared" / "data" / "tabular")
)


def adbench_path(name):
    """The path of ADBench's ``name`` (e.g. ``"42_WBC.npz"``); skip the test if absent."""
    path = ADBENCH_DIR / name
    if not path.exists():
        pytest.skip(f"ADBench data not found at {path} (set SKAEVAE_ADBENCH_DIR)")
    return path


def tabular_path(name):
    """The path of the table ``name`` (e.g. ``"penguins.csv"``); skip the test if absent."""
    path = TABULAR_DIR / name
    if not path.exists():
        pytest.skip(f"Table not found at {path} (set SKAEVAE_TABULAR_DIR)")
    return path


# --------------------------------------------------------------------- markers

# Tests of the CPU inference path, which runs oneDNN's linear where torch has it.
needs_onednn = pytest.mark.skipif(
    not _onednn.available(), reason="torch built without oneDNN's linear"
)

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")

# ------------------------------------------------------------------ assertions


def assert_same_rows(alone, together):
    """A row's outputs alone and among other rows: equal to float32 rounding.

    Vectorised float32 kernels (matrix products, reductions) choose their
    code path by the number of rows, which moves the last bits.
    """
    np.testing.assert_allclose(alone, together, rtol=1e-5, atol=1e-6)


def fitted_outputs(est, X):
    """Everything a fitted estimator computes from X, for equality checks."""
    Z = est.transform(X)
    return {
        "transform": Z,
        "inverse_transform": est.inverse_transform(Z),
        "score_samples": est.score_samples(X),
        "sample": est.sample(5, random_state=0),
    }


def assert_same_outputs(a, b):
    """Two results of :func:`fitted_outputs` are equal, bit for bit."""
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
