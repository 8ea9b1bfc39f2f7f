"""Property-based tests (hypothesis): random shapes, values and parameters, every estimator.

Each test draws data (shapes from 1 row to wide-and-short, constant columns,
duplicated rows, NaN where the estimator takes it, values up to extremes)
and a valid combination of parameters, and checks an invariant that must
hold for all of them. The number of examples is bounded by the "ci" profile
registered in ``tests/conftest.py`` (``HYPOTHESIS_PROFILE=thorough`` runs
more).
"""

import io
import pickle

import numpy as np
import pandas as pd
import pytest

hypothesis = pytest.importorskip("hypothesis")

from hypothesis import event, given  # noqa: E402
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


def _detector_contract(detector, X):
    """The detector's scores of X, checked: no NaN, its decision function and labels."""
    scores = detector.score_samples(X)
    assert scores.shape == (len(X),) and not np.isnan(scores).any()
    np.testing.assert_array_equal(detector.decision_function(X), scores - detector.offset_)
    assert set(np.unique(detector.predict(X))) <= {-1, 1}
    return scores


@given(data=st.data())
def test_outlier_detector_contract(data):
    X = data.draw(matrices(min_rows=3, allow_nan=data.draw(st.booleans())))
    extreme = data.draw(st.booleans())
    if extreme:
        X = X * data.draw(st.sampled_from([1e100, 1e160, 1e300]))
    detector = _fit_or_refuse(OutlierDetector(random_state=0), X)
    if detector is None:
        return
    _detector_contract(detector, X)
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


# ------------------------------------------------------------- mixed tables
#
# Tables as users bring them: numeric columns (extremes, tiny scales,
# integers), booleans, nullable dtypes with pd.NA, categories in every
# pandas spelling (Categorical with unused categories, object, string,
# one level, many levels), holes, and batches at predict time built from
# dicts or read back from CSV.

# Tiny networks: each example fits in well under a second.
TINY = {"hidden_layer_sizes": (4,), "max_iter": 2, "random_state": 0, "device": "cpu"}

NUMERIC_KINDS = ("float", "tiny", "integer", "Int64", "Float64", "constant")
CATEGORICAL_KINDS = ("object", "string", "str", "category", "single", "many")
COLUMN_KINDS = (*NUMERIC_KINDS, "bool", "boolean", *CATEGORICAL_KINDS)

# Kinds whose holes the column's dtype can hold.
HOLDS_HOLES = ("float", "tiny", "integer", "Int64", "Float64", "boolean", *CATEGORICAL_KINDS)


def _levels(prefix, k):
    # Letters first: read back from CSV the levels stay strings.
    return [f"{prefix}{i}" for i in range(k)]


@st.composite
def _column(draw, kind, n_rows, extreme):
    """One column of ``kind``, ``n_rows`` long, without holes.

    Values come from a drawn seed: varied from the first examples on (the
    "ci" profile runs few), where drawn elements would start all equal.
    """
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if kind in ("float", "tiny", "Float64"):
        scale = 1e-10 if kind == "tiny" else draw(st.sampled_from([1.0, 1e3]))
        values = rng.normal(size=n_rows) * scale
        if extreme and kind == "float":
            values[draw(st.integers(0, n_rows - 1))] = draw(st.sampled_from(extreme))
        return pd.array(values, dtype="Float64") if kind == "Float64" else values
    if kind in ("integer", "Int64"):
        low = draw(st.integers(-5, 5))
        values = rng.integers(low, low + 7, n_rows)
        return pd.array(values, dtype="Int64") if kind == "Int64" else values
    if kind == "constant":
        return np.full(n_rows, float(draw(st.integers(-3, 3))))
    if kind in ("bool", "boolean"):
        values = rng.random(n_rows) < 0.5
        return pd.array(values, dtype="boolean") if kind == "boolean" else values
    if kind == "single":
        return pd.Series(["only"] * n_rows, dtype=object)
    if kind == "many":
        # Many levels, most seen once.
        return pd.Series(rng.permutation(_levels("m", n_rows)), dtype=object)
    k = draw(st.integers(2, 4))
    values = rng.choice(_levels("v", k), n_rows).tolist()
    if kind == "category":
        # Declared categories, one of them never used.
        return pd.Categorical(values, categories=_levels("v", k + 1))
    if kind == "string":
        return pd.array(values, dtype="string")
    if kind == "str":
        # pandas' default string dtype (NaN as its missing value).
        return pd.Series(values, dtype=str)
    return pd.Series(values, dtype=object)


