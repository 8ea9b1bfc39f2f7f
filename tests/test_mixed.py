"""Mixed-type tables: column types, per-column likelihoods, output in the input's schema."""

import copy
import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.compose import make_column_transformer
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skaevae import AutoencoderTransformer, OutlierDetector, VAETransformer
from skaevae.nn._likelihoods import N_MODES, Mixed
from skaevae.utils._layout import ColumnLayout
from tests._testing import tabular_path

ESTIMATORS = [AutoencoderTransformer, VAETransformer]


def _table(n=300, seed=0):
    """A small mixed table whose columns depend on each other."""
    rng = np.random.default_rng(seed)
    group = rng.choice(["a", "b", "c"], size=n, p=[0.5, 0.3, 0.2])
    shift = pd.Series(group).map({"a": -2.0, "b": 0.0, "c": 2.0}).to_numpy()
    return pd.DataFrame(
        {
            "x": shift + rng.normal(scale=0.5, size=n),
            "count": rng.poisson(np.exp(1 + 0.3 * shift)).astype(np.int64),
            "flag": shift + rng.normal(size=n) > 0,
            "group": pd.Categorical(group),
            "label": np.where(rng.random(n) < 0.5, "yes", "no"),
        }
    )


def _fit(cls, X, **params):
    return cls(n_components=2, max_iter=15, random_state=0, **params).fit(X)


@pytest.fixture(scope="module")
def table_model():
    """``_fit(cls, _table())`` for each class, fitted once for the tests that only read it."""
    models = {}

    def get(cls):
        if cls not in models:
            models[cls] = _fit(cls, _table())
        return models[cls]

    return get


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_types_are_inferred_from_dtypes(cls, table_model):
    model = table_model(cls)
    assert model.column_types_ == {
        "x": "continuous",
        "count": "integer",
        "flag": "binary",
        "group": "categorical",
        "label": "categorical",
    }
    assert model.n_features_in_ == 5
    assert list(model.feature_names_in_) == ["x", "count", "flag", "group", "label"]


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_sample_and_inverse_transform_keep_the_schema(cls, table_model):
    X = _table()
    model = table_model(cls)
    for out in (model.sample(200, random_state=0), model.inverse_transform(model.transform(X))):
        assert isinstance(out, pd.DataFrame)
        assert list(out.columns) == list(X.columns)
        assert out.dtypes.to_dict() == X.dtypes.to_dict()
        assert out["group"].cat.categories.tolist() == ["a", "b", "c"]
        assert set(out["label"]) <= {"yes", "no"}
        assert out["count"].between(X["count"].min(), X["count"].max()).all()
    codes = model.transform(X)
    assert codes.shape == (len(X), 2) and codes.dtype == np.float64
    assert list(model.get_feature_names_out()) == [f"{cls.__name__.lower()}{i}" for i in range(2)]


def test_vae_samples_follow_the_categories_and_their_link_to_numbers():
    # The VAE's per-column likelihoods: sampled category frequencies and the
    # category-conditional mean of x match the training data.
    X = _table(n=1000)
    model = VAETransformer(n_components=2, max_iter=60, random_state=0).fit(X)
    synthetic = model.sample(4000, random_state=1)
    real_freq = X["group"].value_counts(normalize=True).sort_index()
    fake_freq = synthetic["group"].value_counts(normalize=True).sort_index()
    assert np.abs(real_freq - fake_freq).max() < 0.06
    fake_means = synthetic.groupby("group", observed=True)["x"].mean()
    assert fake_means["a"] < -1.0 < 1.0 < fake_means["c"]
    # Integer draws are whole numbers with about the training mean.
    assert abs(synthetic["count"].mean() - X["count"].mean()) < 0.5


