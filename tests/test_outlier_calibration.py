"""Tests of OutlierDetector's conformal p-values (``calibration_size`` and ``p_values``)."""

import numpy as np
import pandas as pd
import pytest
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler

from skaevae import OutlierDetector
from tests._testing import adbench_path


@pytest.fixture(scope="module")
def thyroid_normal():
    """The normal rows of ADBench's thyroid, standardised, shuffled: a train and a test half."""
    data = np.load(adbench_path("38_thyroid.npz"))
    X = StandardScaler().fit_transform(data["X"][data["y"] == 0])
    X = X[np.random.default_rng(0).permutation(len(X))]
    half = len(X) // 2
    return X[:half], X[half:]


@pytest.mark.parametrize("alpha", [0.01, 0.05])
def test_false_alarm_rate_of_normal_rows_is_nominal(thyroid_normal, alpha):
    # Fitted on normal rows with 600 of them held out, the share of fresh
    # normal rows with a p-value <= alpha is alpha up to the calibration
    # draw's spread (about sqrt(alpha / 600), under 1 point).
    X_train, X_test = thyroid_normal
    detector = OutlierDetector(calibration_size=600, random_state=0).fit(X_train)
    rate = np.mean(detector.p_values(X_test) <= alpha)
    assert rate == pytest.approx(alpha, abs=0.01)


def test_anomalies_among_the_calibration_rows_make_fewer_alarms(thyroid_normal):
    # Training rows with 5% far-off anomalies: some of them are calibration
    # rows, which raise the p-values of normal rows: fewer alarms than alpha,
    # never more, and fewer than with clean calibration rows.
    X_train, X_test = thyroid_normal
    rng = np.random.default_rng(1)
    anomalies = rng.normal(size=(len(X_train) // 19, X_train.shape[1])) * 4 + 6
    alpha = 0.05
    rates = []
    for X in [X_train, np.vstack([X_train, anomalies])]:
        detector = OutlierDetector(calibration_size=0.4, random_state=0).fit(X)
        rates.append(np.mean(detector.p_values(X_test) <= alpha))
    clean, contaminated = rates
    assert contaminated < clean
    assert contaminated < alpha


def test_p_values_follow_the_scores():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 4))
    detector = OutlierDetector(calibration_size=0.3, random_state=0).fit(X)
    n_calibration = 90
    assert len(detector.calibration_scores_) == n_calibration
    assert np.all(np.diff(detector.calibration_scores_) >= 0)
    # The calibration rows take part in no fit: not one is a support row.
    assert detector.support_.shape == (300,)
    assert detector.support_.sum() == int(np.ceil(0.8 * (300 - n_calibration)))
    p = detector.p_values(X)
    assert np.all((p >= 1 / (n_calibration + 1)) & (p <= 1))
    order = np.argsort(detector.score_samples(X))
    assert np.all(np.diff(p[order]) >= 0)
    far = detector.p_values(np.full((1, 4), 50.0))
    assert far[0] == pytest.approx(1 / (n_calibration + 1))


def test_calibration_rows_are_reproducible():
    X = np.random.RandomState(0).normal(size=(200, 3))

    def fitted(seed):
        return OutlierDetector(calibration_size=50, random_state=seed).fit(X)

    assert np.array_equal(fitted(0).support_, fitted(0).support_)
    assert not np.array_equal(fitted(0).support_, fitted(1).support_)
    np.testing.assert_array_equal(fitted(0).p_values(X), fitted(0).p_values(X))


def test_p_values_need_calibration_rows():
    X = np.random.RandomState(0).normal(size=(100, 3))
    detector = OutlierDetector(PCA(n_components=2)).fit(X)
    assert not hasattr(detector, "p_values")
    with pytest.raises(AttributeError, match="p_values") as error:
        detector.p_values(X)
    assert "calibration_size" in str(error.value.__cause__)


@pytest.mark.parametrize("calibration_size", [99, 0.99])
def test_too_many_calibration_rows_are_refused(calibration_size):
    X = np.random.RandomState(0).normal(size=(100, 3))
    with pytest.raises(ValueError, match="at least 2 must be left for the fit"):
        OutlierDetector(calibration_size=calibration_size).fit(X)


def test_p_values_of_tables_with_holes_and_categories():
    rng = np.random.default_rng(0)
    table = pd.DataFrame(
        {
            "size": rng.normal(size=400),
            "colour": rng.choice(["red", "green", "blue"], 400),
            "weight": rng.normal(size=400),
        }
    )
    table.loc[::9, "weight"] = np.nan
    detector = OutlierDetector(calibration_size=0.25, random_state=0).fit(table)
    p = detector.p_values(table)
    assert p.shape == (400,) and np.isfinite(p).all()
    assert detector.feature_attributions(table.head()).shape == (5, 3)
    # A category never seen is an outlier beyond any score: the smallest p-value.
    odd = table.head(1).assign(colour="purple")
    assert detector.p_values(odd)[0] == pytest.approx(1 / (len(detector.calibration_scores_) + 1))


def test_weighted_fit_with_calibration_rows():
    # The fit rows keep their own weights: weights that double every row
    # give the p-values of the unweighted fit with the weighted screen.
    X = np.random.RandomState(0).normal(size=(300, 3))

    def p_values(weight):
        detector = OutlierDetector(calibration_size=100, random_state=0)
        return detector.fit(X, sample_weight=weight).p_values(X)

    np.testing.assert_allclose(p_values(np.full(300, 2.0)), p_values(np.ones(300)))
