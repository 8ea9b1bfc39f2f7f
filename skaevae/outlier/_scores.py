"""The outlier detector's scores: inference in fixed blocks, the statistics of the training
rows, the two normalised terms, and their attribution to features.

Plain numpy, float64. Weights are optional per-row weights (``None`` weighs
rows equally). With ``x̂`` the reconstruction of a row ``x`` and ``z`` its
code, the terms are

- reconstruction, ``R(x) = Σ_j (x_j - x̂_j)² / s_j²``, with ``s_j²`` the mean
  squared residual of feature ``j`` on the training rows;
- latent, ``L(x) = (z - μ)ᵀ Σ⁻¹ (z - μ)``, with ``μ`` and ``Σ`` the mean and
  covariance of the training codes;

each divided by its median over the training rows. A missing entry of x
(NaN in the residuals) is left out of ``R``, whose sum over the observed
entries is carried to the scale of a complete row (:func:`_observed_terms`),
so that rows with and without holes are flagged at the same rate.
"""

from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy.linalg import pinvh
from sklearn.pipeline import Pipeline

from ..models._vae import VAETransformer

# Rows per inference call. Every call gets exactly this many rows (the last
# block padded): float32 matrix kernels can pick their code path by the
# number of rows, which changes the last bits of a row's result, so a fixed
# count makes a row's score a function of the row alone, bit for bit. It is a
# correctness constant, not a memory setting, so it does not follow
# scikit-learn's working_memory.
SCORE_BLOCK_SIZE = 512

# Relative floor of the per-feature residual variance, so that a feature the
# model reconstructs exactly on the training data (a constant column) gives a
# large but finite term rather than a division by zero.
_RESIDUAL_VARIANCE_FLOOR = 1e-6


def _pad(block, table):
    """``block`` with rows added up to ``SCORE_BLOCK_SIZE``.

    A float matrix is padded with zeros, so a non-finite row is never
    repeated into the padding (and counted again by an error message). A
    table that the estimator encodes itself is padded with copies of its
    first row: a zero may be no value of a categorical or binary column.
    """
    n_padding = SCORE_BLOCK_SIZE - len(block)
    if isinstance(block, pd.DataFrame):
        return pd.concat([block, block.iloc[np.zeros(n_padding, dtype=np.intp)]])
    if table:
        return np.concatenate([block, np.repeat(block[:1], n_padding, axis=0)])
    padding = np.zeros((n_padding, *block.shape[1:]), dtype=block.dtype)
    return np.concatenate([block, padding])


def blockwise(fn, X, table=False):
    """``fn`` applied to X in blocks of exactly ``SCORE_BLOCK_SIZE`` rows.

    ``fn`` maps a block to a tuple of arrays whose first axis is the rows;
    the tuple of concatenated results, with the padding dropped, is returned.
    X is a float matrix, or, with ``table``, a table (a DataFrame or an
    array) that the estimator encodes itself; a DataFrame is always a table.
    See :func:`_pad` for the padding rows.
    """
    parts = []
    for start in range(0, len(X), SCORE_BLOCK_SIZE):
        if isinstance(X, pd.DataFrame):
            block = X.iloc[start : start + SCORE_BLOCK_SIZE]
        else:
            block = X[start : start + SCORE_BLOCK_SIZE]
        n = len(block)
        if n < SCORE_BLOCK_SIZE:
            block = _pad(block, table)
        parts.append([np.asarray(out)[:n] for out in fn(block)])
    return tuple(np.concatenate(column) for column in zip(*parts, strict=True))


def has_reconstruction(estimator):
    """Whether ``estimator`` has a code and a reconstruction, which the two terms need."""
    return hasattr(estimator, "transform") and hasattr(estimator, "inverse_transform")


def reconstruct(estimator, X):
    """Codes ``Z`` and reconstructions ``X_hat`` of X's rows by a fitted estimator, in float64."""

    def codes_and_reconstructions(block):
        Z = estimator.transform(block)
        return Z, estimator.inverse_transform(Z)

    Z, X_hat = blockwise(codes_and_reconstructions, X)
    return Z.astype(np.float64), X_hat.astype(np.float64)


def is_mixed_model(estimator):
    """Whether ``estimator`` is one of ours fitted on a mixed table (it encodes X itself)."""
    return getattr(estimator, "column_types_", None) is not None


