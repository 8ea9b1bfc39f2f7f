"""Mixed tables as real data brings them: values outside the training range,
tiny values, all-missing columns, constant columns, declared categories,
unseen categories, and dtypes through persistence."""

import io
import pickle

import numpy as np
import pandas as pd
import pytest
import torch

from skaevae import (
    AutoencoderTransformer,
    ConditionalVAETransformer,
    VAEImputer,
    VAETransformer,
)
from skaevae.nn._likelihoods import Mixed
from skaevae.nn._losses import PROBABILITY_FLOOR
from skaevae.utils._layout import ColumnLayout
from skaevae.utils._table import TableEncoder, decimals_of
from skaevae.utils._validation import check_finite_output

TWO_EPOCHS = {"max_iter": 2, "random_state": 0, "device": "cpu"}
TABLE_MODELS = [AutoencoderTransformer, VAETransformer]
LOG_FLOOR = float(np.log(PROBABILITY_FLOOR))

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _people(n=300, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.integers(18, 91, n),
            "income": rng.normal(50, 10, n),
            "city": rng.choice(list("abc"), n),
        }
    )


def _two_columns(n=200, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x": rng.normal(size=n), "c": rng.choice(["a", "b"], n)})


# ------------------------------------------------ integers beyond the range


def _integer_mixed(n_rows=4, seed=0):
    """One integer column with integers 0..10 (standardised), random mixture parameters."""
    mean, std = 5.0, 2.0
    layout = ColumnLayout(
        n_continuous=0, integer_bounds=((-mean / std, (10 - mean) / std, 0.5 / std),)
    )
    generator = torch.Generator().manual_seed(seed)
    params = torch.randn(n_rows, 15, generator=generator)
    bounds = torch.tensor(layout.integer_bounds, dtype=torch.float32)
    return Mixed(layout, params, bounds), mean, std


def test_integer_in_range_masses_still_sum_to_one():
    # The tails beyond the lowest and highest integer fold onto them: the
    # masses of the integers seen in training sum to one.
    px, mean, std = _integer_mixed()
    values = (torch.arange(0.0, 11.0) - mean) / std
    x = values[:, None, None].expand(11, 4, 1)
    total = torch.exp(px.column_log_prob(x)[..., 0]).sum(dim=0)
    np.testing.assert_allclose(total.numpy(), 1.0, rtol=1e-4)


def test_integer_beyond_range_falls_like_a_tail():
    px, mean, std = _integer_mixed()
    values = torch.tensor([10.0, 12.0, 100.0, 1e4, 1e6, -1e6, 1e30])
    x = ((values - mean) / std)[:, None, None].expand(len(values), 4, 1)
    log_p = px.column_log_prob(x)[..., 0].numpy()
    assert not np.isnan(log_p).any()
    # Further out is less likely, on both sides.
    assert (np.diff(log_p[:5], axis=0) < 0).all()
    assert (log_p[5] < log_p[1]).all()
    assert np.isneginf(log_p[6]).all() or (log_p[6] < log_p[4]).all()


def test_integer_far_outside_range_scores_very_low_and_imputes():
    X = _people()
    X.loc[:29, "income"] = np.nan
    rows = pd.DataFrame({"age": [50, 5000, 1_000_000], "income": [np.nan] * 3, "city": ["a"] * 3})
    vae = VAETransformer(1, **TWO_EPOCHS).fit(X)
    scores = vae.score_samples(rows)
    assert not np.isnan(scores).any()
    assert scores[0] > scores[1] > scores[2]
    imputed = VAEImputer(max_iter=2, random_state=0).fit(X).transform(rows)
    assert np.isfinite(imputed["income"]).all()


def test_non_finite_output_advice_fits_a_table():
    with pytest.raises(ValueError, match="outside the range of the training data") as info:
        check_finite_output(np.array([np.nan]), "score_samples", table=True)
    assert "Standardise" not in str(info.value)
    with pytest.raises(ValueError, match="Standardise X"):
        check_finite_output(np.array([np.nan]), "score_samples")


# -------------------------------------------------------------- tiny values


def test_decimals_are_relative_to_the_values():
    assert decimals_of(np.array([0.5, 0.25, 3.0])) == 2
    assert decimals_of(np.array([1.5e-10, -2.25e-10])) is None
    assert decimals_of(np.array([0.0, 1.0])) == 0


def test_tiny_continuous_column_is_not_rounded_to_zero():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=200) * 1e-10, "c": rng.choice(["a", "b"], 200)})
    vae = VAETransformer(1, **TWO_EPOCHS).fit(X)
    sampled = vae.sample(8, random_state=0)["x"].to_numpy()
    assert (sampled != 0).all()
    assert np.abs(sampled).max() < 1e-8
    decoded = vae.inverse_transform(vae.transform(X.iloc[:8]))["x"].to_numpy()
    assert (decoded != 0).all()
    imputed = VAEImputer(max_iter=2, random_state=0).fit(X.assign(x=X["x"].mask(X.index < 10)))
    filled = imputed.transform(X.assign(x=X["x"].mask(X.index < 10)))["x"].to_numpy()
    assert (filled[:10] != 0).all()
    # A round trip through the table's own encoding keeps every value.
    table = TableEncoder().fit(X)
    np.testing.assert_allclose(table.decode(table.encode(X))["x"], X["x"], rtol=1e-9)


