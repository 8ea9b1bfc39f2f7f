"""What bad input gets: the inventory behind the user guide's "Bad input" table.

Each case names an input a user may pass, the call it goes to and what it
gets: accepted (and the outputs are finite, of the right shape) or a named
error with scikit-learn's wording. The table in ``docs/reliability.rst``
lists the same cases by id. The tests after the table check the wording of
further refusals: of parameters, of input after fit, and of fits that diverge.
"""

import datetime

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler

from skaevae import AutoencoderTransformer, OutlierDetector, VAEImputer, VAETransformer
from tests._testing import THREE_EPOCHS_16_UNITS


def _X(n=60, d=4):
    return StandardScaler().fit_transform(load_digits().data[:n, 20 : 20 + d])


def _frame(n=60):
    return pd.DataFrame(_X(n), columns=["a", "b", "c", "d"])


def _memmap(tmp_path):
    path = tmp_path / "X.npy"
    np.save(path, _X())
    return np.load(path, mmap_mode="r")


def _read_only():
    X = _X()
    X.setflags(write=False)
    return X


def _fit(X, **params):
    return lambda Estimator: Estimator(**{**THREE_EPOCHS_16_UNITS, **params}).fit(X)


def _fitted_then(method, make_X):
    def call(Estimator):
        est = Estimator(**THREE_EPOCHS_16_UNITS).fit(_frame())
        return getattr(est, method)(make_X())

    return call


def _fit_array_then_transform(make_X):
    def call(Estimator):
        return Estimator(**THREE_EPOCHS_16_UNITS).fit(_X()).transform(make_X())

    return call


# (id, call on an estimator class, expected: None = accepted, else (error, match)).
CASES = [
    ("float16", _fit(_X().astype(np.float16)), None),
    ("int", _fit((_X() * 10).astype(int)), None),
    ("bool", _fit(_X() > 0), None),
    ("object numbers", _fit(_X().astype(object)), None),
    ("complex", _fit(_X() + 1j), (ValueError, "Complex data not supported")),
    (
        "strings (array)",
        _fit(np.array([["a", "b"]] * 30)),
        (ValueError, "could not convert string to float"),
    ),
    (
        "strings (DataFrame)",
        _fit(pd.DataFrame({"a": _X()[:, 0], "s": np.array(["x", "y", "z"] * 20)}), n_components=1),
        None,
    ),
    (
        "datetimes",
        _fit(pd.DataFrame({"a": _X()[:, 0], "when": pd.date_range("2020", periods=60)})),
        (ValueError, "date or time columns"),
    ),
    (
        "datetime64 array",
        _fit(np.array(["2020-01-01"] * 60, dtype="datetime64[D]").reshape(-1, 1)),
        (ValueError, "dates or times"),
    ),
    (
        "date objects",
        _fit(pd.DataFrame({"a": _X()[:, 0], "d": [datetime.date(2020, 1, 1)] * 60})),
        (ValueError, "date or time columns"),
    ),
    (
        "nullable Int64 with pd.NA",
        _fit(pd.DataFrame({"a": pd.array([1, 2, None] * 20, dtype="Int64"), "b": _X()[:, 1]})),
        None,
    ),
    (
        "pd.NA in Float64",
        _fit(
            pd.DataFrame({"a": pd.array([0.5, None, 1.5] * 20, dtype="Float64"), "b": _X()[:, 1]})
        ),
        None,
    ),
    ("NaN", _fit(np.where(np.eye(60, 4, dtype=bool), np.nan, _X())), None),
    (
        "all-NaN column",
        _fit(np.column_stack([_X(), np.full(60, np.nan)])),
        (ValueError, "no observed"),
    ),
    ("inf", _fit(np.where(np.eye(60, 4, dtype=bool), np.inf, _X())), (ValueError, "infinity")),
    ("sparse", _fit(sp.csr_matrix(_X())), (TypeError, "dense data is required")),
    ("3-D", _fit(_X().reshape(60, 2, 2)), (ValueError, "Found array with dim 3")),
    ("list of lists", _fit(_X().tolist()), None),
    ("0 rows", _fit(_X()[:0]), (ValueError, "0 sample")),
    ("1 row", _fit(_X()[:1]), (ValueError, "minimum of 2 is required")),
    ("1 column", _fit(_X()[:, :1], n_components=1), None),
    ("n_components > n_features", _fit(_X(), n_components=5), (ValueError, "n_components=5")),
    ("n_components > n_rows", _fit(_X(3), n_components=4), None),
    ("n_components=True", _fit(_X(), n_components=True), (ValueError, "must be an int")),
    ("read-only", _fit(_read_only()), None),
    ("non-contiguous", _fit(np.asfortranarray(_X())[:, ::1][::2]), None),
    (
        "huge (1e300)",
        _fit(np.where(np.eye(60, 4, dtype=bool), 1e300, _X())),
        (ValueError, "too large"),
    ),
    ("tiny (1e-300)", _fit(_X() * 1e-300), None),
    ("wrong width", _fit_array_then_transform(lambda: _X()[:, :3]), (ValueError, "3 features")),
    (
        "renamed columns",
        _fitted_then("transform", lambda: _frame().rename(columns={"a": "z"})),
        (ValueError, "feature names"),
    ),
    (
        "reordered columns",
        _fitted_then("transform", lambda: _frame()[["b", "a", "c", "d"]]),
        (ValueError, "feature names"),
    ),
]


