"""VAEOverSampler: imbalanced-learn's sampler API around a conditional VAE."""

import sys
from collections import Counter

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

pytest.importorskip("imblearn")

from imblearn.pipeline import make_pipeline  # noqa: E402

from skaevae import ConditionalVAETransformer, VAEOverSampler  # noqa: E402
from tests._testing import THREE_EPOCHS_16_UNITS, THREE_EPOCHS_16_UNITS_FULL_KL  # noqa: E402

# One unfitted estimator for every sampler: the test of its seed checks that
# the sampler never fits it in place.
UNFITTED_CVAE = ConditionalVAETransformer(**THREE_EPOCHS_16_UNITS_FULL_KL)


@pytest.fixture(scope="module")
def imbalanced():
    """Breast cancer with the malignant class cut to 30 rows: real, imbalanced, unscaled."""
    X, y = load_breast_cancer(return_X_y=True)
    keep = np.r_[np.flatnonzero(y == 1), np.flatnonzero(y == 0)[:30]]
    return X[keep], y[keep]


def test_fit_resample_balances_and_keeps_the_original_rows(imbalanced):
    X, y = imbalanced
    X_res, y_res = VAEOverSampler(estimator=UNFITTED_CVAE, random_state=0).fit_resample(X, y)
    assert Counter(y_res) == {1: 357, 0: 357}
    # The user's rows come first, unchanged; the new ones follow.
    np.testing.assert_array_equal(X_res[: len(X)], X)
    np.testing.assert_array_equal(y_res[: len(y)], y)
    assert X_res.dtype == X.dtype


def test_sampling_strategy_dict_and_float(imbalanced):
    X, y = imbalanced
    _, y_res = VAEOverSampler(
        sampling_strategy={0: 100}, estimator=UNFITTED_CVAE, random_state=0
    ).fit_resample(X, y)
    assert Counter(y_res)[0] == 100
    _, y_res = VAEOverSampler(
        sampling_strategy=0.5, estimator=UNFITTED_CVAE, random_state=0
    ).fit_resample(X, y)
    assert Counter(y_res)[0] == 178


@pytest.mark.parametrize("draw_from", ["posterior", "prior"])
def test_new_rows_are_in_the_units_of_x_and_of_their_class(imbalanced, draw_from):
    """Rows drawn for the minority class look like it, in X's own (unscaled) units."""
    X, y = imbalanced
    model = ConditionalVAETransformer(4, max_iter=200, device="cpu")
    sampler = VAEOverSampler(estimator=model, draw_from=draw_from, random_state=0)
    X_res, y_res = sampler.fit_resample(X, y)
    new = X_res[len(X) :]
    scale = X.std(axis=0)
    minority, majority = X[y == 0].mean(axis=0), X[y == 1].mean(axis=0)
    to_minority = np.abs((new.mean(axis=0) - minority) / scale).mean()
    to_majority = np.abs((new.mean(axis=0) - majority) / scale).mean()
    assert to_minority < 0.5 * to_majority
    assert isinstance(sampler.estimator_, ConditionalVAETransformer)
    assert isinstance(sampler.scaler_, StandardScaler)


def test_reproducible_and_in_an_imblearn_pipeline(imbalanced):
    X, y = imbalanced
    first = VAEOverSampler(estimator=UNFITTED_CVAE, random_state=3).fit_resample(X, y)[0]
    second = VAEOverSampler(estimator=UNFITTED_CVAE, random_state=3).fit_resample(X, y)[0]
    np.testing.assert_array_equal(first, second)
    pipe = make_pipeline(
        VAEOverSampler(estimator=UNFITTED_CVAE, random_state=0),
        StandardScaler(),
        LogisticRegression(max_iter=1000),
    )
    assert pipe.fit(X, y).score(X, y) > 0.8


def test_user_estimator_keeps_its_own_seed(imbalanced):
    X, y = imbalanced
    sampler = VAEOverSampler(estimator=UNFITTED_CVAE, random_state=1).fit(X, y)
    sampler.fit_resample(X, y)
    assert sampler.estimator_.random_state == UNFITTED_CVAE.random_state
    assert UNFITTED_CVAE.__sklearn_is_fitted__() is False


def test_import_error_names_the_extra(monkeypatch):
    import skaevae

    # As if imbalanced-learn were not installed: None in sys.modules stops an import.
    for name in [m for m in sys.modules if m == "imblearn" or m.startswith("imblearn.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "imblearn", None)
    monkeypatch.delitem(sys.modules, "skaevae.oversample._sampler", raising=False)
    with pytest.raises(ImportError, match=r"skaevae\[imbalanced\]"):
        skaevae.VAEOverSampler  # noqa: B018


def test_global_rng_untouched_and_column_types_refused(imbalanced):
    X, y = imbalanced
    state = np.random.get_state()[1].copy()
    VAEOverSampler(estimator=UNFITTED_CVAE).fit_resample(X, y)
    np.testing.assert_array_equal(np.random.get_state()[1], state)
    model = ConditionalVAETransformer(**THREE_EPOCHS_16_UNITS, column_types={0: "integer"})
    with pytest.raises(ValueError, match="column_types=None"):
        VAEOverSampler(estimator=model, random_state=0).fit_resample(X, y)