def codes_and_errors(estimator, X):
    """Codes ``Z`` and squared residuals ``E`` of X's rows, in float64.

    For an estimator fitted on a mixed table, ``E`` is its
    ``reconstruction_errors``, one column per column of X: the squared
    standardised error of a numeric column, the cross-entropy (nats) of a
    binary or categorical one. Otherwise ``E = (X - X̂)²``, one column per
    feature.
    """
    if is_mixed_model(estimator):

        def codes_and_column_errors(block):
            return estimator.transform(block), estimator.reconstruction_errors(block)

        Z, E = blockwise(codes_and_column_errors, X, table=True)
        return Z.astype(np.float64), E.astype(np.float64)
    Z, X_hat = reconstruct(estimator, X)
    return Z, np.square(X - X_hat)


def estimator_scores(estimator, X):
    """``estimator.score_samples`` of the rows of X, in float64.

    A :class:`~skaevae.VAETransformer`'s log-likelihood of a row with missing
    entries covers its observed entries only; it is scaled by ``n_columns /
    n_observed``, so that rows with different numbers of holes compare on
    one scale (the log-likelihood per observed entry, times the number of
    columns).
    """
    (scores,) = blockwise(
        lambda block: (estimator.score_samples(block),), X, table=is_mixed_model(estimator)
    )
    scores = scores.astype(np.float64)
    final = estimator[-1] if isinstance(estimator, Pipeline) else estimator
    if isinstance(final, VAETransformer):
        missing = np.asarray(pd.isna(X))
        n_observed = (~missing).sum(axis=1)
        scores = scores * (missing.shape[1] / np.maximum(n_observed, 1))
    return scores


def _observed_terms(residual2, residual_variance):
    """Each entry's standardised squared residual ``(x_j - x̂_j)² / s_j²`` and each row's ``R``.

    A row with missing entries (NaN) sums its ``k`` observed terms, and the
    sum is carried to the scale of ``d`` terms by matching quantiles of
    chi-squared distributions with ``k`` and ``d`` degrees of freedom (the
    Wilson–Hilferty cube-root approximation): each term has mean 1 on the
    training rows, and a sum of fewer terms has heavier tails, which a plain
    ``d / k`` rescaling would pass on as more rows flagged. A row with nothing
    observed gets the value of a typical row, the median. The entries' terms
    are scaled by the same factor as their row, so they still add up to ``R``
    (apart from rows with nothing observed, whose terms are 0).
    """
    modelled = ~np.isnan(residual_variance)
    if not modelled.all():
        # A column the model leaves out (one value in training) has no term.
        terms = np.zeros(residual2.shape)
        terms[:, modelled], reconstruction = _observed_terms(
            residual2[:, modelled], residual_variance[modelled]
        )
        return terms, reconstruction
    missing = np.isnan(residual2)
    terms = np.where(missing, 0.0, residual2) / residual_variance
    observed_sum = terms.sum(axis=1)
    if not missing.any():
        return terms, observed_sum
    d = residual2.shape[1]
    k = (~missing).sum(axis=1)
    a_k, a_d = 2.0 / (9.0 * np.maximum(k, 1)), 2.0 / (9.0 * d)
    z = (np.cbrt(observed_sum / np.maximum(k, 1)) - (1.0 - a_k)) / np.sqrt(a_k)
    z = np.where(k > 0, z, 0.0)
    reconstruction = d * np.maximum(1.0 - a_d + z * np.sqrt(a_d), 0.0) ** 3
    reconstruction = np.where(k == d, observed_sum, reconstruction)
    factor = np.divide(
        reconstruction, observed_sum, out=np.zeros_like(observed_sum), where=observed_sum > 0
    )
    return terms * factor[:, None], reconstruction


def _reconstruction_term(residual2, residual_variance):
    return _observed_terms(residual2, residual_variance)[1]


class TermStatistics(NamedTuple):
    """What the two terms of a row need from the training rows.

    The detector keeps each field as the fitted attribute of the same name
    with a trailing underscore.
    """

    residual_variance: np.ndarray  # s_j², of shape (n_features,)
    latent_mean: np.ndarray  # μ, of shape (n_components,)
    latent_precision: np.ndarray  # Σ⁻¹, of shape (n_components, n_components)
    reconstruction_median: float  # median of R over the training rows
    latent_median: float  # median of L over the training rows


