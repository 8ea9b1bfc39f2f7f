"""Tests of the outlier detector's score statistics, against numpy and scipy baselines."""

import numpy as np
import pytest
from scipy.spatial.distance import mahalanobis
from sklearn.decomposition import PCA

from skaevae.outlier._scores import (
    SCORE_BLOCK_SIZE,
    blockwise,
    column_variance,
    feature_attributions,
    fit_term_statistics,
    latent_statistics,
    mahalanobis_squared,
    normalised_terms,
    reconstruct,
    weighted_median,
)


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    return rng.normal(size=(201, 5)) @ rng.normal(size=(5, 5))


@pytest.mark.parametrize("n_samples", [1, SCORE_BLOCK_SIZE, SCORE_BLOCK_SIZE + 1, 1100])
def test_blockwise_calls_fn_on_full_blocks_only(n_samples):
    X = np.arange(n_samples * 2, dtype=float).reshape(n_samples, 2) + 1.0
    seen = []

    def fn(block):
        seen.append(block)
        return block.sum(axis=1), block

    sums, rows = blockwise(fn, X)
    assert all(block.shape == (SCORE_BLOCK_SIZE, 2) for block in seen)
    # The padding is zeros, never a copy of a row.
    assert not np.concatenate(seen)[n_samples:].any()
    np.testing.assert_array_equal(sums, X.sum(axis=1))
    np.testing.assert_array_equal(rows, X)


def test_latent_statistics_are_the_code_mean_and_precision(data):
    mean, precision = latent_statistics(data)
    np.testing.assert_allclose(mean, data.mean(axis=0))
    np.testing.assert_allclose(precision, np.linalg.inv(np.cov(data.T, bias=True)), rtol=1e-8)
    # Integer weights act as repeated rows.
    weight = np.r_[np.full(100, 2.0), np.ones(101)]
    repeated = np.concatenate([data[:100], data])
    weighted_mean, weighted_precision = latent_statistics(data, weight)
    np.testing.assert_allclose(weighted_mean, repeated.mean(axis=0))
    expected = np.linalg.inv(np.cov(repeated.T, bias=True))
    np.testing.assert_allclose(weighted_precision, expected, rtol=1e-8)


def test_mahalanobis_squared_matches_scipy_and_depends_on_the_row_alone(data):
    mean, precision = latent_statistics(data)
    distances = mahalanobis_squared(data, mean, precision)
    expected = [mahalanobis(row, mean, precision) ** 2 for row in data[:10]]
    np.testing.assert_allclose(distances[:10], expected)
    alone = [mahalanobis_squared(data[i : i + 1], mean, precision)[0] for i in range(0, 201, 20)]
    np.testing.assert_array_equal(alone, distances[::20])


def test_weighted_median_is_the_median_of_repeated_values():
    values = np.array([3.0, 1.0, 4.0, 1.5, 9.0])
    assert weighted_median(values) == np.median(values)
    weight = np.array([2.0, 0.0, 1.0, 3.0, 1.0])
    assert weighted_median(values, weight) == np.median(np.repeat(values, weight.astype(int)))


def test_term_statistics_normalise_the_training_rows(data):
    weight = np.r_[np.zeros(100), np.ones(101)]
    pca = PCA(n_components=2).fit(data)
    Z, X_hat = reconstruct(pca, data)
    residual2 = np.square(data - X_hat)
    statistics = fit_term_statistics(residual2, Z, column_variance(data, weight), weight)
    np.testing.assert_allclose(statistics.residual_variance, residual2[100:].mean(axis=0))
    reconstruction, latent = normalised_terms(residual2, Z, statistics)
    # Each term is divided by its median over the (weighted) training rows.
    assert np.median(reconstruction[100:]) == pytest.approx(1.0)
    assert np.median(latent[100:]) == pytest.approx(1.0)
    # The attributions are the reconstruction term, feature by feature.
    attributions = feature_attributions(residual2, statistics)
    np.testing.assert_allclose(attributions.sum(axis=1), reconstruction)
    assert (attributions >= 0).all()


def test_reconstruction_term_of_rows_with_holes_matches_chi2_quantiles():
    # A sum of k unit-mean terms is carried to the scale of d terms by
    # quantile matching: the chi-squared(k) quantiles land close to the
    # chi-squared(d) quantiles, complete rows keep their plain sum, and a
    # row with nothing observed gets a typical value.
    from scipy.stats import chi2

    from skaevae.outlier._scores import _observed_terms

    d, k = 12, 4
    quantiles = np.array([0.1, 0.5, 0.9, 0.99])
    sums = chi2.ppf(quantiles, k)
    residual2 = np.full((len(sums), d), np.nan)
    residual2[:, :k] = sums[:, None] / k  # k equal terms with the given sum
    terms, R = _observed_terms(residual2, np.ones(d))
    np.testing.assert_allclose(R, chi2.ppf(quantiles, d), rtol=0.03)
    np.testing.assert_allclose(terms.sum(axis=1), R)
    complete = np.random.default_rng(0).random((3, d))
    np.testing.assert_allclose(_observed_terms(complete, np.ones(d))[1], complete.sum(axis=1))
    empty = np.full((1, d), np.nan)
    assert abs(_observed_terms(empty, np.ones(d))[1][0] - chi2.median(d)) < 0.05 * d
