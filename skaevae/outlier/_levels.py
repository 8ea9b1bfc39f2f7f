"""Per-level calibration of an anomaly term on a mixed table the detector encodes.

A rare level of a categorical column sits in a rare region of the code space
and is learned less well by the default networks, so its rows get larger
terms than the others although they are ordinary for their level. The
detector divides such a term by how large it typically is among the rows that
share the row's levels: a multiplicative effect of each level, fitted on the
logarithm of the term by least squares with a ridge penalty that acts as
``LEVEL_SHRINKAGE`` pseudo-rows of effect 0 per level, so that the effect of a
level of few rows stays close to 1. The effects of several categorical (and
binary) columns add up on the log scale; they are fitted jointly by
backfitting (one column at a time, in a fixed number of sweeps), which never
forms a matrix of levels by levels.

Plain numpy, float64. Every function reads a row's levels from the encoded
table alone, so a row's factor does not depend on the other rows scored.
"""

import numpy as np

from ._scores import INDICATOR_SCALE, _indicator_blocks

# Pseudo-rows of effect 0 that each level's effect is shrunk with: a level of
# n rows keeps about n / (n + LEVEL_SHRINKAGE) of its own effect.
LEVEL_SHRINKAGE = 10.0

# Sweeps of backfitting over the columns. One column's effects are exact
# after one sweep; several columns whose levels overlap converge
# geometrically, and the fixed count keeps the fit deterministic.
LEVEL_SWEEPS = 30

# Values of the term below this fraction of its median are raised to it
# before taking logarithms: the logarithm of a term near 0 is large and
# negative, and a few such rows would otherwise set a level's effect.
LOG_FLOOR = 1e-2


def level_codes(X, layout):
    """Each row's level in each binary column and categorical block of an encoded table.

    Returns an integer array of shape (n_samples, n_columns): the index of
    the row's level (0 or 1 for a binary column), -1 where missing.
    """
    codes = []
    for start, n_levels in _indicator_blocks(layout):
        block = X[:, start : start + n_levels] / INDICATOR_SCALE
        missing = np.isnan(block[:, 0])
        if n_levels == 1:
            level = (np.nan_to_num(block[:, 0]) > 0.5).astype(np.intp)
        else:
            level = np.argmax(np.nan_to_num(block), axis=1)
        codes.append(np.where(missing, -1, level))
    return np.stack(codes, axis=1) if codes else np.zeros((len(X), 0), dtype=np.intp)


def level_sizes(layout):
    """The number of levels of each column of :func:`level_codes` (2 for a binary column)."""
    return [max(n_levels, 2) for _, n_levels in _indicator_blocks(layout)]


def _log_term(term):
    """``log(max(term, LOG_FLOOR · median))`` of the finite values, and their mask."""
    finite = np.isfinite(term)
    floor = LOG_FLOOR * max(float(np.median(term[finite])) if finite.any() else 0.0, 1e-300)
    return np.log(np.maximum(np.where(finite, term, floor), floor)), finite


def fit_level_effects(term, codes, sizes, weight=None):
    """Each level's effect on the logarithm of a non-negative ``term``.

    Parameters
    ----------
    term : ndarray of shape (n_samples,)
        The term of the training rows; rows where it is not finite are left
        out.

    codes : ndarray of shape (n_samples, n_columns)
        :func:`level_codes` of the rows.

    sizes : list of int
        :func:`level_sizes`.

    weight : ndarray of shape (n_samples,) or None
        Row weights; they are scaled to sum to the number of rows with a
        positive weight, so that the shrinkage counts rows.

    Returns
    -------
    effects : list of ndarray
        Per column, the effect of each level on ``log(term)``; a missing
        entry has effect 0.
    """
    y, finite = _log_term(term)
    w = np.ones(len(term)) if weight is None else np.asarray(weight, dtype=np.float64)
    w = np.where(finite, w, 0.0)
    if not w.sum() > 0:
        return [np.zeros(size) for size in sizes]
    w = w * ((w > 0).sum() / w.sum())
    effects = [np.zeros(size) for size in sizes]
    fitted = np.zeros(len(y))
    intercept = np.average(y, weights=w)
    for _ in range(LEVEL_SWEEPS):
        for j, size in enumerate(sizes):
            level = codes[:, j]
            observed = level >= 0
            own = np.where(observed, effects[j][np.maximum(level, 0)], 0.0)
            residual = y - intercept - (fitted - own)
            total = np.bincount(level[observed], (w * residual)[observed], minlength=size)
            count = np.bincount(level[observed], w[observed], minlength=size)
            effects[j] = total / (count + LEVEL_SHRINKAGE)
            fitted = fitted - own + np.where(observed, effects[j][np.maximum(level, 0)], 0.0)
        intercept = np.average(y - fitted, weights=w)
    return effects


def level_factor(codes, effects):
    """Each row's factor ``exp(Σ_columns effect of its level)``, of shape (n_samples,).

    Summed column by column in a fixed order, so a row's factor is a function
    of its levels alone.
    """
    total = np.zeros(len(codes))
    for j, effect in enumerate(effects):
        level = codes[:, j]
        total = total + np.where(level >= 0, effect[np.maximum(level, 0)], 0.0)
    return np.exp(total)
