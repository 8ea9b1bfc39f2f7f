"""Sharing fitted models: skops.io with nothing to trust but skaevae's classes, and pickle."""

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler

from skaevae import (
    AutoencoderTransformer,
    ConditionalVAETransformer,
    OutlierDetector,
    VAEImputer,
    VAETransformer,
)
from tests._testing import THREE_EPOCHS_16_UNITS
from tests.networks import TinyDecoder, TinyEncoder

sio = pytest.importorskip("skops.io")

PUBLIC = {
    "skaevae.models._autoencoder.AutoencoderTransformer",
    "skaevae.models._vae.VAETransformer",
    "skaevae.models._conditional.ConditionalVAETransformer",
    "skaevae.outlier._detector.OutlierDetector",
    "skaevae.impute._imputer.VAEImputer",
    # The trees of the imputer's default column_estimator, a
    # HistGradientBoostingRegressor, which skops does not trust by default.
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
}


def _X():
    return StandardScaler().fit_transform(load_digits().data[:150])


def _table():
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "a": rng.normal(size=80),
            "n": rng.integers(0, 5, 80),
            "c": pd.Categorical(rng.choice(["x", "y"], 80)),
            "b": rng.random(80) > 0.5,
        }
    )
    df.loc[::7, "a"] = np.nan
    return df


def _holes():
    X = _X()
    X[::5, 3] = np.nan
    return X


CASES = {
    "autoencoder": (
        lambda: AutoencoderTransformer(**THREE_EPOCHS_16_UNITS, sparsity=0.1),
        _X,
        "transform",
    ),
    "autoencoder, table": (
        lambda: AutoencoderTransformer(**THREE_EPOCHS_16_UNITS),
        _table,
        "transform",
    ),
    "vae, pca start": (
        lambda: VAETransformer(**THREE_EPOCHS_16_UNITS, init="pca"),
        _X,
        "score_samples",
    ),
    "vae, table, masking": (
        lambda: VAETransformer(**THREE_EPOCHS_16_UNITS, corruption="masking", n_components=1),
        _table,
        "score_samples",
    ),
    "vae, holes": (lambda: VAETransformer(**THREE_EPOCHS_16_UNITS), _holes, "score_samples"),
    "conditional vae": (
        lambda: ConditionalVAETransformer(**THREE_EPOCHS_16_UNITS),
        _X,
        "score_samples",
    ),
    "detector": (lambda: OutlierDetector(random_state=0), _X, "score_samples"),
    "detector, table": (lambda: OutlierDetector(random_state=0), _table, "score_samples"),
    "detector, vae": (lambda: OutlierDetector("vae", random_state=0), _holes, "score_samples"),
    "imputer": (lambda: VAEImputer(max_iter=2, random_state=0), _holes, "transform"),
    "imputer, table": (lambda: VAEImputer(max_iter=2, random_state=0), _table, "transform"),
}


def _fit(make, data):
    est = make()
    X = data()
    if isinstance(est, ConditionalVAETransformer):
        return est.fit(X, np.arange(len(X)) % 3), X
    return est.fit(X), X


def _same(a, b):
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b)
    else:
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("make, data, method", CASES.values(), ids=CASES.keys())
def test_skops_trusts_only_skaevae_classes_and_loads_bit_for_bit(make, data, method):
    est, X = _fit(make, data)
    blob = sio.dumps(est)
    untrusted = sio.get_untrusted_types(data=blob)
    assert set(untrusted) <= PUBLIC, untrusted
    loaded = sio.loads(blob, trusted=untrusted)
    _same(getattr(loaded, method)(X), getattr(est, method)(X))
    if hasattr(est, "sample"):
        _same(loaded.sample(4, random_state=0), est.sample(4, random_state=0))
    pickled = pickle.loads(pickle.dumps(est))
    _same(getattr(pickled, method)(X), getattr(est, method)(X))


def test_a_loaded_model_continues_training_as_the_original():
    X = _X()
    est = AutoencoderTransformer(**THREE_EPOCHS_16_UNITS).partial_fit(X)
    blob = sio.dumps(est)
    loaded = sio.loads(blob, trusted=sio.get_untrusted_types(data=blob))
    for model in (est, loaded):
        model.partial_fit(X)
        model.set_params(warm_start=True, max_iter=2).fit(X)
    np.testing.assert_array_equal(loaded.transform(X), est.transform(X))
    assert loaded.loss_curve_ == est.loss_curve_


def test_user_networks_are_the_only_other_classes_to_trust():
    X = _X()
    est = VAETransformer(**THREE_EPOCHS_16_UNITS, encoder=TinyEncoder, decoder=TinyDecoder).fit(X)
    blob = sio.dumps(est)
    untrusted = set(sio.get_untrusted_types(data=blob))
    assert untrusted - PUBLIC == {"tests.networks.TinyEncoder", "tests.networks.TinyDecoder"}
    loaded = sio.loads(blob, trusted=sorted(untrusted))
    np.testing.assert_array_equal(loaded.score_samples(X), est.score_samples(X))


def test_the_state_is_plain_data():
    # No torch object, skorch net or pandas object in what pickle and skops store.
    est = OutlierDetector(random_state=0).fit(_table())
    seen = set()

    def walk(value):
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v)
        elif hasattr(value, "__getstate__") and hasattr(value, "get_params"):
            walk(value.__getstate__())
        else:
            seen.add(type(value).__module__.split(".")[0])

    walk(est.__getstate__())
    assert seen <= {"builtins", "numpy"}, seen


def test_a_shallow_copy_shares_no_training_state():
    import copy

    X = _X()
    est = AutoencoderTransformer(**THREE_EPOCHS_16_UNITS).partial_fit(X)
    twin = pickle.loads(pickle.dumps(est))
    shallow = copy.copy(est)
    shallow.partial_fit(X)
    est.partial_fit(X)
    twin.partial_fit(X)
    np.testing.assert_array_equal(est.transform(X), twin.transform(X))