@st.composite
def mixed_tables(draw, min_rows=4, max_rows=16, holes=True, extreme=()):
    """A mixed DataFrame: at least one categorical column, each column observed somewhere.

    ``extreme`` lists magnitudes, one of which a float column then holds
    in one row. Returns the table and the kind of each column (a dict by
    name).
    """
    n_rows = draw(st.integers(min_rows, max_rows))
    kinds = draw(st.lists(st.sampled_from(COLUMN_KINDS), min_size=1, max_size=5))
    kinds.append(draw(st.sampled_from(CATEGORICAL_KINDS)))
    if extreme:
        # The column that holds the extreme value.
        kinds.append("float")
    kinds = draw(st.permutations(kinds))
    columns = {}
    for j, kind in enumerate(kinds):
        values = pd.Series(draw(_column(kind, n_rows, extreme)))
        if holes and kind in HOLDS_HOLES and draw(st.booleans()):
            mask = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).random(n_rows) < 0.3
            # The first row is observed: a column without an observed value
            # is refused by fit (tested on its own).
            mask[0] = False
            hole = draw(st.sampled_from([None, np.nan, pd.NA]))
            if kind in NUMERIC_KINDS and not pd.api.types.is_extension_array_dtype(values):
                hole = np.nan
            values = values.mask(mask, hole) if hole is not np.nan else values.mask(mask)
        columns[f"{kind}_{j}"] = values
    return pd.DataFrame(columns), dict(zip(columns, kinds, strict=True))


# A clear refusal of a table the models cannot use, beyond CLEAR_REFUSALS.
TABLE_REFUSALS = (
    *CLEAR_REFUSALS,
    "nothing to model",
    # n_components wider than the table's model space.
    "the width of the table's model space",
)


def _fit_table_or_refuse(estimator, X):
    """Fit on a table; a ValueError must be one of the clear refusals (then None)."""
    try:
        return estimator.fit(X)
    except ValueError as error:
        assert any(message in str(error) for message in TABLE_REFUSALS), error
        event(f"fit refused: {str(error)[:40]}")
        return None


def _known_values(X, name):
    column = X[name]
    if isinstance(column.dtype, pd.CategoricalDtype):
        return set(column.cat.categories)
    return set(column.dropna())


def assert_same_schema(out, X, kinds):
    """``out`` has X's columns and dtypes, and categories among those of fit."""
    assert list(out.columns) == list(X.columns)
    for name, kind in kinds.items():
        assert out[name].dtype == X[name].dtype, (name, out[name].dtype, X[name].dtype)
        if kind in CATEGORICAL_KINDS or kind in ("bool", "boolean"):
            assert set(out[name].dropna()) <= _known_values(X, name), name


@st.composite
def predict_batches(draw, X):
    """Rows of X as a predict batch may bring them, and the same rows in X's dtypes.

    The batch is X's rows as a frame, rebuilt from dicts or read back from
    CSV, possibly with one column entirely missing (as pandas guesses it:
    ``None`` in an object column, or NaN floats from CSV).
    """
    rows = draw(st.lists(st.integers(0, len(X) - 1), min_size=1, max_size=5))
    reference = X.iloc[rows].reset_index(drop=True)
    batch = reference.copy()
    empty = draw(st.none() | st.sampled_from(list(X.columns)))
    if empty is not None:
        reference[empty] = reference[empty].mask(np.ones(len(reference), dtype=bool))
        batch[empty] = None
    form = draw(st.sampled_from(["frame", "dicts", "csv"]))
    if form == "dicts":
        batch = pd.DataFrame(batch.to_dict("records"))
    elif form == "csv":
        batch = pd.read_csv(io.StringIO(batch.to_csv(index=False)))
    return batch, reference


def _as_float(column):
    return column.astype(np.float64) if pd.api.types.is_integer_dtype(column) else column


@st.composite
def perturbed_pairs(draw, X, kinds):
    """X's first row twice, the second with one value the model never saw, and what it is.

    ``"beyond float32"`` (a value beyond float32's range in a numeric
    column), ``"far integer"`` (an integer far outside the training range),
    ``"unseen category"`` or ``"constant departure"`` (another value of a
    numeric column with one value in fit); None if X has no column for it.
    """
    options = []
    for name, kind in kinds.items():
        if kind in ("float", "tiny", "integer", "Int64", "Float64"):
            options.append(("beyond float32", name))
        if kind in ("integer", "Int64"):
            options.append(("far integer", name))
        if kind in CATEGORICAL_KINDS:
            options.append(("unseen category", name))
        if kind == "constant":
            options.append(("constant departure", name))
    if not options:
        return None
    what, name = draw(st.sampled_from(options))
    pair = pd.concat([X.iloc[:1]] * 2, ignore_index=True)
    if what == "beyond float32":
        value = draw(st.sampled_from([1e39, -1e39, 1e300]))
        pair[name] = _as_float(pair[name])
    elif what == "far integer":
        value = draw(st.sampled_from([10**6, -(10**9), 10**12]))
    elif what == "unseen category":
        value = "never seen"
        if kinds[name] == "category":
            pair[name] = pair[name].astype(object)
    else:
        value = pair[name].iloc[0] + draw(st.sampled_from([1.0, -0.5, 1e6]))
    pair.loc[1, name] = value
    event(what)
    return pair, what


