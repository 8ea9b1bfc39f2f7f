"""Weighted PCA by one pass over the rows: the PCA start and the detector's screen."""

import numpy as np

from ._memory import chunk_rows


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
        scaled = (X - mean) * np.sqrt(weight)[:, None]
        _, singular_values, components = np.linalg.svd(scaled, full_matrices=False)
        variances = singular_values**2
    else:
        covariance = np.zeros((n_features, n_features))
        for start in range(0, n_samples, chunk_size):
            centred = X[start : start + chunk_size] - mean
            covariance += (centred * weight[start : start + chunk_size, None]).T @ centred
        variances, vectors = np.linalg.eigh(covariance)
        order = np.argsort(variances)[::-1]
        variances, components = np.maximum(variances[order], 0.0), vectors[:, order].T
    largest = components[np.arange(len(components)), np.abs(components).argmax(axis=1)]
    signs = np.where(largest < 0, -1.0, 1.0)
    return mean, variances, components * signs[:, None]