# ------------------------------------------------ a column entirely missing


def _holed():
    X = _two_columns()
    X.loc[:19, "x"] = np.nan
    X.loc[20:39, "c"] = None
    return X


def test_imputer_fills_a_chunk_whose_column_is_all_missing():
    X = _holed()
    imputer = VAEImputer(max_iter=2, random_state=0).fit(X)
    chunk = pd.read_csv(io.StringIO("x,c\n0.3,\n0.1,\n"))
    out = imputer.transform(chunk)
    assert out["c"].dtype == X["c"].dtype
    assert out["c"].isin(["a", "b"]).all()
    np.testing.assert_array_equal(out["x"], [0.3, 0.1])
    row = imputer.transform(pd.DataFrame([{"x": None, "c": "a"}]))
    assert row["x"].dtype == X["x"].dtype
    assert np.isfinite(row["x"]).all()
    assert row["c"].tolist() == ["a"]


@pytest.mark.parametrize("cls", TABLE_MODELS)
def test_all_missing_column_reads_as_holes(cls):
    X = _holed()
    model = cls(1, **TWO_EPOCHS).fit(X)
    # The same holes, with the fitted dtypes.
    typed = pd.DataFrame({"x": [np.nan], "c": pd.Series(["a"], dtype=X["c"].dtype)})
    guessed = pd.DataFrame([{"x": None, "c": "a"}])
    assert guessed["x"].dtype == object
    np.testing.assert_array_equal(model.transform(guessed), model.transform(typed))
    np.testing.assert_array_equal(model.score_samples(guessed), model.score_samples(typed))
    chunk = pd.read_csv(io.StringIO("x,c\n0.3,\n0.1,\n"))
    assert chunk["c"].dtype == np.float64
    assert np.isfinite(model.score_samples(chunk)).all()


def test_a_column_of_another_dtype_is_still_refused():
    X = _holed()
    model = VAETransformer(1, **TWO_EPOCHS).fit(X)
    with pytest.raises(ValueError, match="Column 'c' has dtype"):
        model.transform(pd.DataFrame({"x": [0.1], "c": [1.5]}))


# ------------------------------------------------ a numeric constant column


def _with_constant():
    return _two_columns().assign(z=0.0)[["x", "z", "c"]]


@pytest.mark.parametrize("cls", TABLE_MODELS)
def test_constant_numeric_column_is_a_point_mass(cls):
    X = _with_constant()
    model = cls(1, **TWO_EPOCHS).fit(X)
    rows = X.iloc[:2].assign(z=[0.0, 1.0])
    scores = model.score_samples(rows)
    assert np.isfinite(scores[0])
    assert scores[1] == -np.inf
    errors = model.reconstruction_errors(rows)
    assert np.isnan(errors[0, 1])
    assert errors[1, 1] == np.inf
    # transform reads the modelled columns; the constant one is not among them.
    np.testing.assert_array_equal(model.transform(rows)[1], model.transform(X.iloc[1:2])[0])


def test_constant_numeric_departure_is_flagged_like_the_float_path():
    X = _with_constant()
    rows = X.iloc[:2].assign(z=[0.0, 1.0])
    # The float-matrix path sees the departure as a far value.
    plain = VAETransformer(1, **TWO_EPOCHS).fit(X[["x", "z"]])
    plain_scores = plain.score_samples(rows[["x", "z"]])
    assert plain_scores[1] < plain_scores[0]
    table_scores = VAETransformer(1, **TWO_EPOCHS).fit(X).score_samples(rows)
    assert table_scores[1] < table_scores[0]


