"""OutlierDetector on mixed tables: rare levels, values beyond float32, many levels."""

import numpy as np
import pandas as pd
import pytest

from skaevae import AutoencoderTransformer, OutlierDetector
from tests._testing import assert_same_rows

TWO_EPOCHS = {"max_iter": 2, "random_state": 0, "device": "cpu"}


def _regions(n=1200, seed=0):
    rng = np.random.default_rng(seed)
    region = rng.choice(
        ["north", "south", "east", "west", "islands"], n, p=[0.3, 0.3, 0.2, 0.17, 0.03]
    )
    return pd.DataFrame(
        {
            "region": region,
            "age": rng.integers(18, 80, n),
            "income": rng.gamma(3, 10000, n).round(-2),
            "score": rng.normal(size=n),
            "sex": rng.choice(["f", "m"], n),
        }
    )


@pytest.mark.parametrize("holes", [False, True])
def test_rare_level_is_not_flagged_for_its_rarity(holes):
    # A clean table with a level of 3% of the rows: the screen keeps its rows
    # for training, and its rows are flagged at about the overall share, with
    # scores on the scale of the others.
    df = _regions()
    if holes:
        df["score"] = df["score"].mask(np.random.default_rng(1).random(len(df)) < 0.1)
    detector = OutlierDetector(random_state=0).fit(df)
    flagged = detector.predict(df) == -1
    rare = (df["region"] == "islands").to_numpy()
    assert detector.support_[rare].mean() > 0.5
    assert flagged[rare].mean() <= 2 * flagged.mean() + 0.05
    assert flagged.mean() < 0.2
    assert detector.score_samples(df).min() > -1e3


def test_attributions_are_per_column_and_sum_to_the_term():
    df = _regions(600)
    detector = OutlierDetector(random_state=0, method="reconstruction").fit(df)
    attributions = detector.feature_attributions(df)
    assert list(attributions.columns) == list(df.columns)
    np.testing.assert_allclose(attributions.sum(axis=1), -detector.score_samples(df), rtol=1e-9)


def _beyond_float32():
    rng = np.random.default_rng(0)
    train = pd.DataFrame({"x": rng.normal(size=300), "c": rng.choice(list("abc"), 300)})
    test = pd.DataFrame({"x": [0.0, 1e39, np.finfo(float).max, 1e36, -1e38], "c": ["a"] * 5})
    return train, test


@pytest.mark.parametrize(
    "make",
    [
        lambda m: OutlierDetector(AutoencoderTransformer(1, **TWO_EPOCHS), method=m),
        lambda m: OutlierDetector(method=m, random_state=0),
    ],
    ids=["estimator reads the table", "default"],
)
@pytest.mark.parametrize("method", ["combined", "reconstruction", "latent"])
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_mixed_rows_beyond_float32_score_minus_inf(make, method):
    # As on a float matrix: a value beyond float32's reach scores -inf and is
    # an outlier, never NaN, an error or a normal-looking score.
    train, test = _beyond_float32()
    detector = make(method).fit(train)
    scores = detector.score_samples(test)
    assert np.isfinite(scores[0])
    np.testing.assert_array_equal(scores[1:], -np.inf)
    np.testing.assert_array_equal(detector.predict(test)[1:], -1)
    numeric = OutlierDetector(method=method, random_state=0).fit(train[["x"]].to_numpy())
    np.testing.assert_array_equal(numeric.score_samples(test[["x"]].to_numpy())[1:], -np.inf)


def test_many_levels_do_not_widen_the_default_network():
    # A categorical column counts as at most 8 features in the size of the
    # default networks, however many levels it has.
    rng = np.random.default_rng(0)
    n_levels = 400
    codes = np.concatenate([np.arange(n_levels), rng.integers(n_levels, size=200)])
    df = pd.DataFrame({"x": rng.normal(size=len(codes)), "c": np.array([f"l{i}" for i in codes])})
    detector = OutlierDetector(random_state=0).fit(df)
    network = detector.estimator_[-1]
    assert network.n_components == max(1, (1 + 8) // 4)
    assert network.hidden_layer_sizes == (2 * network.n_components,)
    assert detector.predict(df).shape == (len(df),)


def test_unseen_levels_and_departures_are_flagged_row_by_row():
    # The default detector scores a table with a category it never saw, or
    # another value of a numeric column constant in fit, row by row: those
    # rows are outliers; the batch is not refused and the other rows keep
    # their scores.
    df = _regions(600).assign(constant=0.0)
    detector = OutlierDetector(random_state=0).fit(df)
    rows = df.iloc[:4].copy()
    rows.iloc[1, rows.columns.get_loc("region")] = "atlantis"
    rows.iloc[3, rows.columns.get_loc("constant")] = 1.0
    scores = detector.score_samples(rows)
    np.testing.assert_array_equal(np.isneginf(scores), [False, True, False, True])
    assert (detector.predict(rows)[[1, 3]] == -1).all()
    clean = df.iloc[[0, 2]]
    assert_same_rows(scores[[0, 2]], detector.score_samples(clean))


@pytest.mark.parametrize("method", ["reconstruction", "combined"])
def test_a_departure_from_a_constant_column_flags_an_estimator_on_a_table(method):
    # An estimator that reads the table itself gives the changed constant
    # column an infinite error: the row's reconstruction term is infinite.
    df = _regions(400).assign(constant=0.0)
    detector = OutlierDetector(
        AutoencoderTransformer(2, **TWO_EPOCHS), method=method, random_state=0
    ).fit(df)
    rows = df.iloc[:2].assign(constant=[0.0, 1.0])
    scores = detector.score_samples(rows)
    assert np.isfinite(scores[0]) and scores[1] == -np.inf
    np.testing.assert_array_equal(detector.predict(rows), [detector.predict(df.iloc[:1])[0], -1])


def _shifted_level(n=1500, seed=0):
    # A level of 4% of the rows whose numeric columns are all shifted
    # together: its codes lie in a region of the code space that few rows
    # share, although its rows are ordinary for their level.
    rng = np.random.default_rng(seed)
    kind = rng.choice(["common", "other", "rare"], n, p=[0.6, 0.36, 0.04])
    factor = rng.normal(size=n) + 3.0 * (kind == "rare")
    columns = {f"x{j}": factor + 0.3 * rng.normal(size=n) for j in range(6)}
    return pd.DataFrame({"kind": kind, **columns})


def test_rare_level_far_in_code_space_is_not_flagged_for_its_level():
    # The latent term of a row is judged against the rows of its levels:
    # the rare level's rows are flagged at about the overall share (T² alone
    # flags nine in ten of them), while a row far out within its level still
    # is flagged.
    df = _shifted_level()
    detector = OutlierDetector(random_state=0, method="latent").fit(df)
    flagged = detector.predict(df) == -1
    rare = (df["kind"] == "rare").to_numpy()
    assert flagged[rare].mean() <= 2 * flagged.mean() + 0.05
    assert flagged.mean() < 0.2
    far = df.iloc[:1].assign(**{f"x{j}": 8.0 for j in range(6)}, kind="common")
    assert detector.predict(far)[0] == -1


def test_latent_level_factor_is_a_function_of_the_row():
    # The levels' factor is read from each row alone: a row's score does
    # not depend on the rows scored with it.
    df = _shifted_level(600)
    detector = OutlierDetector(random_state=0, method="latent").fit(df)
    scores = detector.score_samples(df)
    np.testing.assert_array_equal(scores[[5, 40]], detector.score_samples(df.iloc[[40, 5]])[::-1])
