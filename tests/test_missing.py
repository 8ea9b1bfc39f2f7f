"""Missing values: training on the observed entries, encoding and scoring with holes, imputing."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.impute import SimpleImputer
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skaevae import AutoencoderTransformer, OutlierDetector, VAEImputer, VAETransformer
from tests._testing import SEEDED_32_UNITS, adbench_path, tabular_path


def _holes(X, p, seed=0):
    mask = np.random.default_rng(seed).random(X.shape) < p
    mask[mask.all(axis=1), 0] = False
    return np.where(mask, np.nan, X), mask


@pytest.fixture(scope="module")
def wine():
    X = StandardScaler().fit_transform(load_wine().data)
    X_missing, mask = _holes(X, 0.2)
    return X, X_missing, mask


def _rmse(X_filled, X, mask):
    return float(np.sqrt(np.mean((X_filled[mask] - X[mask]) ** 2)))


@pytest.mark.parametrize("cls", [AutoencoderTransformer, VAETransformer])
def test_codes_read_the_observed_entries(cls, wine):
    # A row's holes are predicted from its observed entries: the network's
    # reconstruction at the missing entries beats the column means (0 here,
    # the standardised data's mean) on a real table.
    X, X_missing, mask = wine
    model = cls(n_components=4, max_iter=150, n_iter_no_change=150, **SEEDED_32_UNITS).fit(
        X_missing
    )
    assert model._module.entries.missing_input is not None
    codes = model.transform(X_missing)
    assert np.isfinite(codes).all()
    reconstruction = model.inverse_transform(codes)
    assert _rmse(reconstruction, X, mask) < 0.9 * _rmse(np.zeros_like(X), X, mask)


@pytest.mark.parametrize("cls", [AutoencoderTransformer, VAETransformer])
def test_the_loss_ignores_what_is_under_a_hole(cls, wine):
    # The training loss counts observed entries only: changing the values
    # under the mask changes nothing.
    import torch

    from skaevae.nn._batch import Batch

    _, X_missing, mask = wine
    model = cls(max_iter=2, **SEEDED_32_UNITS).fit(X_missing)
    net = model.net_
    net.module_.eval()
    net.criterion_.eval()
    x = torch.from_numpy(np.where(mask, 0.0, X_missing).astype(np.float32))
    other = torch.from_numpy(np.where(mask, 5.0, X_missing).astype(np.float32))
    observed = torch.from_numpy((~mask).astype(np.float32))
    # The encoder reads the filled values, so the code may move with them;
    # the loss given one output must not.
    with torch.no_grad():
        batch = Batch(x, None, observed)
        output = net.module_(batch)
        a = net.criterion_(output, batch)
        b = net.criterion_(output, Batch(other, None, observed))
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, net.criterion_(output, Batch(other, None, None)))


def test_autoencoder_score_is_the_mean_over_observed_entries(wine):
    X, X_missing, _ = wine
    ae = AutoencoderTransformer(n_components=3, max_iter=20, **SEEDED_32_UNITS).fit(X_missing)
    row = X[:1].copy()
    reconstruction = ae.inverse_transform(ae.transform(row))
    errors = (row - reconstruction) ** 2
    np.testing.assert_allclose(ae.score_samples(row), -errors.mean(axis=1), rtol=1e-5)
    assert ae.score_samples(np.full((1, X.shape[1]), np.nan))[0] == 0.0


def test_pca_start_on_data_with_holes(wine):
    _, X_missing, _ = wine
    for cls in (AutoencoderTransformer, VAETransformer):
        model = cls(n_components=3, max_iter=3, init="pca", **SEEDED_32_UNITS).fit(X_missing)
        assert np.isfinite(model.transform(X_missing)).all()


def test_errors_for_missing_data(wine):
    _, X_missing, _ = wine
    X = X_missing.copy()
    X[:, 2] = np.nan
    with pytest.raises(ValueError, match=r"Columns \[2\] of X have no observed value"):
        VAETransformer(max_iter=2, **SEEDED_32_UNITS).fit(X)
    model = VAETransformer(max_iter=2, **SEEDED_32_UNITS).fit(X_missing)
    X = X_missing[:3].copy()
    X[0, 0] = np.inf
    with pytest.raises(ValueError, match="Input X contains infinity"):
        model.transform(X)
    with pytest.raises(ValueError, match="Input contains NaN"):
        model.inverse_transform(np.full((1, 2), np.nan))


def test_mixed_table_with_holes():
    rng = np.random.default_rng(0)
    n = 200
    x = rng.normal(size=n)
    frame = pd.DataFrame(
        {
            "x": x,
            "group": pd.Categorical(np.where(x > 0, "high", "low")),
            "count": pd.array(rng.integers(0, 5, n), dtype="Int64"),
        }
    )
    holes = frame.copy()
    holes.loc[rng.random(n) < 0.2, "x"] = np.nan
    holes.loc[rng.random(n) < 0.2, "group"] = np.nan
    holes.loc[rng.random(n) < 0.2, "count"] = pd.NA
    vae = VAETransformer(max_iter=5, **SEEDED_32_UNITS).fit(holes)
    assert vae.column_types_ == {"x": "continuous", "group": "categorical", "count": "integer"}
    assert np.isfinite(vae.score_samples(holes)).all()
    assert np.isfinite(vae.transform(holes)).all()
    ae = AutoencoderTransformer(max_iter=5, **SEEDED_32_UNITS).fit(holes)
    assert np.isfinite(ae.score_samples(holes)).all()


# ---------------------------------------------------------------- imputer


def test_imputer_beats_the_mean_and_keeps_observed_entries(wine):
    X, X_missing, mask = wine
    imputer = VAEImputer(max_iter=150, random_state=0, device="cpu")
    filled = imputer.fit_transform(X_missing)
    assert not np.isnan(filled).any()
    np.testing.assert_array_equal(filled[~mask], X_missing[~mask])  # bit for bit
    mean = SimpleImputer().fit_transform(X_missing)
    assert _rmse(filled, X, mask) < 0.9 * _rmse(mean, X, mask)
    # Deterministic for a fixed random_state.
    again = VAEImputer(max_iter=150, random_state=0, device="cpu").fit_transform(X_missing)
    np.testing.assert_array_equal(filled, again)


def test_multiple_imputation_draws_spread_around_the_truth():
    X = load_diabetes().data
    X_missing, mask = _holes(X, 0.2, seed=1)
    imputer = VAEImputer(max_iter=100, sample_posterior=True, device="cpu", random_state=0)
    imputer.fit(X_missing)
    draws = np.stack([imputer.set_params(random_state=s).transform(X_missing) for s in range(8)])
    spread = np.ptp(draws, axis=0)
    assert (spread[~mask] == 0).all()
    assert (spread[mask] > 0).mean() > 0.9
    # One draw is noisier than the conditional mean, as a draw should be.
    mean_imputation = VAEImputer(max_iter=100, device="cpu", random_state=0).fit_transform(
        X_missing
    )
    scale = X.std(axis=0)
    error_of_draw = (((draws[0] - X) / scale)[mask] ** 2).mean()
    error_of_mean = (((mean_imputation - X) / scale)[mask] ** 2).mean()
    assert error_of_draw > error_of_mean


def test_imputer_reports_its_training():
    X = load_diabetes().data
    X_missing, _ = _holes(X, 0.2)
    imputer = VAEImputer(max_iter=30, n_iter_no_change=30, device="cpu", random_state=0)
    imputer.fit(X_missing)
    assert imputer.n_iter_ == len(imputer.loss_curve_) == 30
    assert np.isfinite(imputer.loss_curve_).all()
    # The training loss falls: the last epochs sit below the first.
    assert np.mean(imputer.loss_curve_[-5:]) < np.mean(imputer.loss_curve_[:5])


def test_draws_are_calibrated_on_real_data():
    # The range of 19 calibrated draws holds a 20th draw with probability
    # 18/20; on held-out true values it should come near that.
    X = load_breast_cancer().data
    X_missing, mask = _holes(X, 0.2, seed=1)
    imputer = VAEImputer(max_iter=60, sample_posterior=True, device="cpu", random_state=0)
    imputer.fit(X_missing)
    assert imputer.draw_scale_.shape == (X.shape[1],)
    assert ((imputer.draw_scale_ >= 0.5) & (imputer.draw_scale_ <= 2.0)).all()
    draws = np.stack([imputer.set_params(random_state=s).transform(X_missing) for s in range(19)])
    np.testing.assert_array_equal(draws[:, ~mask], np.broadcast_to(X[~mask], draws[:, ~mask].shape))
    inside = ((draws.min(axis=0) <= X) & (X <= draws.max(axis=0)))[mask].mean()
    assert 0.85 < inside < 0.95
    # The conditional mean is not calibrated: a point has no spread.
    assert VAEImputer(max_iter=2, device="cpu").fit(X_missing).draw_scale_ is None


def test_a_regressor_per_column_fills_near_copies_better():
    # Breast cancer: radius, perimeter and area of each cell nucleus are
    # near-copies of one another. Trees on the other columns split on a
    # hidden radius's perimeter exactly; the VAE's bottleneck blurs it, and
    # the blend, weighed on hidden observed entries, beats the VAE alone.
    X = StandardScaler().fit_transform(load_breast_cancer().data)
    X_missing, mask = _holes(X, 0.2, seed=2)
    fit = {"max_iter": 40, "device": "cpu", "random_state": 0}
    alone = VAEImputer(column_estimator=None, **fit).fit(X_missing)
    assert alone.column_estimators_ is None and alone.column_weights_ is None
    blended = VAEImputer(**fit).fit(X_missing)
    filled = blended.transform(X_missing)
    assert _rmse(filled, X, mask) < 0.9 * _rmse(alone.transform(X_missing), X, mask)
    np.testing.assert_array_equal(filled[~mask], X_missing[~mask])
    np.testing.assert_array_equal(filled, VAEImputer(**fit).fit_transform(X_missing))
    weights = blended.column_weights_
    assert weights.shape == (30,) and ((weights >= 0) & (weights <= 1)).all()
    # Where a radius hides, its perimeter speaks for it: the trees weigh more there.
    assert weights[:4].mean() < 0.5
    assert len(blended.column_estimators_) == 30
    assert all(e is not None for e in blended.column_estimators_)


def test_column_estimator_options():
    from sklearn.linear_model import LogisticRegression, Ridge

    X = StandardScaler().fit_transform(load_diabetes().data)
    X_missing, mask = _holes(X, 0.2)
    X_missing[:, 0] = X[:, 0]  # complete in fit: the VAE alone imputes it
    fast = {"max_iter": 5, "n_draws": 4, "device": "cpu", "random_state": 0}
    # A regressor without NaN support reads the other columns filled by the VAE.
    ridge = Ridge()
    imputer = VAEImputer(column_estimator=ridge, **fast).fit(X_missing)
    assert not hasattr(ridge, "coef_")  # cloned, not fitted in place
    assert imputer.column_estimators_[0] is None and imputer.column_weights_[0] == 1
    assert all(isinstance(e, Ridge) for e in imputer.column_estimators_[1:])
    assert imputer.column_weights_[1:].min() < 1  # the regressors carry weight
    later = X.copy()
    later[:10, 0] = np.nan
    later[:10, 5] = np.nan
    filled = imputer.transform(later)
    alone = VAEImputer(column_estimator=None, **fast).fit(X_missing).transform(later)
    # Column 0 had no regressor: the VAE's prediction; column 5 is blended.
    np.testing.assert_array_equal(filled[:10, 0], alone[:10, 0])
    assert not np.allclose(filled[:10, 5], alone[:10, 5])
    # Not a regressor: refused before the VAE trains.
    refused = VAEImputer(column_estimator=LogisticRegression(), **fast)
    with pytest.raises(ValueError, match="column_estimator must be 'auto', None or a scikit-learn"):
        refused.fit(X_missing)
    assert not hasattr(refused, "estimator_")
    from sklearn.utils._param_validation import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="column_estimator"):
        VAEImputer(column_estimator="trees", **fast).fit(X_missing)
    # A regressor whose predictions are not finite is not blended.
    from sklearn.base import BaseEstimator, RegressorMixin

    class NaNRegressor(RegressorMixin, BaseEstimator):
        def fit(self, X, y):
            return self

        def predict(self, X):
            return np.full(len(X), np.nan)

    imputer = VAEImputer(column_estimator=NaNRegressor(), **fast).fit(X_missing)
    assert all(e is None for e in imputer.column_estimators_)
    assert np.isfinite(imputer.transform(X_missing)).all()
    # A mixed table is imputed by the VAE alone.
    frame = pd.DataFrame(
        {"a": X_missing[:, 1], "c": pd.Categorical(np.where(X[:, 2] > 0, "u", "v"))}
    )
    table = VAEImputer(**fast).fit(frame)
    assert table.column_estimators_ is None and table.column_weights_ is None


def test_blended_draws_placeholder_and_empty_column():
    # A column empty in fit shifts the kept columns; another placeholder than
    # NaN; draws spread around the blended mean, and observed entries stay.
    X = StandardScaler().fit_transform(load_diabetes().data)
    X_missing, mask = _holes(X, 0.2)
    placeholder = np.where(mask, -99.0, X)
    placeholder[:, 0] = -99.0
    fast = {"max_iter": 5, "n_draws": 4, "device": "cpu", "random_state": 0}
    with pytest.warns(UserWarning, match="Skipping features"):
        imputer = VAEImputer(missing_values=-99.0, sample_posterior=True, **fast).fit(placeholder)
    assert imputer.column_estimators_[0] is None and imputer.column_weights_[0] == 1
    assert all(e is not None for e in imputer.column_estimators_[1:])
    draws = np.stack([imputer.set_params(random_state=s).transform(placeholder) for s in range(4)])
    assert draws.shape == (4, len(X), 9) and np.isfinite(draws).all()
    holes = mask[:, 1:]
    np.testing.assert_array_equal(
        draws[:, ~holes], np.broadcast_to(X[:, 1:][~holes], (4, (~holes).sum()))
    )
    assert (np.ptp(draws, axis=0)[holes] > 0).mean() > 0.9
    # Refitted without the regressors, the attributes follow.
    imputer.set_params(column_estimator=None, random_state=0)
    with pytest.warns(UserWarning, match="Skipping features"):
        imputer.fit(placeholder)
    assert imputer.column_estimators_ is None and imputer.column_weights_ is None


def _self_masked(X, seed=0):
    """Entries above their column's 70th percentile missing with probability 0.5, others 0.1."""
    rng = np.random.default_rng(seed)
    high = X > np.quantile(X, 0.7, axis=0)
    mask = rng.random(X.shape) < np.where(high, 0.5, 0.1)
    mask[mask.all(axis=1), 0] = False
    return np.where(mask, np.nan, X), mask