def test_table_encoder_reports_constant_departures():
    X = _with_constant()
    rows = X.iloc[:3].assign(z=[0.0, 1.0, np.nan])
    with pytest.raises(ValueError, match=r"single value 0.0 in fit.*\[1.0\]"):
        TableEncoder().fit(X).encode(rows)
    table = TableEncoder(handle_unknown="ignore").fit(X)
    encoded = table.encode(rows)
    np.testing.assert_array_equal(encoded, table.encode(X.iloc[:3]))
    unknown, departures = table.unseen_entries(rows)
    assert not unknown.any()
    np.testing.assert_array_equal(departures[:, 1], [False, True, False])


# ------------------------------------------------------- declared categories


def test_partial_fit_keeps_declared_categories():
    rng = np.random.default_rng(0)
    cats = ["north", "south", "east"]
    first = pd.DataFrame(
        {"x": rng.normal(size=100), "region": pd.Categorical(["north"] * 100, categories=cats)}
    )
    second = first.assign(region=pd.Categorical(rng.choice(cats, 100), categories=cats))
    for column_types in (None, {"region": "categorical"}):
        vae = VAETransformer(1, column_types=column_types, **TWO_EPOCHS)
        vae.partial_fit(first).partial_fit(second)
        assert vae.sample(50, random_state=0)["region"].dtype == first["region"].dtype
        assert np.isfinite(vae.score_samples(second)).all()


def test_column_declared_categorical_with_one_level_is_modelled():
    X = pd.DataFrame({"x": np.arange(10.0), "k": ["a"] * 10})
    assert "k" not in TableEncoder().fit(X).model_columns()
    assert "k" in TableEncoder({"k": "categorical"}).fit(X).model_columns()


# ---------------------------------------------------------------- smaller


@pytest.mark.parametrize("cls", TABLE_MODELS)
def test_duplicate_column_names_are_refused(cls):
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(20, 2)), columns=["a", "a"]).assign(c=["u", "v"] * 10)
    with pytest.raises(ValueError, match="unique column names.*'a'"):
        cls(1, **TWO_EPOCHS).fit(X)
    # The float path refuses them too.
    with pytest.raises(ValueError, match="unique column names"):
        cls(1, **TWO_EPOCHS).fit(X[["a"]])


@pytest.mark.parametrize("dtype", ["Int64", "boolean"])
def test_nullable_column_with_pd_na_reads_as_floats(dtype):
    rng = np.random.default_rng(0)
    values = [1, 0, None] * 10 if dtype == "Int64" else [True, False, None] * 10
    X = pd.DataFrame({"a": rng.normal(size=30), "n": pd.array(values, dtype=dtype)})
    as_floats = X.astype({"n": np.float64})
    model = VAETransformer(1, **TWO_EPOCHS).fit(X)
    assert model.column_types_ is None
    reference = VAETransformer(1, **TWO_EPOCHS).fit(as_floats)
    np.testing.assert_array_equal(model.transform(X), reference.transform(as_floats))


@pytest.mark.parametrize("storage", ["python", "pyarrow"])
def test_string_dtype_survives_persistence(storage):
    pytest.importorskip("pyarrow")
    dtype = pd.StringDtype(storage)
    X = _two_columns().astype({"c": dtype})
    vae = VAETransformer(1, **TWO_EPOCHS).fit(X)
    loaded = [pickle.loads(pickle.dumps(vae))]
    sio = pytest.importorskip("skops.io")
    dumped = sio.dumps(vae)
    loaded.append(sio.loads(dumped, trusted=sio.get_untrusted_types(data=dumped)))
    for model in loaded:
        assert model.sample(3, random_state=0)["c"].dtype == dtype
        pd.testing.assert_frame_equal(
            model.sample(3, random_state=0), vae.sample(3, random_state=0)
        )


# ---------------------------------------------------------- handle_unknown


def _unseen_rows(X):
    rows = X.iloc[:3].copy()
    rows["c"] = ["a", "zzz", "b"]
    return rows