def column_variance(X, weight=None):
    """The (weighted, biased) variance of each column of X, over its observed entries."""
    return observed_average(np.square(X - observed_average(X, weight)), weight)


def fit_term_statistics(residual2, Z, variance, weight=None):
    """The statistics of the (weighted) training rows, from their squared residuals and codes.

    ``residual2`` is ``(X - X̂)²`` (or, for a mixed table, the per-column
    errors of :func:`codes_and_errors`), ``Z`` the codes, and ``variance``
    each column's variance (or scale), a small fraction of which floors the
    residual variance.
    """
    eps = np.finfo(np.float64).eps
    floor = _RESIDUAL_VARIANCE_FLOOR * variance
    residual_variance = np.maximum(
        observed_average(residual2, weight), np.maximum(np.nan_to_num(floor), eps)
    )
    # A column without any error on the training rows is one the model
    # leaves out (a mixed table's column with one value): NaN, no term.
    residual_variance[np.isnan(residual2).all(axis=0)] = np.nan
    latent_mean, latent_precision = latent_statistics(Z, weight)
    reconstruction = _reconstruction_term(residual2, residual_variance)
    latent = mahalanobis_squared(Z, latent_mean, latent_precision)
    return TermStatistics(
        residual_variance,
        latent_mean,
        latent_precision,
        max(weighted_median(reconstruction, weight), eps),
        max(weighted_median(latent, weight), eps),
    )


def normalised_terms(residual2, Z, statistics):
    """``R / median R`` and ``L / median L`` of rows with squared residuals ``residual2``
    and codes ``Z``, each of shape (n_samples,)."""
    reconstruction = _reconstruction_term(residual2, statistics.residual_variance)
    latent = mahalanobis_squared(Z, statistics.latent_mean, statistics.latent_precision)
    return (
        reconstruction / statistics.reconstruction_median,
        latent / statistics.latent_median,
    )


def feature_attributions(residual2, statistics):
    """Each column's share of the normalised reconstruction term, of shape (n_samples, n_columns).

    ``(x_j - x̂_j)² / (s_j² · median R)``: the row sums are ``R / median R``.
    A missing entry is attributed 0, and a row's observed entries are scaled
    to its ``R`` (see :func:`_observed_terms`).
    """
    terms = _observed_terms(residual2, statistics.residual_variance)[0]
    return terms / statistics.reconstruction_median


def observed_average(values, weight=None):
    """The (weighted) mean of each column over its observed (non-NaN) entries."""
    observed = ~np.isnan(values)
    w = np.ones(len(values)) if weight is None else weight
    w = observed * w[:, None]
    total = w.sum(axis=0)
    return (np.where(observed, values, 0.0) * w).sum(axis=0) / np.where(total > 0, total, 1.0)


def latent_statistics(Z, weight=None):
    """Mean and precision (pseudo-inverse covariance) of the codes ``Z``.

    Parameters
    ----------
    Z : ndarray of shape (n_samples, n_components)
        Codes of the training rows.

    weight : ndarray of shape (n_samples,) or None
        Row weights.

    Returns
    -------
    mean : ndarray of shape (n_components,)
    precision : ndarray of shape (n_components, n_components)
        ``pinvh`` of the (weighted, biased) covariance: directions in which the
        codes do not vary get zero weight instead of an infinite one.
    """
    mean = np.average(Z, axis=0, weights=weight)
    centred = Z - mean
    w = np.ones(len(Z)) if weight is None else weight
    covariance = (centred * (w / w.sum())[:, None]).T @ centred
    return mean, pinvh(covariance)


def mahalanobis_squared(Z, mean, precision):
    """``(z - mean)ᵀ precision (z - mean)`` of each row, shape ``(n_samples,)``.

    Computed with element-wise products summed along each row, never a matrix
    product: BLAS and ``einsum`` pick their kernels by the number of rows,
    which changes the last bit of a row's result, and a row's score must not
    depend on the rows that come with it.
    """
    centred = Z - mean
    projected = np.stack([(centred * row).sum(axis=1) for row in precision], axis=1)
    # Never negative in exact arithmetic; clip the rounding error.
    return np.maximum((projected * centred).sum(axis=1), 0.0)


def weighted_median(values, weight=None):
    """The (lower) weighted median of ``values``."""
    if weight is None:
        return float(np.median(values))
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weight[order])
    return float(values[order][np.searchsorted(cumulative, 0.5 * cumulative[-1])])