def test_self_masking_beats_imputing_at_random_when_high_values_hide():
    X = StandardScaler().fit_transform(load_wine().data)
    X_missing, mask = _self_masked(X)
    fit = {"max_iter": 50, "device": "cpu", "random_state": 0}
    at_random = VAEImputer(**fit).fit_transform(X_missing)
    imputer = VAEImputer(missing_mechanism="self-masking", **fit).fit(X_missing)
    filled = imputer.transform(X_missing)
    np.testing.assert_array_equal(filled[~mask], X_missing[~mask])
    # High values hide: the holes move up, and the error falls.
    assert (imputer.self_masking_shift_ > 0).mean() > 0.8
    assert np.mean(filled[mask] - X[mask]) > np.mean(at_random[mask] - X[mask]) + 0.1
    assert _rmse(filled, X, mask) < 0.95 * _rmse(at_random, X, mask)
    # Holes that do not depend on their values: next to no shift.
    X_mcar, _ = _holes(X, 0.2)
    mcar = VAEImputer(missing_mechanism="self-masking", **fit).fit(X_mcar)
    assert (
        np.abs(mcar.self_masking_shift_).mean() < 0.5 * np.abs(imputer.self_masking_shift_).mean()
    )
    with pytest.raises(ValueError, match="float matrix only"):
        VAEImputer(missing_mechanism="self-masking").fit(
            pd.DataFrame({"a": [1.0, np.nan, 3.0], "b": pd.Categorical(["x", "y", None])})
        )


