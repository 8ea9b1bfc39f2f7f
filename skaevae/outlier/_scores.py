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
# scikit-learn's working_memory. Each call also pays the pipeline's input
# checks, a fixed cost that dominates blocks of a few hundred rows of a
# narrow table; 2048 rows spread it, and pad a small table with rows that a
# small network scores in well under a millisecond.
SCORE_BLOCK_SIZE = 2048

# Relative floor of the per-feature residual variance, so that a feature the
# model reconstructs exactly on the training data (a constant column) gives a
# large but finite term rather than a division by zero.
_RESIDUAL_VARIANCE_FLOOR = 1e-6

# Floors of the residual variance of a mixed table's columns encoded by the
# detector (see table_floor).
TABLE_NUMERIC_FLOOR = 1e-2


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


# Weight of a level's base rate in the probabilities the detector reads from a
# reconstructed indicator block (see table_errors): it keeps every level's
# probability above zero where the reconstruction gives it none.
BASE_RATE_WEIGHT = 0.01

# The detector multiplies the indicator (binary and one-hot) columns of a
# table it encodes by this constant, and its default networks centre them
# without standardising them: every level weighs the same in the model,
# whatever its rarity (see _defaults._scaler). At a smaller weight the
# networks learn little of the categories, and rows whose categories do not
# fit the rest of the row go unnoticed (benchmarks/mixed_outliers.py).
INDICATOR_SCALE = 3.0


def level_rates(X, layout, weight=None):
    """Base rate of each indicator column of an encoded table, NaN for numeric columns.

    ``X`` is a table encoded by :class:`~skaevae.utils._table.TableEncoder`
    (NaN where missing) with its ``layout``. The rate of a binary column is
    that of 1, the rates of a categorical block those of its levels; each
    is smoothed by one pseudo-row spread over the column's values (Laplace),
    so that a level absent from the rows counted keeps a positive rate.
    """
    X = X / INDICATOR_SCALE
    w = np.ones(len(X)) if weight is None else np.asarray(weight, dtype=np.float64)
    # On the scale of row counts, whatever the scale of the weights.
    w = w * (len(X) / w.sum())
    rates = np.full(X.shape[1], np.nan)
    for start, n_levels in _indicator_blocks(layout):
        block = X[:, start : start + n_levels]
        observed = ~np.isnan(block[:, 0])
        counts = np.where(observed[:, None], block, 0.0).T @ w
        n_values = max(n_levels, 2)
        rates[start : start + n_levels] = (counts + 1.0 / n_values) / (w[observed].sum() + 1.0)
    return rates


def _deviance_term(probabilities, observed, rates):
    """Twice how many nats less likely each row's level is than its base rate, at least 0.

    ``probabilities`` ``(n, n_levels)`` are each row's predicted level
    probabilities, ``observed`` ``(n,)`` its level's index and ``rates``
    ``(n_levels,)`` the base rates. The term ``2 max(0, log(p / q))`` of a
    level of rate ``p`` predicted ``q`` is on the scale of a numeric
    column's squared standardised error (twice a log-likelihood ratio). A
    level is anomalous when the row's other columns make it less likely than
    its rate says: rarity alone adds nothing, so the rows of a rare but
    ordinary level score as the others do.
    """
    q = np.take_along_axis(probabilities, observed[:, None], axis=1)[:, 0]
    return 2.0 * np.maximum(np.log(rates[observed]) - np.log(q), 0.0)


def _indicator_blocks(layout):
    """``(start, n_levels)`` of each binary column (one model column) and categorical block."""
    start = layout.n_numeric
    for n_levels in [1] * layout.n_binary + list(layout.categories):
        yield start, n_levels
        start += n_levels


def _level_deviances(X, X_hat, layout, rates):
    """Numeric squared residuals, and each indicator column's levels and deviances.

    Returns ``numeric`` of shape (n_samples, n_numeric) and, per binary or
    categorical column, ``(level, deviance, missing)`` of shape (n_samples,)
    each, a binary column's levels being 0 and 1. See :func:`table_errors`.
    """
    n_numeric = layout.n_numeric
    with np.errstate(over="ignore", invalid="ignore"):
        numeric = np.square(X[:, :n_numeric] - X_hat[:, :n_numeric])
    numeric = np.where(np.isnan(numeric) & ~np.isnan(X[:, :n_numeric]), np.inf, numeric)
    indicators = []
    for start, n_levels in _indicator_blocks(layout):
        block = X[:, start : start + n_levels] / INDICATOR_SCALE
        block_hat = X_hat[:, start : start + n_levels] / INDICATOR_SCALE
        rate = rates[start : start + n_levels]
        missing = np.isnan(block[:, 0])
        finite = np.isfinite(block_hat).all(axis=1)
        if n_levels == 1:
            block = np.column_stack([1.0 - block[:, 0], block[:, 0]])
            block_hat = np.column_stack([1.0 - block_hat[:, 0], block_hat[:, 0]])
            rate = np.array([1.0 - rate[0], rate[0]])
        predicted = np.clip(np.nan_to_num(block_hat), 0.0, 1.0)
        total = predicted.sum(axis=1, keepdims=True)
        predicted = np.where(total > 0, predicted / np.where(total > 0, total, 1.0), rate)
        predicted = (1.0 - BASE_RATE_WEIGHT) * predicted + BASE_RATE_WEIGHT * rate
        level = np.argmax(np.nan_to_num(block), axis=1)
        deviance = np.where(finite, _deviance_term(predicted, level, rate), np.inf)
        indicators.append((level, deviance, missing))
    return numeric, indicators


