"""Tests of the outlier detector's screen: the choice of the support rows."""

import numpy as np
import pytest

from skaevae.outlier._screen import screen_anomaly, support_rows, support_weight


def test_support_is_the_fraction_of_lowest_anomalies():
    anomaly = np.random.RandomState(0).permutation(10).astype(float)
    support = support_rows(anomaly, 0.5)
    np.testing.assert_array_equal(support, anomaly < 5)
    # A fraction of rows is rounded up, and never below two rows.
    assert support_rows(anomaly, 0.41).sum() == 5
    assert support_rows(anomaly, 0.01).sum() == 2


def test_support_keeps_every_tie_at_the_cut_whatever_the_order():
    anomaly = np.array([0.0, 3.0, 1.0, 1.0, 1.0, 2.0])
    np.testing.assert_array_equal(support_rows(anomaly, 0.5), [1, 0, 1, 1, 1, 0])
    order = np.array([4, 1, 5, 0, 3, 2])
    np.testing.assert_array_equal(
        support_rows(anomaly[order], 0.5), support_rows(anomaly, 0.5)[order]
    )


def test_combined_screen_ranks_by_the_sum_of_the_terms():
    terms = (np.array([1.0, 4.0, 0.5]), np.array([3.0, 0.0, 0.5]))

    def no_scores():
        raise AssertionError("the combined screen needs no scores")

    np.testing.assert_array_equal(screen_anomaly("combined", terms, no_scores), [4.0, 4.0, 1.0])
    scores = np.array([-1.0, -2.0, -3.0])
    for method in ("reconstruction", "latent", "estimator"):
        np.testing.assert_array_equal(screen_anomaly(method, terms, lambda: scores), -scores)


def test_support_weight():
    support = np.array([True, False, True])
    assert support_weight(None, support) is None
    np.testing.assert_array_equal(support_weight(np.array([1.0, 2.0, 3.0]), support), [1.0, 3.0])
    with pytest.raises(ValueError, match="zero on all the support rows"):
        support_weight(np.array([0.0, 1.0, 0.0]), support)