def test_imputer_parameters():
    X = load_diabetes().data[:150]
    X_missing, mask = _holes(X, 0.2)
    X_missing[:, 3] = np.nan
    fast = {"max_iter": 3, "n_draws": 4, "device": "cpu", "random_state": 0}
    with pytest.warns(UserWarning, match=r"Skipping features without any observed values: \[3\]"):
        out = VAEImputer(**fast).fit_transform(X_missing)
    assert out.shape == (150, 9)
    with pytest.warns(UserWarning, match="filled with 0"):
        kept = VAEImputer(keep_empty_features=True, **fast).fit_transform(X_missing)
    assert kept.shape == (150, 10) and (kept[:, 3] == 0).all()
    # Values a column empty in fit has at transform are kept; its holes get 0.
    with pytest.warns(UserWarning, match="filled with 0"):
        imputer = VAEImputer(keep_empty_features=True, **fast).fit(X_missing)
    later = X.copy()
    later[:5, 3] = np.nan
    out = imputer.transform(later)
    np.testing.assert_array_equal(out[5:, 3], X[5:, 3])
    assert (out[:5, 3] == 0).all()
    # A numpy NaN is a NaN placeholder too.
    assert not np.isnan(
        VAEImputer(missing_values=np.float32("nan"), **fast).fit_transform(X_missing[:, :3])
    ).any()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        imputer = VAEImputer(add_indicator=True, **fast).fit(X_missing)
    out = imputer.transform(X_missing)
    assert out.shape[1] == 9 + imputer.indicator_.features_.size
    np.testing.assert_array_equal(out[:, 9:], np.isnan(X_missing[:, imputer.indicator_.features_]))
    names = imputer.get_feature_names_out()
    assert names[-1].startswith("missingindicator_")
    # Another placeholder than NaN.
    placeholder = np.where(mask, -1.0, X)
    filled = VAEImputer(missing_values=-1.0, **fast).fit_transform(placeholder)
    assert (filled[mask] != -1.0).all()
    np.testing.assert_array_equal(filled[~mask], X[~mask])