@given(data=st.data(), model=st.sampled_from(["ae", "vae", "vae ignore"]))
def test_mixed_tables_transformers_contract(data, model):
    X, kinds = data.draw(mixed_tables())
    params = {
        **TINY,
        "n_components": data.draw(st.integers(1, 2)),
        "random_state": data.draw(st.integers(0, 2**31 - 1)),
    }
    if model == "vae ignore":
        params["handle_unknown"] = "ignore"
    Estimator = AutoencoderTransformer if model == "ae" else VAETransformer
    est = _fit_table_or_refuse(Estimator(**params), X)
    if est is None:
        return
    Z = est.transform(X)
    assert Z.shape == (len(X), params["n_components"]) and np.isfinite(Z).all()
    scores = est.score_samples(X)
    assert scores.shape == (len(X),) and not np.isnan(scores).any()
    # A row's outputs are the same alone as with the others.
    i = data.draw(st.integers(0, len(X) - 1))
    assert_same_rows(est.score_samples(X.iloc[[i]])[0], scores[i])
    assert_same_rows(est.transform(X.iloc[[i]])[0], Z[i])
    assert_same_schema(est.inverse_transform(Z), X, kinds)
    assert_same_schema(est.sample(3, random_state=0), X, kinds)
    # A batch from dicts or CSV, or with a column all missing, reads as its rows.
    batch, reference = data.draw(predict_batches(X))
    Z_batch = est.transform(batch)
    assert Z_batch.shape == (len(batch), params["n_components"]) and np.isfinite(Z_batch).all()
    assert_same_rows(Z_batch, est.transform(reference))
    assert_same_rows(est.score_samples(batch), est.score_samples(reference))
    # Determinism: the same parameters and data give the same model.
    np.testing.assert_array_equal(Estimator(**params).fit(X).transform(X), Z)


@given(data=st.data(), model=st.sampled_from(["ae", "vae", "vae ignore"]))
def test_mixed_tables_values_never_seen_score_lowest(data, model):
    X, kinds = data.draw(mixed_tables())
    ignore = model == "vae ignore"
    Estimator = AutoencoderTransformer if model == "ae" else VAETransformer
    est = _fit_table_or_refuse(
        Estimator(1, handle_unknown="ignore" if ignore else "error", **TINY), X
    )
    perturbed = data.draw(perturbed_pairs(X, kinds))
    if est is None or perturbed is None:
        return
    pair, what = perturbed
    if what == "beyond float32":
        # Refused as on a float matrix, or scored as impossible.
        try:
            scores = est.score_samples(pair)
        except ValueError as error:
            assert "too large" in str(error), error
            return
        assert scores[1] == -np.inf
        return
    if what == "unseen category" and not ignore:
        with pytest.raises(ValueError, match="unknown categories"):
            est.score_samples(pair)
        return
    scores = est.score_samples(pair)
    assert not np.isnan(scores).any()
    if what == "constant departure":
        # A point mass: another value has probability 0.
        assert scores[1] == -np.inf
    else:
        assert scores[1] < scores[0]


@given(data=st.data(), model=st.sampled_from(["ae", "vae", "detector", "imputer"]))
def test_mixed_tables_extreme_values_are_used_or_refused_clearly(data, model):
    # Values near float64's top (1e300) are the finding that
    # test_mixed_tables_training_rows_score_finite_whatever_their_scale checks.
    X, _ = data.draw(mixed_tables(extreme=(1e39, -1e39, 1e150)))
    if model == "detector":
        est = _fit_table_or_refuse(OutlierDetector(random_state=0), X)
        if est is not None:
            assert not np.isnan(est.score_samples(X)).any()
        return
    if model == "imputer":
        est = _fit_table_or_refuse(VAEImputer(**TINY, n_draws=4), X)
        if est is not None:
            assert not est.transform(X).isna().any().any()
        return
    Estimator = AutoencoderTransformer if model == "ae" else VAETransformer
    est = _fit_table_or_refuse(Estimator(1, **TINY), X)
    if est is not None:
        assert np.isfinite(est.transform(X)).all()
        assert not np.isnan(est.score_samples(X)).any()


