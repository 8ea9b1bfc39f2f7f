"""Statistics behind the outlier scores: the code distribution and weighted quantiles.

Plain numpy, float64. Weights are optional per-row weights (``None`` weighs
rows equally).
"""

import numpy as np
from scipy.linalg import pinvh


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