def test_imputer_in_pipeline_and_grid_search():
    X, y = load_diabetes(return_X_y=True)
    X_missing, _ = _holes(X, 0.2)
    from sklearn.linear_model import Ridge

    pipe = make_pipeline(VAEImputer(max_iter=3, n_draws=4, device="cpu", random_state=0), Ridge())
    search = GridSearchCV(pipe, {"vaeimputer__n_components": [2, 4]}, cv=2).fit(X_missing, y)
    assert search.best_params_["vaeimputer__n_components"] in (2, 4)


def test_imputer_fills_categories_of_a_real_table():
    # Penguins: species follows from the bill and flipper measurements, so a
    # hole in species is filled far better than by its most frequent value.
    df = pd.read_csv(tabular_path("penguins.csv")).dropna().reset_index(drop=True)
    rng = np.random.default_rng(0)
    holes = df.copy()
    hidden = rng.random(len(df)) < 0.3
    holes.loc[hidden, "species"] = np.nan
    holes.loc[rng.random(len(df)) < 0.1, "bill_length_mm"] = np.nan
    imputer = VAEImputer(max_iter=200, device="cpu", random_state=0)
    filled = imputer.fit_transform(holes)
    assert isinstance(filled, pd.DataFrame) and list(filled.columns) == list(df.columns)
    assert filled.notna().all().all()
    assert set(filled["species"]) <= set(df["species"])
    accuracy = (filled.loc[hidden, "species"] == df.loc[hidden, "species"]).mean()
    majority = (df.loc[hidden, "species"] == df["species"].mode()[0]).mean()
    assert accuracy > 0.85 > majority + 0.3
    observed = holes.notna()
    pd.testing.assert_frame_equal(filled[observed], holes[observed])


