"""The applications and displays on inputs beyond a float matrix.

Integer X in the over-sampler, mixed tables and extreme rows in the imputer,
mixed tables in the row displays, and the thread cap of small fits.
"""

import numpy as np
import pytest

from skaevae import ConditionalVAETransformer

TWO_EPOCHS = {"max_iter": 2, "random_state": 0, "device": "cpu"}


# ------------------------------------------------------------ over-sampler


def _integer_classes():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.integers(0, 10, 300), np.full(300, 5)])
    y = (rng.random(300) < 0.1).astype(int)
    return X, y


def test_oversampler_integer_X_rounds_within_range():
    pytest.importorskip("imblearn")
    from skaevae import VAEOverSampler

    X, y = _integer_classes()
    model = ConditionalVAETransformer(2, max_iter=20, random_state=0, device="cpu")
    sampler = VAEOverSampler(estimator=model, random_state=0)
    X_res, y_res = sampler.fit_resample(X, y)
    # The float path, on the same values as floats, draws the same rows.
    X_float, _ = VAEOverSampler(estimator=model, random_state=0).fit_resample(X.astype(float), y)
    new, new_float = X_res[len(X) :], X_float[len(X) :]
    assert X_res.dtype == X.dtype
    assert np.array_equal(X_res[: len(X)], X)
    # Rounded to the nearest whole number (not truncated), within X's range.
    expected = np.clip(np.rint(new_float), X.min(axis=0), X.max(axis=0))
    assert np.array_equal(new, expected)
    # A constant column stays constant.
    assert (new[:, 1] == 5).all()
    assert new[:, 0].min() >= 0 and new[:, 0].max() <= 9


def test_oversampler_boolean_X_stays_boolean():
    pytest.importorskip("imblearn")
    from skaevae import VAEOverSampler

    X, y = _integer_classes()
    X = np.column_stack([X[:, 0] > 4, X[:, 0] % 2 == 0])
    model = ConditionalVAETransformer(2, max_iter=20, random_state=0, device="cpu")
    X_res, _ = VAEOverSampler(estimator=model, random_state=0).fit_resample(X, y)
    X_float, _ = VAEOverSampler(estimator=model, random_state=0).fit_resample(X.astype(float), y)
    assert X_res.dtype == bool
    # Rounded: a value below one half is False (a cast would make it True).
    assert np.array_equal(X_res[len(X) :], X_float[len(X) :] >= 0.5)