def table_errors(X, X_hat, layout, rates, offsets=None, weight=None):
    """Each table column's error in an encoded table, and the level offsets.

    ``X`` is a table encoded by :class:`~skaevae.utils._table.TableEncoder`,
    ``X_hat`` its reconstruction. A numeric column's error is its squared
    (standardised) residual. A binary column or categorical block is read as
    predicted probabilities: the reconstruction clipped to [0, 1] (and a
    block normalised to sum 1), mixed with the levels' base ``rates``
    (weight ``BASE_RATE_WEIGHT``); its error is the :func:`_deviance_term`
    of the observed level less the level's offset, at least 0. Squared
    residuals of indicators would score a level of rate ``p`` about
    ``1 / p`` times a typical row, so that the rows of a rare but ordinary
    level all look anomalous.

    A level's offset is its rows' (weighted) mean deviance on the training
    rows: the part of the deviance that every row of the level shares, as
    when the code is too narrow to tell the level from some others. Without
    it a level the model places poorly scores high in all its rows, and the
    screen would leave it out of training altogether. ``offsets=None`` fits
    them on X's rows.

    Returns
    -------
    errors : ndarray of shape (n_samples, layout.n_columns)
        NaN where the entry is missing, inf where it is observed but the
        reconstruction is not finite.

    offsets : list of ndarray
        Each indicator column's offset per level (two for a binary column).
    """
    # In blocks of rows: a block of many levels holds (rows, levels) arrays.
    parts = [
        _level_deviances(
            X[i : i + SCORE_BLOCK_SIZE], X_hat[i : i + SCORE_BLOCK_SIZE], layout, rates
        )
        for i in range(0, len(X), SCORE_BLOCK_SIZE)
    ]
    numeric = np.concatenate([numeric for numeric, _ in parts])
    indicators = [
        tuple(np.concatenate(arrays) for arrays in zip(*column, strict=True))
        for column in zip(*(indicators for _, indicators in parts), strict=True)
    ]
    if offsets is None:
        w = np.ones(len(X)) if weight is None else weight
        offsets = []
        for (_, n_levels), (level, deviance, missing) in zip(
            _indicator_blocks(layout), indicators, strict=True
        ):
            used = ~missing & np.isfinite(deviance)
            size = max(n_levels, 2)
            total = np.bincount(level[used], w[used] * deviance[used], minlength=size)
            count = np.bincount(level[used], w[used], minlength=size)
            offsets.append(np.divide(total, count, out=np.zeros(size), where=count > 0))
    columns = [numeric]
    for (level, deviance, missing), offset in zip(indicators, offsets, strict=True):
        error = np.maximum(deviance - offset[level], 0.0)
        columns.append(np.where(missing, np.nan, error)[:, None])
    return np.concatenate(columns, axis=1), offsets


def table_floor(numeric):
    """Floors of the residual variance of a table's columns, marked ``numeric`` or not.

    A numeric (standardised) column's floor is ``TABLE_NUMERIC_FLOOR``: a
    column that the code carries is reconstructed all but exactly, and a
    smaller floor would make the faint traces the other columns leave in its
    reconstruction (a level's rows shifted by a thousandth) the largest term
    of every row; the latent term covers such a column. A binary or
    categorical column's deviance is on the scale of a squared standardised
    residual already: its floor is 1, so that a column the model predicts
    well is not scaled up. For the same reason the median of ``R``, which
    divides it, is floored at 1 (one squared standardised residual): where
    the model explains nearly every row, a tiny median would make noise the
    whole score.
    """
    return np.where(numeric, TABLE_NUMERIC_FLOOR, 1.0)


def codes_and_table_errors(estimator, X, layout, rates, offsets=None, weight=None):
    """Codes ``Z`` and :func:`table_errors` of the rows of an encoded table X, in float64."""
    Z, X_hat = reconstruct(estimator, X)
    return (Z, *table_errors(X, X_hat, layout, rates, offsets, weight))


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
        # A column the model leaves out (one value in training) has no term:
        # its error is missing, unless a row departs from that value (another
        # number, or an unseen category, has an error). Such a value was never
        # seen in training: the row's term is infinite.
        terms = np.zeros(residual2.shape)
        terms[:, modelled], reconstruction = _observed_terms(
            residual2[:, modelled], residual_variance[modelled]
        )
        departures = ~np.isnan(residual2[:, ~modelled]) & (residual2[:, ~modelled] > 0)
        terms[:, ~modelled] = np.where(departures, np.inf, 0.0)
        return terms, np.where(departures.any(axis=1), np.inf, reconstruction)
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
    # (A row with an infinite sum, scored -inf, has no finite shares.)
    with np.errstate(invalid="ignore"):
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


def fit_term_statistics(residual2, Z, variance, weight=None, floor=None, median_floor=0.0):
    """The statistics of the (weighted) training rows, from their squared residuals and codes.

    ``residual2`` is ``(X - X̂)²`` (or, for a mixed table, the per-column
    errors of :func:`codes_and_errors` or :func:`table_errors`), ``Z`` the
    codes, and ``variance`` each column's variance (or scale), a small
    fraction of which floors the residual variance; ``floor``, when given,
    is each column's floor instead, and ``median_floor`` that of the median
    of ``R`` (see :func:`table_floor`).
    """
    eps = np.finfo(np.float64).eps
    if floor is None:
        floor = np.maximum(np.nan_to_num(_RESIDUAL_VARIANCE_FLOOR * variance), eps)
    residual_variance = np.maximum(observed_average(residual2, weight), floor)
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
        max(weighted_median(reconstruction, weight), median_floor, eps),
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