# ---------------------------------------------------------------- detector


def test_detector_with_holes_on_real_data():
    data = np.load(adbench_path("6_cardio.npz"))
    X, y = StandardScaler().fit_transform(data["X"]), data["y"]
    complete = roc_auc_score(y, -OutlierDetector(random_state=0).fit(X).score_samples(X))
    X_missing, _ = _holes(X, 0.2)
    detector = OutlierDetector(random_state=0).fit(X_missing)
    with_holes = roc_auc_score(y, -detector.score_samples(X_missing))
    assert with_holes > complete - 0.03
    attributions = detector.feature_attributions(X_missing[:50])
    assert (attributions[np.isnan(X_missing[:50])] == 0).all()


def test_detector_scores_are_fair_across_numbers_of_holes():
    # Inliers with many holes score like inliers with few: the reconstruction
    # term is scaled to the number of observed entries (without the scaling
    # the half of the rows with 60% holes would score about 2x lower).
    X = StandardScaler().fit_transform(load_wine().data)
    X = np.vstack([X, X])
    mask = np.zeros(X.shape, dtype=bool)
    rng = np.random.default_rng(0)
    mask[: len(X) // 2] = rng.random((len(X) // 2, X.shape[1])) < 0.1
    mask[len(X) // 2 :] = rng.random((len(X) - len(X) // 2, X.shape[1])) < 0.6
    mask[mask.all(axis=1), 0] = False
    X_missing = np.where(mask, np.nan, X)
    detector = OutlierDetector(method="reconstruction", random_state=0).fit(X_missing)
    scores = detector.score_samples(X_missing)
    few, many = np.median(scores[: len(X) // 2]), np.median(scores[len(X) // 2 :])
    assert 0.6 < many / few < 1.6


def test_imputer_draws_categories_for_a_mixed_table():
    rng = np.random.default_rng(0)
    n = 200
    x = rng.normal(size=n)
    frame = pd.DataFrame(
        {
            "x": x,
            "group": pd.Categorical(np.where(x > 0, "high", "low")),
            "count": pd.array(rng.integers(0, 5, n), dtype="Int64"),
        }
    )
    holes = frame.copy()
    holes.loc[rng.random(n) < 0.3, "group"] = np.nan
    holes.loc[rng.random(n) < 0.3, "count"] = pd.NA
    imputer = VAEImputer(max_iter=5, n_draws=8, sample_posterior=True, random_state=0)
    draws = [imputer.set_params(random_state=s).fit_transform(holes) for s in range(2)]
    for filled in draws:
        assert filled.dtypes.equals(frame.dtypes)
        assert filled.notna().all().all()
        assert set(filled["group"]) <= {"high", "low"}
        assert set(filled["count"]) <= set(range(5))
        observed = holes.notna()
        pd.testing.assert_frame_equal(filled[observed], holes[observed])


def test_imputer_keeps_nullable_integer_and_boolean_columns():
    rng = np.random.default_rng(0)
    n = 120
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "count": pd.array(rng.integers(0, 5, n), dtype="Int64"),
            "flag": pd.array(rng.random(n) < 0.5, dtype="boolean"),
        }
    )
    holes = frame.copy()
    holes.loc[rng.random(n) < 0.2, "count"] = pd.NA
    holes.loc[rng.random(n) < 0.2, "flag"] = pd.NA
    filled = VAEImputer(max_iter=3, n_draws=4, random_state=0).fit_transform(holes)
    assert filled.dtypes.equals(frame.dtypes)
    assert filled.notna().all().all()
    assert set(filled["count"]) <= set(range(5))