def test_sampling_is_reproducible_and_leaves_global_rng_alone(table_model):
    model = table_model(VAETransformer)
    torch_state, numpy_state = torch.get_rng_state(), np.random.get_state()
    a = model.sample(50, random_state=3)
    b = model.sample(50, random_state=3)
    pd.testing.assert_frame_equal(a, b)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], numpy_state[1])
    refit = _fit(VAETransformer, _table())
    pd.testing.assert_frame_equal(refit.sample(50, random_state=3), a)


def test_score_samples_is_log_likelihood_in_the_columns_units(table_model):
    # Rescaling a continuous column by c shifts each row's log-density by
    # -log(c); the model is otherwise unchanged (it standardises inside).
    X = _table()
    scaled = X.assign(x=X["x"] * 1000.0)
    a = table_model(VAETransformer).score_samples(X)
    b = _fit(VAETransformer, scaled).score_samples(scaled)
    np.testing.assert_allclose(b, a - np.log(1000.0), atol=1e-3)


def test_mixed_likelihood_matches_torch_distributions():
    # One continuous, one integer in [0, 4] (unit steps), one binary, one
    # categorical column with 3 categories.
    layout = ColumnLayout(1, ((0.0, 4.0, 0.5),), 1, (3,))
    torch.manual_seed(0)
    n_params = 3 * N_MODES * 2 + 1 + 3
    params = torch.randn(6, n_params, dtype=torch.float64)
    bounds = torch.tensor(layout.integer_bounds, dtype=torch.float64)
    px = Mixed(layout, params, bounds)
    x = torch.tensor([[0.3, 2.0, 1.0, 0, 1, 0]] * 3 + [[-1.0, 0.0, 0.0, 0, 0, 1]] * 3).double()
    got = px.column_log_prob(x)
    weights = torch.distributions.Categorical(logits=px.mode_logits)
    comps = torch.distributions.Normal(px.loc, px.log_scale.exp())
    mix = torch.distributions.MixtureSameFamily(weights, comps)
    expected_continuous = mix.log_prob(x[:, :2])[:, 0]
    torch.testing.assert_close(got[:, 0], expected_continuous)
    # Integer: mass of the bin, the lowest bin taking the whole left tail.
    cdf = comps.cdf
    upper = cdf(x[:, 1:2, None].expand(-1, 2, N_MODES) + 0.5)[:, 1]
    lower = cdf(x[:, 1:2, None].expand(-1, 2, N_MODES) - 0.5)[:, 1]
    lower = torch.where(x[:, 1:2] == 0.0, torch.zeros_like(lower), lower)
    probs = torch.softmax(px.mode_logits[:, 1], dim=-1)
    torch.testing.assert_close(got[:, 1], torch.log((probs * (upper - lower)).sum(-1)))
    bern = torch.distributions.Bernoulli(logits=px.binary_logits[:, 0])
    torch.testing.assert_close(got[:, 2], bern.log_prob(x[:, 2]))
    cat = torch.distributions.Categorical(logits=px.category_logits)
    torch.testing.assert_close(got[:, 3], cat.log_prob(x[:, 3:].argmax(-1)))
    # The integer pmf sums to one over the integers seen.
    grid = torch.tensor([[0.0, k, 0, 0, 0, 0] for k in range(5)], dtype=torch.float64)
    one = Mixed(layout, params[:1].expand(5, -1), bounds).column_log_prob(grid)[:, 1]
    torch.testing.assert_close(one.exp().sum(), torch.tensor(1.0, dtype=torch.float64))


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_unseen_category_and_changed_dtype_are_clear_errors(cls, table_model):
    X = _table()
    model = table_model(cls)
    unseen = X.head(3).assign(label=["yes", "maybe", "no"])
    with pytest.raises(ValueError, match="unknown categories \\['maybe'\\] in column 'label'"):
        model.transform(unseen)
    with pytest.raises(ValueError, match="Column 'x' has dtype"):
        model.score_samples(X.head(3).assign(x=["1", "2", "3"]))
    with pytest.raises(ValueError, match="feature names"):
        model.transform(X[["label", "x", "count", "flag", "group"]])