@pytest.mark.parametrize("Estimator", [AutoencoderTransformer, VAETransformer])
@pytest.mark.parametrize("call, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input(Estimator, call, expected):
    if expected is None:
        out = call(Estimator)
        assert np.isfinite(out.loss_curve_).all()
    else:
        error, match = expected
        with pytest.raises(error, match=match):
            call(Estimator)


def test_memory_mapped_input(tmp_path):
    X = _memmap(tmp_path)
    Z = AutoencoderTransformer(**THREE_EPOCHS_16_UNITS).fit(X).transform(X)
    assert np.isfinite(Z).all() and Z.shape == (60, 2)


# ------------------------------------- inputs and parameters refused by name


@pytest.mark.parametrize(
    "X, error, match",
    [
        (np.array([[1.0, np.nan], [2.0, np.nan], [0.0, np.nan]]), ValueError, "no observed"),
        (
            np.array([[1.0, np.inf], [2.0, 3.0], [0.0, 1.0]]),
            ValueError,
            "Input X contains infinity",
        ),
        (np.array([[1e39, 1.0], [2.0, 3.0], [0.0, 1.0]]), ValueError, "too large for dtype"),
        (np.array([["a", "b"], ["c", "d"], ["e", "f"]], dtype=object), ValueError, "string"),
        (np.array([[1 + 1j, 2], [3, 4], [0, 1]]), ValueError, "Complex data not supported"),
        (np.empty((0, 3)), ValueError, "0 sample"),
        (np.array([[1.0, 2.0]]), ValueError, "1 sample"),
        (sp.csr_matrix(np.eye(3)), TypeError, "dense data is required"),
    ],
    ids=[
        "empty-column",
        "inf",
        "float32-overflow",
        "strings",
        "complex",
        "empty",
        "one-row",
        "sparse",
    ],
)
def test_bad_training_input(fast_estimator, X, error, match):
    fast_estimator.set_params(n_components=1)
    with pytest.raises(error, match=match):
        fast_estimator.fit(X)


def test_bad_input_after_fit(fast_estimator, small_X):
    est = fast_estimator.fit(small_X)
    with pytest.raises(ValueError, match="X has 3 features, but .* is expecting 64 features"):
        est.transform(small_X[:, :3])
    with pytest.raises(ValueError, match="Input X contains infinity"):
        est.score_samples(np.full((2, 64), np.inf))
    with pytest.raises(ValueError, match="expecting 2 features \\(n_components\\)"):
        est.inverse_transform(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="n_samples must be a positive integer"):
        est.sample(0)


def test_n_components_larger_than_features(fast_estimator):
    X = np.random.RandomState(0).normal(size=(20, 3))
    with pytest.raises(ValueError, match="n_components=5 must be between 1 and n_features=3"):
        fast_estimator.set_params(n_components=5).fit(X)


def test_invalid_parameters_are_reported_at_fit(fast_estimator, small_X):
    with pytest.raises(ValueError, match="'activation' parameter"):
        fast_estimator.set_params(activation="swish").fit(small_X)
    with pytest.raises(ValueError, match="hidden_layer_sizes must contain positive integers"):
        fast_estimator.set_params(activation="relu", hidden_layer_sizes=(8, 0)).fit(small_X)


def test_counts_are_not_booleans_and_callbacks_are_callbacks(fast_estimator, small_X):
    from sklearn.utils._param_validation import InvalidParameterError

    for name in ("n_components", "hidden_layer_sizes", "max_iter", "batch_size"):
        with pytest.raises(InvalidParameterError, match=f"'{name}' parameter"):
            clone(fast_estimator).set_params(**{name: True}).fit(small_X)
    with pytest.raises(ValueError, match="positive integers"):
        clone(fast_estimator).set_params(hidden_layer_sizes=[8, True]).fit(small_X)
    fitted = clone(fast_estimator).fit(small_X)
    with pytest.raises(ValueError, match="positive integer, got True"):
        fitted.sample(True)
    with pytest.raises(TypeError, match="skorch Callback instances"):
        clone(fast_estimator).set_params(callbacks=[object()]).fit(small_X)


def test_diverging_run_is_an_error_not_nan_output(fast_estimator, small_X):
    fast_estimator.set_params(learning_rate_init=1e8, max_iter=20)
    with pytest.raises(ValueError, match="non-finite .* training diverged"):
        fast_estimator.fit(small_X)


def test_extreme_input_after_fit_is_an_error_not_nan_output(fast_estimator, small_X):
    # Codes at the edge of float32's range overflow in the decoder.
    est = fast_estimator.set_params(hidden_layer_sizes=(), activation="identity").fit(small_X)
    with pytest.raises(ValueError, match="inverse_transform produced non-finite values"):
        est.inverse_transform(np.full((2, 2), 3e38))


# --------------------------------------------------------- mixed tables
#
# Inputs of a mixed table (a DataFrame with a categorical column) and what
# each estimator gives them: an error with its message, or a handled
# outcome, which the case's call asserts. The table "Mixed tables" in
# docs/reliability.rst lists the same cases by id.

TWO_EPOCHS_4_UNITS = {"hidden_layer_sizes": (4,), "max_iter": 2, "random_state": 0, "device": "cpu"}


def _table(n=40):
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "i": rng.integers(0, 5, n),
            "z": 0.0,
            "c": rng.choice(["a", "b", "c"], n),
        }
    )