@pytest.mark.parametrize("cls", TABLE_MODELS)
def test_unknown_category_is_refused_by_default(cls):
    X = _two_columns()
    model = cls(1, **TWO_EPOCHS).fit(X)
    for method in (model.transform, model.score_samples, model.reconstruction_errors):
        with pytest.raises(ValueError, match=r"unknown categories \['zzz'\].*handle_unknown"):
            method(_unseen_rows(X))


@pytest.mark.parametrize("cls", TABLE_MODELS)
def test_unknown_category_ignored_scores_as_very_unlikely(cls):
    X = _two_columns()
    model = cls(1, handle_unknown="ignore", **TWO_EPOCHS).fit(X)
    rows = _unseen_rows(X)
    as_missing = rows.assign(c=["a", None, "b"])
    # The encoder reads the unseen level as missing.
    np.testing.assert_array_equal(model.transform(rows), model.transform(as_missing))
    scores, missing_scores = model.score_samples(rows), model.score_samples(as_missing)
    np.testing.assert_array_equal(scores[[0, 2]], missing_scores[[0, 2]])
    if cls is VAETransformer:
        # One category of probability PROBABILITY_FLOOR.
        np.testing.assert_allclose(scores[1], missing_scores[1] + LOG_FLOOR, rtol=1e-12)
    else:
        # The mean error over both columns, one of them -log PROBABILITY_FLOOR.
        np.testing.assert_allclose(scores[1], (missing_scores[1] + LOG_FLOOR) / 2, rtol=1e-12)
    assert scores[1] < min(scores[0], scores[2])
    errors = model.reconstruction_errors(rows)
    assert errors[1, 1] == pytest.approx(-LOG_FLOOR)
    np.testing.assert_array_equal(errors[[0, 2]], model.reconstruction_errors(rows.iloc[[0, 2]]))
    # The choice travels with the model.
    loaded = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(loaded.score_samples(rows), scores)


def test_unknown_category_ignored_by_the_conditional_vae():
    X = _two_columns()
    y = np.arange(len(X)) % 2
    model = ConditionalVAETransformer(1, handle_unknown="ignore", **TWO_EPOCHS).fit(X, y)
    rows = _unseen_rows(X)
    scores = model.score_samples(rows)
    missing = model.score_samples(rows.assign(c=["a", None, "b"]))
    np.testing.assert_allclose(scores[1], missing[1] + LOG_FLOOR, rtol=1e-12)
    with pytest.raises(ValueError, match="unknown categories"):
        model.set_params(handle_unknown="error").score_samples(rows)


def test_unknown_category_in_cross_validation():
    from sklearn.model_selection import KFold, cross_val_score

    X = _two_columns(60)
    X.loc[:4, "c"] = "rare"
    folds = KFold(3, shuffle=False)
    with pytest.raises(ValueError):
        cross_val_score(VAETransformer(1, **TWO_EPOCHS), X, cv=folds, error_score="raise")
    scores = cross_val_score(
        VAETransformer(1, handle_unknown="ignore", **TWO_EPOCHS), X, cv=folds, error_score="raise"
    )
    assert np.isfinite(scores).all()


def test_imputer_keeps_an_unknown_category_as_given():
    X = _holed()
    rows = pd.DataFrame({"x": [np.nan, 0.5], "c": ["zzz", None]})
    out = VAEImputer(max_iter=2, random_state=0).fit(X).transform(rows)
    assert out["c"].tolist()[0] == "zzz"
    assert out["c"].iloc[1] in ("a", "b")
    assert np.isfinite(out["x"]).all()
    with pytest.raises(ValueError, match="unknown categories"):
        VAEImputer(max_iter=2, random_state=0, handle_unknown="error").fit(X).transform(rows)


def test_table_encoder_handle_unknown():
    X = _two_columns()
    with pytest.raises(ValueError, match="handle_unknown must be one of"):
        TableEncoder(handle_unknown="skip").fit(X)
    table = TableEncoder(handle_unknown="ignore").fit(X)
    rows = _unseen_rows(X)
    encoded = table.encode(rows)
    assert np.isnan(encoded[1, 1:]).all()
    unknown, departures = table.unseen_entries(rows)
    np.testing.assert_array_equal(unknown, [[False, False], [False, True], [False, False]])
    assert not departures.any()
    with pytest.raises(ValueError, match="unknown categories"):
        table.encode(rows, handle_unknown="error")