def test_bad_tables_are_refused_in_fit():
    X = _table()
    with pytest.raises(ValueError, match="Column 'x' has no observed value"):
        _fit(VAETransformer, X.assign(x=np.nan))
    with pytest.raises(ValueError, match=r"date or time columns \(when\)"):
        _fit(VAETransformer, X.assign(when=pd.Timestamp("2020-01-01")))
    with pytest.raises(ValueError, match="one of"):
        _fit(VAETransformer, X, column_types={"x": "ordinal"})
    with pytest.raises(ValueError, match="does not have"):
        _fit(VAETransformer, X, column_types={"nope": "integer"})
    with pytest.raises(ValueError, match="init='pca'"):
        _fit(VAETransformer, X, init="pca")


def test_single_valued_column_is_reproduced():
    X = _table().assign(site="north")
    model = _fit(VAETransformer, X)
    out = model.sample(20, random_state=0)
    assert (out["site"] == "north").all() and out["site"].dtype == X["site"].dtype


def test_column_types_declares_numeric_codes_categorical():
    X = _table()
    X["group"] = X["group"].cat.codes.astype(np.int64) + 10
    model = _fit(VAETransformer, X, column_types={"group": "categorical"})
    assert model.column_types_["group"] == "categorical"
    out = model.sample(100, random_state=0)
    assert set(out["group"]) <= {10, 11, 12} and out["group"].dtype == np.int64
    # Arrays: columns are named by position.
    A = np.column_stack([X["x"], X["group"]])
    model = _fit(VAETransformer, A, column_types={1: "categorical"})
    assert set(model.sample(30, random_state=0)[:, 1]) <= {10.0, 11.0, 12.0}


def test_numeric_frames_and_arrays_are_unchanged():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(100, 4)), columns=list("abcd"))
    model = _fit(VAETransformer, X)
    assert model.column_types_ is None
    assert isinstance(model.sample(3, random_state=0), np.ndarray)
    np.testing.assert_array_equal(
        model.transform(X), _fit(VAETransformer, X.to_numpy()).transform(X.to_numpy())
    )


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_clone_pickle_and_grid_search(cls, table_model):
    X = _table()
    model = table_model(cls)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.transform(X), model.transform(X))
    np.testing.assert_array_equal(clone(model).fit(X).score_samples(X), model.score_samples(X))
    search = GridSearchCV(cls(max_iter=5, random_state=0), {"n_components": [1, 2]}, cv=2).fit(X)
    assert search.best_params_["n_components"] in (1, 2)


def test_detector_scores_a_mixed_table_with_one_attribution_per_column():
    X = _table()
    detector = OutlierDetector(random_state=0).fit(X)
    attributions = detector.feature_attributions(X.head(5))
    assert list(attributions.columns) == list(X.columns)
    assert (attributions.to_numpy() >= 0).all()
    assert detector.predict(X).shape == (len(X),)
    # An estimator of ours reads the table itself (per-column errors).
    own = OutlierDetector(AutoencoderTransformer(max_iter=10, random_state=0)).fit(X)
    assert own.feature_attributions(X.head(5)).shape == (5, 5)
    with pytest.raises(ValueError, match="encode them first"):
        OutlierDetector(StandardScaler()).fit(X)