@given(data=st.data(), vae=st.booleans())
def test_mixed_tables_training_rows_score_finite_whatever_their_scale(data, vae):
    X, _ = data.draw(mixed_tables(extreme=(1e39, 1e150, 1e300, -1e300)))
    Estimator = VAETransformer if vae else AutoencoderTransformer
    est = _fit_table_or_refuse(Estimator(1, **TINY), X)
    if est is not None:
        assert np.isfinite(est.score_samples(X)).all()


def _detector(vae):
    estimator = VAETransformer(1, handle_unknown="ignore", **TINY) if vae else None
    return OutlierDetector(estimator, random_state=0)


@given(data=st.data(), vae=st.booleans())
def test_mixed_tables_outlier_detector_contract(data, vae):
    X, kinds = data.draw(mixed_tables(min_rows=6))
    detector = _fit_table_or_refuse(_detector(vae), X)
    if detector is None:
        return
    scores = _detector_contract(detector, X)
    i = data.draw(st.integers(0, len(X) - 1))
    assert_same_rows(detector.score_samples(X.iloc[[i]])[0], scores[i])
    batch, reference = data.draw(predict_batches(X))
    batch_scores = detector.score_samples(batch)
    assert not np.isnan(batch_scores).any()
    assert_same_rows(batch_scores, detector.score_samples(reference))
    assert set(np.unique(detector.predict(batch))) <= {-1, 1}


@given(data=st.data(), vae=st.booleans())
def test_mixed_tables_outlier_detector_flags_values_never_seen(data, vae):
    X, kinds = data.draw(mixed_tables(min_rows=6))
    detector = _fit_table_or_refuse(_detector(vae), X)
    perturbed = data.draw(perturbed_pairs(X, kinds))
    if detector is None or perturbed is None:
        return
    pair, what = perturbed
    scores = detector.score_samples(pair)
    assert not np.isnan(scores).any()
    assert scores[1] < scores[0]
    if what in ("beyond float32", "constant departure") or (what == "unseen category" and not vae):
        # Values the model never saw: outliers beyond any score. (A user's
        # estimator scores an unseen category as it chooses: lower, here.)
        assert scores[1] == -np.inf
    if what != "far integer" and not (what == "unseen category" and vae):
        assert detector.predict(pair)[1] == -1


@given(data=st.data())
def test_mixed_tables_imputer_keeps_observed_entries_and_dtypes(data):
    X, kinds = data.draw(mixed_tables())
    imputer = VAEImputer(**{**TINY, "random_state": data.draw(st.integers(0, 100))}, n_draws=4)
    try:
        filled = imputer.fit_transform(X)
    except ValueError as error:
        assert any(message in str(error) for message in TABLE_REFUSALS), error
        return
    assert_same_schema(filled, X, kinds)
    assert not filled.isna().any().any()
    for name in X.columns:
        observed = X[name].notna().to_numpy()
        pd.testing.assert_series_equal(filled[name][observed], X[name][observed])
    # A batch keeps its own dtypes (a column of holes only takes the fitted
    # one), and gets the values its rows get in X's dtypes.
    batch, reference = data.draw(predict_batches(X))
    out, expected = imputer.transform(batch), imputer.transform(reference)
    assert list(out.columns) == list(X.columns)
    assert not out.isna().any().any()
    for name in X.columns:
        observed = batch[name].notna().to_numpy()
        dtype = batch[name].dtype if observed.any() else X[name].dtype
        assert out[name].dtype == dtype, name
        if observed.any():
            pd.testing.assert_series_equal(out[name][observed], batch[name][observed])
        np.testing.assert_array_equal(
            out[name].to_numpy(dtype=object), expected[name].to_numpy(dtype=object), name
        )


@given(data=st.data(), model=st.sampled_from(["vae ignore", "detector", "imputer"]))
def test_mixed_tables_pickle_round_trip(data, model):
    X, _ = data.draw(mixed_tables())
    if model == "vae ignore":
        est = VAETransformer(1, handle_unknown="ignore", **TINY)
    elif model == "detector":
        est = _detector(vae=False)
    else:
        est = VAEImputer(**TINY, n_draws=4)
    est = _fit_table_or_refuse(est, X)
    if est is None:
        return
    loaded = pickle.loads(pickle.dumps(est))
    if model == "imputer":
        pd.testing.assert_frame_equal(loaded.transform(X), est.transform(X))
        return
    np.testing.assert_array_equal(loaded.score_samples(X), est.score_samples(X))
    if model == "vae ignore":
        np.testing.assert_array_equal(loaded.transform(X), est.transform(X))
        pd.testing.assert_frame_equal(
            loaded.sample(3, random_state=0), est.sample(3, random_state=0)
        )
