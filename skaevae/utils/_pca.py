"""Weighted PCA by one pass over the rows: the PCA start and the detector's screen."""

import numpy as np
from scipy.linalg import eigh

from ._memory import chunk_rows

# From this many features on, :func:`leading_axes` computes only the leading
# eigenpairs of the covariance when they are at most a quarter of them: a full
# eigendecomposition costs about ``9 d³`` operations, seconds at a thousand
# features, the leading ones a fraction of it.
WIDE = 256


def principal_axes(X, sample_weight=None):
    """Weighted PCA of X: ``mean``, ``variances`` (descending) and unit ``components``.

    With at least as many rows as features, from the eigendecomposition of
    the (weighted, biased) covariance, which costs one pass over X in chunks,
    so a float32 X is never copied whole to float64. With fewer rows than
    features, from the SVD of the weighted, centred rows instead (``n² d``
    rather than ``d³``), which gives ``n_samples`` components: the other
    directions have no variance. Each component's sign makes
    its largest-magnitude entry positive (as :func:`sklearn.utils.extmath.svd_flip`
    does), so the result does not depend on the solver.
    """
    n_samples, n_features = X.shape
    mean, covariance = _mean_and_covariance(X, sample_weight)
    if n_samples < n_features:
        weight = np.ones(n_samples) if sample_weight is None else sample_weight
        scaled = (X - mean) * np.sqrt(weight / weight.sum())[:, None]
        _, singular_values, components = np.linalg.svd(scaled, full_matrices=False)
        variances = singular_values**2
    else:
        variances, vectors = np.linalg.eigh(covariance)
        order = np.argsort(variances)[::-1]
        variances, components = np.maximum(variances[order], 0.0), vectors[:, order].T
    return mean, variances, _signed(components)


def leading_axes(X, sample_weight=None, n_components=1):
    """The ``n_components`` leading axes of :func:`principal_axes`, and the variance left.

    Returns ``mean``, ``variances`` and ``components`` (at most
    ``n_components`` of each) and ``residual``, each feature's variance
    around the rank-``n_components`` reconstruction. On a wide X (more than
    ``WIDE`` features, at least as many rows, and ``n_components`` at most a
    quarter of the features) only the leading eigenpairs are computed, and
    ``residual`` is the covariance's diagonal minus their share; otherwise it
    is the share of the other axes, as :func:`principal_axes` gives them.
    """
    n_samples, n_features = X.shape
    k = n_components
    if n_features > WIDE and n_samples >= n_features and 4 * k <= n_features:
        mean, covariance = _mean_and_covariance(X, sample_weight)
        variances, vectors = eigh(
            covariance, subset_by_index=[n_features - k, n_features - 1], driver="evx"
        )
        variances, components = np.maximum(variances[::-1], 0.0), _signed(vectors[:, ::-1].T)
        residual = np.diag(covariance) - (components**2 * variances[:, None]).sum(axis=0)
        return mean, variances, components, np.maximum(residual, 0.0)
    mean, variances, components = principal_axes(X, sample_weight)
    residual = (components[k:] ** 2 * variances[k:, None]).sum(axis=0)
    return mean, variances[:k], components[:k], residual


def _signed(components):
    """Components whose largest-magnitude entries are positive (as ``svd_flip`` makes them)."""
    largest = components[np.arange(len(components)), np.abs(components).argmax(axis=1)]
    signs = np.where(largest < 0, -1.0, 1.0)
    return components * signs[:, None]


def _mean_and_covariance(X, sample_weight):
    """The weighted mean of X's rows, and their (biased) covariance when ``n ≥ d``, else None."""
    n_samples, n_features = X.shape
    # A chunk's centred float64 copy and its weighted twin stay within
    # scikit-learn's working_memory.
    chunk_size = chunk_rows(16 * n_features, n_samples)
    weight = np.ones(n_samples) if sample_weight is None else sample_weight
    weight = weight / weight.sum()
    mean = np.zeros(n_features)
    for start in range(0, n_samples, chunk_size):
        mean += weight[start : start + chunk_size] @ X[start : start + chunk_size]
    if not np.isfinite(mean).all():
        # Reachable only under scikit-learn's assume_finite=True, which skips
        # the input check: name the cause rather than let eigh fail to converge.
        raise ValueError(
            "Input X contains NaN or infinity (unchecked under scikit-learn's assume_finite=True)."
        )
    if n_samples < n_features:
        return mean, None
    covariance = np.zeros((n_features, n_features))
    for start in range(0, n_samples, chunk_size):
        centred = X[start : start + chunk_size] - mean
        covariance += (centred * weight[start : start + chunk_size, None]).T @ centred
    return mean, covariance
