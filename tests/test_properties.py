"""Property-based tests (hypothesis): random shapes, values and parameters, every estimator.

Each test draws data (shapes from 1 row to wide-and-short, constant columns,
duplicated rows, NaN where the estimator takes it, values up to extremes)
and a valid combination of parameters, and checks an invariant that must
hold for all of them. The number of examples is bounded by the "ci" profile
registered in ``tests/conftest.py`` (``HYPOTHESIS_PROFILE=thorough`` runs
more).
"""

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

from skaevae import (  # noqa: E402
    AutoencoderTransformer,
    ConditionalVAETransformer,
    OutlierDetector,
    VAEImputer,
    VAETransformer,
)
from tests._testing import assert_same_rows  # noqa: E402

# A clear refusal of data the models cannot use (values beyond float32's
# range, a fit that diverges on huge values); anything else is a bug.
CLEAR_REFUSALS = (
    "too large",
    "diverged",
    "non-finite",
    "no observed value",
    "cannot be sorted",
)


@st.composite
def matrices(draw, min_rows=2, allow_nan=False, extreme=False):
    """Float matrices: a few rows to wide-and-short, with constant and duplicated parts."""
    n_rows = draw(st.integers(min_rows, 24))
    n_features = draw(st.integers(1, 6))
    bound = 1e300 if extreme else 1e3
    elements = st.floats(-bound, bound, allow_nan=False, allow_infinity=False, width=64)
    X = draw(hnp.arrays(np.float64, (n_rows, n_features), elements=elements))
    if draw(st.booleans()):
        # A constant column.
        X[:, draw(st.integers(0, n_features - 1))] = draw(elements)
    if n_rows > 2 and draw(st.booleans()):
        # Duplicated rows.
        X[n_rows // 2 :] = X[: n_rows - n_rows // 2]
    if allow_nan and draw(st.booleans()):
        holes = draw(hnp.arrays(np.bool_, X.shape, elements=st.booleans()))
        # Every column keeps an observed value (else fit refuses it, clearly).
        holes[0] = False
        X[holes] = np.nan
    return X


@st.composite
def network_params(draw, n_features, vae=False):
    activation = draw(st.sampled_from(["relu", "tanh", "identity"]))
    params = {
        "n_components": draw(st.integers(1, min(3, n_features))),
        "hidden_layer_sizes": draw(st.sampled_from([(), (4,), (8, 4)])),
        "activation": activation,
        "dropout": draw(st.sampled_from([0.0, 0.2])),
        "batch_size": draw(st.sampled_from(["auto", 4])),
        "max_iter": draw(st.integers(1, 3)),
        "corruption": draw(st.sampled_from([None, "gaussian", "masking"])),
        "random_state": draw(st.integers(0, 2**31 - 1)),
        "device": "cpu",
    }
    if activation != "tanh" and draw(st.booleans()):
        params["init"] = "pca"
    if vae:
        params["kl_warmup"] = draw(st.integers(0, 3))
        params["beta"] = draw(st.sampled_from([0.5, 1.0]))
    return params


def _fit_or_refuse(estimator, *args):
    """Fit; a ValueError must be one of the clear refusals (then None is returned)."""
    try:
        return estimator.fit(*args)
    except ValueError as error:
        assert any(message in str(error) for message in CLEAR_REFUSALS), error
        return None


@given(data=st.data(), vae=st.booleans())
def test_autoencoders_shapes_finiteness_determinism_and_row_independence(data, vae):
    X = data.draw(matrices(allow_nan=data.draw(st.booleans())))
    Estimator = VAETransformer if vae else AutoencoderTransformer
    params = data.draw(network_params(X.shape[1], vae=vae))
    est = Estimator(**params).fit(X)
    Z = est.transform(X)
    assert Z.shape == (len(X), params["n_components"])
    assert np.isfinite(Z).all()
    X_hat = est.inverse_transform(Z)
    assert X_hat.shape == X.shape and np.isfinite(X_hat).all()
    scores = est.score_samples(X)
    assert scores.shape == (len(X),) and not np.isnan(scores).any()
    # A row's score is the same alone as with the others.
    i = data.draw(st.integers(0, len(X) - 1))
    assert_same_rows(est.score_samples(X[i : i + 1])[0], scores[i])
    samples = est.sample(3, random_state=0)
    assert samples.shape == (3, X.shape[1]) and np.isfinite(samples).all()
    # Determinism: the same parameters and data give the same model.
    np.testing.assert_array_equal(Estimator(**params).fit(X).transform(X), Z)


@given(data=st.data())
def test_extreme_values_are_used_or_refused_clearly(data):
    X = data.draw(matrices(extreme=True))
    vae = data.draw(st.booleans())
    Estimator = VAETransformer if vae else AutoencoderTransformer
    est = _fit_or_refuse(Estimator(**data.draw(network_params(X.shape[1], vae=vae))), X)
    if est is not None:
        assert np.isfinite(est.transform(X)).all()


@given(data=st.data())
def test_outlier_detector_contract(data):
    X = data.draw(matrices(min_rows=3, allow_nan=data.draw(st.booleans())))
    extreme = data.draw(st.booleans())
    if extreme:
        X = X * data.draw(st.sampled_from([1e100, 1e160, 1e300]))
    detector = _fit_or_refuse(OutlierDetector(random_state=0), X)
    if detector is None:
        return
    scores = detector.score_samples(X)
    assert scores.shape == (len(X),) and not np.isnan(scores).any()
    np.testing.assert_array_equal(detector.decision_function(X), scores - detector.offset_)
    assert set(np.unique(detector.predict(X))) <= {-1, 1}
    # An extreme row (finite, far beyond the training data) is an outlier.
    row = np.nan_to_num(X[:1], nan=0.0)
    row[0, 0] = 1e200
    assert detector.predict(row)[0] == -1


@given(data=st.data())
def test_imputer_keeps_observed_entries_and_fills_every_hole(data):
    X = data.draw(matrices(min_rows=3, allow_nan=True))
    imputer = VAEImputer(
        max_iter=data.draw(st.integers(1, 3)),
        hidden_layer_sizes=data.draw(st.sampled_from([(4,), (8,)])),
        n_draws=4,
        random_state=data.draw(st.integers(0, 100)),
        device="cpu",
    )
    filled = imputer.fit_transform(X)
    observed = ~np.isnan(X)
    assert filled.shape == X.shape
    np.testing.assert_array_equal(filled[observed], X[observed])
    assert np.isfinite(filled).all()


@given(data=st.data())
def test_conditional_vae_contract(data):
    X = data.draw(matrices(min_rows=4))
    n_classes = data.draw(st.integers(1, 3))
    y = np.arange(len(X)) % n_classes
    params = data.draw(network_params(X.shape[1], vae=True))
    params.pop("init", None)
    cvae = ConditionalVAETransformer(**params).fit(X, y)
    Z = cvae.transform(X)
    assert Z.shape == (len(X), params["n_components"]) and np.isfinite(Z).all()
    assert np.isfinite(cvae.transform(X, y=y)).all()
    scores = cvae.score_samples(X)
    assert not np.isnan(scores).any()
    i = data.draw(st.integers(0, len(X) - 1))
    assert_same_rows(cvae.score_samples(X[i : i + 1])[0], scores[i])
    label = data.draw(st.integers(0, n_classes - 1))
    rows = cvae.sample(5, y=label, random_state=0)
    assert rows.shape == (5, X.shape[1]) and np.isfinite(rows).all()


@given(data=st.data())
def test_over_sampler_balances_and_keeps_the_rows_given(data):
    imblearn = pytest.importorskip("imblearn")  # noqa: F841
    from skaevae import VAEOverSampler

    X = data.draw(matrices(min_rows=6))
    n_minority = data.draw(st.integers(1, len(X) // 2))
    y = np.r_[np.ones(n_minority, int), np.zeros(len(X) - n_minority, int)]
    model = ConditionalVAETransformer(1, max_iter=2, hidden_layer_sizes=(4,), device="cpu")
    sampler = VAEOverSampler(
        estimator=model,
        draw_from=data.draw(st.sampled_from(["posterior", "prior"])),
        random_state=data.draw(st.integers(0, 100)),
    )
    X_res, y_res = sampler.fit_resample(X, y)
    counts = np.bincount(y_res)
    assert counts[0] == counts[1] == max(n_minority, len(X) - n_minority)
    np.testing.assert_array_equal(X_res[: len(X)], X)
    assert np.isfinite(X_res).all()
