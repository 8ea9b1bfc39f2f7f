"""Behaviour shared by both estimators through their base class: the sklearn API users rely on."""

import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from skaevae import AutoencoderTransformer, VAETransformer
from tests._testing import THREE_EPOCHS_16_UNITS, assert_same_outputs, fitted_outputs

# ----------------------------------------------------------- shapes and names


def test_shapes_dtypes_and_feature_names(fast_estimator, small_X):
    est = fast_estimator
    Z = est.fit_transform(small_X)
    assert Z.shape == (200, 2) and Z.dtype == np.float64
    assert est.transform(small_X.astype(np.float32)).dtype == np.float32
    assert est.inverse_transform(Z).shape == small_X.shape
    assert est.score_samples(small_X).shape == (200,)
    assert isinstance(est.score(small_X), float)
    assert est.sample(7, random_state=0).shape == (7, 64)
    prefix = type(est).__name__.lower()
    assert list(est.get_feature_names_out()) == [f"{prefix}0", f"{prefix}1"]
    assert est.n_features_in_ == 64 and est.n_iter_ == len(est.loss_curve_) >= 1


def test_pandas_in_and_out(fast_estimator, small_X):
    columns = [f"pixel_{i}" for i in range(small_X.shape[1])]
    df = pd.DataFrame(small_X, columns=columns)
    est = fast_estimator.set_output(transform="pandas")
    out = est.fit_transform(df)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == list(est.get_feature_names_out())
    assert list(est.feature_names_in_) == columns
    np.testing.assert_array_equal(est.transform(df).to_numpy(), out.to_numpy())
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        est.transform(small_X)


# ------------------------------------------------------------ reproducibility


def test_random_state_makes_fits_identical(fast_estimator, small_X):
    a = clone(fast_estimator).fit(small_X)
    b = clone(fast_estimator).fit(small_X)
    assert_same_outputs(fitted_outputs(a, small_X), fitted_outputs(b, small_X))
    c = clone(fast_estimator).set_params(random_state=1).fit(small_X)
    assert not np.array_equal(a.transform(small_X), c.transform(small_X))


@pytest.mark.parametrize("random_state", [0, None])
def test_global_rng_state_is_untouched(fast_estimator, small_X, random_state):
    est = fast_estimator.set_params(random_state=random_state)
    np.random.seed(123)
    torch.manual_seed(123)
    numpy_state = np.random.get_state()[1].copy()
    torch_state = torch.get_rng_state().clone()
    est.fit(small_X)
    est.transform(small_X)
    est.score_samples(small_X)
    est.sample(3, random_state=random_state)
    np.testing.assert_array_equal(np.random.get_state()[1], numpy_state)
    assert torch.equal(torch.get_rng_state(), torch_state)


def test_pickle_round_trip_gives_identical_outputs(fast_estimator, small_X):
    est = fast_estimator.fit(small_X)
    restored = pickle.loads(pickle.dumps(est))
    assert_same_outputs(fitted_outputs(est, small_X), fitted_outputs(restored, small_X))


# ----------------------------------------------------------- sklearn tooling


def test_pipeline_column_transformer_and_clone(small_X):
    df = pd.DataFrame(small_X[:, :10], columns=[f"f{i}" for i in range(10)])
    df["other"] = np.arange(len(df), dtype=float)
    ct = ColumnTransformer(
        [
            (
                "vae",
                VAETransformer(n_components=3, **THREE_EPOCHS_16_UNITS),
                [f"f{i}" for i in range(10)],
            )
        ],
        remainder="passthrough",
    ).set_output(transform="pandas")
    out = ct.fit_transform(df)
    assert list(out.columns) == [
        "vae__vaetransformer0",
        "vae__vaetransformer1",
        "vae__vaetransformer2",
        "remainder__other",
    ]
    pipe = make_pipeline(
        StandardScaler(), AutoencoderTransformer(n_components=2, **THREE_EPOCHS_16_UNITS)
    )
    cloned = clone(pipe)
    assert cloned.get_params()["autoencodertransformer__n_components"] == 2
    assert not hasattr(cloned[-1], "net_")
    assert pipe.fit_transform(small_X).shape == (200, 2)


def test_grid_search_over_pipeline_in_parallel():
    X, y = load_digits(return_X_y=True)
    X, y = X[:300], y[:300]
    pipe = Pipeline(
        [
            ("scale", StandardScaler()),
            (
                "vae",
                VAETransformer(hidden_layer_sizes=(32,), max_iter=30, random_state=0, device="cpu"),
            ),
            ("clf", LogisticRegression(max_iter=200)),
        ]
    )
    search = GridSearchCV(
        pipe, {"vae__n_components": [2, 8], "vae__beta": [0.5, 1.0]}, cv=2, n_jobs=2
    ).fit(X, y)
    assert set(search.best_params_) == {"vae__n_components", "vae__beta"}
    assert search.best_score_ > 0.5  # ten classes: chance is 0.1


def test_grid_search_without_scorer_uses_log_likelihood(small_X):
    search = GridSearchCV(
        VAETransformer(**THREE_EPOCHS_16_UNITS), {"n_components": [1, 4]}, cv=2
    ).fit(small_X)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