def _with(column, value, X=None):
    """The table's first row twice, the second with ``value`` in ``column``."""
    X = _table() if X is None else X
    pair = pd.concat([X.iloc[:1]] * 2, ignore_index=True)
    if pd.api.types.is_integer_dtype(pair[column]) and not isinstance(value, int):
        pair[column] = pair[column].astype(np.float64)
    pair.loc[1, column] = value
    return pair


def _vae(X=None, **params):
    model = VAETransformer(1, **{**TWO_EPOCHS_4_UNITS, **params})
    return model.fit(_table() if X is None else X)


def _scores_of(make_model, column, value):
    return lambda: make_model().score_samples(_with(column, value))


def _scored_below_its_row(column, value, **params):
    def call():
        scores = _vae(**params).score_samples(_with(column, value))
        assert not np.isnan(scores).any() and scores[1] < scores[0]

    return call


def _scored_minus_inf(column, value):
    def call():
        scores = _vae().score_samples(_with(column, value))
        assert np.isfinite(scores[0]) and scores[1] == -np.inf

    return call


def _detector_scores_minus_inf(column, value):
    def call():
        detector = OutlierDetector(random_state=0).fit(_table())
        rows = _with(column, value)
        scores = detector.score_samples(rows)
        assert np.isfinite(scores[0]) and scores[1] == -np.inf
        assert detector.predict(rows)[1] == -1

    return call


def _imputer_keeps_unknown_category():
    X = _table()
    X.loc[:4, "x"] = np.nan
    rows = pd.DataFrame({"x": [np.nan], "i": [2], "z": [0.0], "c": ["never seen"]})
    out = VAEImputer(**TWO_EPOCHS_4_UNITS).fit(X).transform(rows)
    assert out["c"].tolist() == ["never seen"] and np.isfinite(out["x"]).all()


def _column_all_missing_from_dicts():
    model = _vae()
    rows = pd.DataFrame([{"x": None, "i": 2, "z": 0.0, "c": "a"}])
    typed = pd.DataFrame({"x": [np.nan], "i": [2], "z": [0.0], "c": ["a"]})
    np.testing.assert_array_equal(model.score_samples(rows), model.score_samples(typed))