def test_detector_finds_swapped_species_on_penguins():
    # Real data: rows whose species is swapped for another are found, their
    # attribution points at what disagrees, and the result is
    # close to a hand-built one-hot path's (whose standardised one-hot columns
    # weigh a rare level by its rarity, which also flags clean rows of rare
    # levels).
    df = pd.read_csv(tabular_path("penguins.csv")).dropna().reset_index(drop=True)
    rng = np.random.default_rng(0)
    X, y = df.copy(), np.zeros(len(df), dtype=int)
    planted = rng.choice(len(X), 20, replace=False)
    species = np.array(sorted(df["species"].unique()))
    for i in planted:
        X.loc[i, "species"] = rng.choice(species[species != df.loc[i, "species"]])
    y[planted] = 1
    from sklearn.metrics import roc_auc_score

    detector = OutlierDetector(random_state=0).fit(X)
    auc = roc_auc_score(y, -detector.score_samples(X))
    categorical = ["species", "island", "sex"]
    numeric = [c for c in df.columns if c not in categorical]
    one_hot = make_column_transformer(
        (StandardScaler(), numeric), (OneHotEncoder(sparse_output=False), categorical)
    ).fit_transform(X)
    auc_one_hot = roc_auc_score(
        y, -OutlierDetector(random_state=0).fit(one_hot).score_samples(one_hot)
    )
    assert auc > 0.95 and auc >= auc_one_hot - 0.05
    # A swapped row's species and its measurements disagree; the network
    # follows the species it is given and reconstructs that species'
    # measurements, so the blame falls on the species or on the measurements
    # that tell species apart, not on island, sex or year.
    top = detector.feature_attributions(X.iloc[planted]).idxmax(axis=1)
    telling = ["species", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
    assert top.isin(telling).mean() > 0.8


def test_mixed_vae_beats_one_hot_gaussian_on_held_out_likelihood():
    # Held-out log-likelihood per row, nats, numeric columns in their own
    # units: the per-column likelihoods against a Gaussian VAE on the one-hot,
    # standardised encoding. The latter scores 0/1 indicators and integers as
    # densities, which can exceed 1; on tables with many indicators that
    # inflates its figure (docs/benchmarks.rst), so this table has two.
    df = pd.read_csv(tabular_path("Participation.csv"))
    order = np.random.default_rng(0).permutation(len(df))
    train, test = df.iloc[order[:600]], df.iloc[order[600:]]
    mixed = VAETransformer(max_iter=40, random_state=0).fit(train)
    categorical = ["lfp", "foreign"]
    numeric = [c for c in df.columns if c not in categorical]
    encoder = make_column_transformer(
        (StandardScaler(), numeric), (OneHotEncoder(sparse_output=False), categorical)
    ).fit(train)
    gaussian = VAETransformer(max_iter=40, random_state=0).fit(encoder.transform(train))
    jacobian = np.log(encoder.named_transformers_["standardscaler"].scale_).sum()
    one_hot_score = gaussian.score(encoder.transform(test)) - jacobian
    assert mixed.score(test) > one_hot_score


def test_tags_and_a_users_own_scaler_in_front():
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import make_pipeline

    tags = VAETransformer().__sklearn_tags__()
    assert tags.input_tags.categorical and tags.input_tags.string
    X = _table()
    scale_numbers = ColumnTransformer(
        [("scale", StandardScaler(), ["x", "count"])],
        remainder="passthrough",
        verbose_feature_names_out=False,
    ).set_output(transform="pandas")
    pipe = make_pipeline(scale_numbers, VAETransformer(max_iter=5, random_state=0)).fit(X)
    assert pipe[-1].column_types_["x"] == "continuous"
    assert pipe.transform(X).shape == (len(X), 2)


def test_values_come_back_in_the_columns_range_and_precision():
    # Whole-number floats are integer columns (pandas stores an integer column
    # with missing values as floats); continuous columns come back clipped to
    # their training range with the decimals seen in fit.
    X = _table().assign(
        rating=lambda d: d["count"].astype(np.float64),
        price=lambda d: np.round(d["x"] * 10 + 50, 2),
    )
    model = _fit(VAETransformer, X)
    assert model.column_types_["rating"] == "integer"
    assert model.column_types_["price"] == "continuous"
    out = model.sample(500, random_state=0)
    assert out["rating"].dtype == np.float64
    np.testing.assert_array_equal(out["rating"], np.round(out["rating"]))
    np.testing.assert_array_equal(out["price"], np.round(out["price"], 2))
    assert out["price"].between(X["price"].min(), X["price"].max()).all()
    # A declared type wins over the inference.
    declared = _fit(VAETransformer, X, column_types={"rating": "continuous"})
    assert declared.column_types_["rating"] == "continuous"


def test_too_few_rows_and_an_array_after_a_frame(table_model):
    X = _table()
    for rows in (0, 1):
        with pytest.raises(ValueError, match=f"Found array with {rows} sample"):
            _fit(VAETransformer, X.head(rows))
    model = table_model(VAETransformer)
    # An array with the fitted columns in order, as scikit-learn allows (with
    # its warning about feature names).
    with pytest.warns(UserWarning, match="valid feature names"):
        codes = model.transform(X.to_numpy())
    np.testing.assert_allclose(codes, model.transform(X))
    with pytest.raises(ValueError, match="features"), pytest.warns(UserWarning):
        model.transform(X.to_numpy()[:, :3])


def test_detector_with_our_estimator_knows_categories_of_screened_out_rows():
    # A category carried only by rows the screen leaves out is still one the
    # model has seen: those rows are scored, not refused.
    X = _table()
    X["label"] = X["label"].where(X.index >= 3, "rare")
    X.loc[:2, "x"] = 40.0  # extreme: screened out with their rare label
    detector = OutlierDetector(
        AutoencoderTransformer(max_iter=10, random_state=0), support_fraction=0.9
    ).fit(X)
    assert not detector.support_[:3].any()
    scores = detector.score_samples(X)
    assert np.isfinite(scores).all() and scores[:3].max() < np.median(scores)


def test_integer_column_with_a_wide_range_trains():
    # Integers far apart next to their spread in model units (a range of
    # 1e8): the bin of each value keeps its width in float32, so the loss
    # and the scores stay finite.
    rng = np.random.default_rng(0)
    n = 300
    X = pd.DataFrame(
        {
            "big": rng.integers(0, 10**8, n),
            "group": rng.choice(["a", "b", "c"], n),
            "x": rng.normal(size=n),
        }
    )
    vae = VAETransformer(max_iter=20, hidden_layer_sizes=(16,), random_state=0).fit(X)
    assert vae.column_types_["big"] == "integer"
    assert np.isfinite(vae.loss_curve_).all()
    assert np.isfinite(vae.score_samples(X)).all()


def test_a_failed_refit_leaves_the_fitted_model_as_it_was(table_model):
    X = _table()
    # A copy: the failed refit below changes the model's parameters.
    vae = copy.deepcopy(table_model(VAETransformer))
    before = vae.transform(X)
    numeric = pd.DataFrame({"a": np.arange(20.0), "b": np.arange(20.0) ** 2})
    with pytest.raises(ValueError, match="n_components"):
        vae.set_params(n_components=5).fit(numeric)
    # Not half of the new fit's state next to the old network: the old model.
    np.testing.assert_array_equal(vae.transform(X), before)
    assert vae.column_types_ is not None and vae.n_features_in_ == X.shape[1]


def test_no_rows_after_fit_is_an_error(table_model):
    X = _table()
    vae = table_model(VAETransformer)
    detector = OutlierDetector(random_state=0).fit(X)
    for method in (vae.transform, vae.score_samples, detector.predict):
        with pytest.raises(ValueError, match="Found array with 0 sample"):
            method(X.head(0))


def test_detector_passes_a_numeric_frame_to_an_estimator_with_column_types():
    X = _table()[["x", "count"]]
    estimator = AutoencoderTransformer(
        n_components=1, max_iter=3, random_state=0, column_types={"count": "categorical"}
    )
    detector = OutlierDetector(estimator, random_state=0).fit(X)
    assert detector.estimator_.column_types_ == {"x": "continuous", "count": "categorical"}
    assert np.isfinite(detector.score_samples(X)).all()