def _rows_read_back_from_csv():
    import io

    X = _table()
    model = _vae()
    rows = pd.read_csv(io.StringIO(X.iloc[:5].to_csv(index=False)))
    np.testing.assert_array_equal(model.score_samples(rows), model.score_samples(X.iloc[:5]))


def _nullable_dtypes_kept():
    X = _table().assign(
        n=pd.array([1, None, 3, 2] * 10, dtype="Int64"),
        b=pd.array([True, None, False, True] * 10, dtype="boolean"),
        s=pd.array(["u", "v", None, "u"] * 10, dtype="string"),
    )
    sample = _vae(X).sample(5, random_state=0)
    assert sample.dtypes.equals(X.dtypes)


def _unused_categories_kept():
    X = _table().assign(c=lambda f: pd.Categorical(f["c"], categories=["a", "b", "c", "d"]))
    model = _vae(X)
    assert model.sample(5, random_state=0)["c"].dtype == X["c"].dtype
    # The declared, unused category is a known one.
    assert np.isfinite(model.score_samples(_with("c", "d", X))).all()


def _one_level_column_reproduced():
    X = _table().assign(k="only")
    sample = _vae(X).sample(5, random_state=0)
    assert (sample["k"] == "only").all()


def _many_levels_used():
    X = _table().assign(id=[f"row{i}" for i in range(40)])
    model = _vae(X)
    assert np.isfinite(model.transform(X)).all() and np.isfinite(model.score_samples(X)).all()


def _tiny_column_kept():
    X = _table().assign(x=lambda f: f["x"] * 1e-10)
    sampled = _vae(X).sample(8, random_state=0)["x"].to_numpy()
    assert (sampled != 0).all() and np.abs(sampled).max() < 1e-8


def _all_single_values():
    VAETransformer(1, **TWO_EPOCHS_4_UNITS).fit(pd.DataFrame({"z": [0.0] * 5, "k": ["a"] * 5}))


def _categorical_without_observed_value():
    _vae(_table().assign(c=None).astype({"c": object}))


def _duplicate_names():
    X = _table()
    _vae(X.set_axis(["x", "x", "z", "c"], axis=1))


def _numbers_as_strings():
    rows = _table().iloc[:2].astype({"x": str})
    _vae().transform(rows)


# (id, call, expected): None = the call asserts the handled outcome, else (error, match).
MIXED_CASES = [
    (
        "unknown category",
        _scores_of(_vae, "c", "never seen"),
        (ValueError, "Found unknown categories \\['never seen'\\] in column 'c'"),
    ),
    (
        "unknown category, ignore",
        _scored_below_its_row("c", "never seen", handle_unknown="ignore"),
        None,
    ),
    ("unknown category, imputer", _imputer_keeps_unknown_category, None),
    ("unknown category, detector", _detector_scores_minus_inf("c", "zz"), None),
    ("other value of a constant numeric column", _scored_minus_inf("z", 1.0), None),
    ("integer far outside the range", _scored_below_its_row("i", 10**9), None),
    (
        "beyond float32 in a table",
        _scores_of(_vae, "x", 1e39),
        (ValueError, "too large for dtype\\('float32'\\)"),
    ),
    ("column all missing, from dicts", _column_all_missing_from_dicts, None),
    ("rows read back from CSV", _rows_read_back_from_csv, None),
    ("nullable dtypes with pd.NA", _nullable_dtypes_kept, None),
    ("unused categories", _unused_categories_kept, None),
    ("one-level column", _one_level_column_reproduced, None),
    ("many levels", _many_levels_used, None),
    ("tiny column (1e-10)", _tiny_column_kept, None),
    ("every column one value", _all_single_values, (ValueError, "nothing to model")),
    (
        "categorical column all missing",
        _categorical_without_observed_value,
        (ValueError, "Column 'c' has no observed value"),
    ),
    ("duplicate names", _duplicate_names, (ValueError, "Expected unique column names")),
    (
        "numbers as strings",
        _numbers_as_strings,
        (ValueError, "Column 'x' has dtype .*, but it had dtype float64 in fit"),
    ),
]


@pytest.mark.parametrize(
    "call, expected", [c[1:] for c in MIXED_CASES], ids=[c[0] for c in MIXED_CASES]
)
def test_bad_mixed_input(call, expected):
    if expected is None:
        call()
    else:
        error, match = expected
        with pytest.raises(error, match=match):
            call()
