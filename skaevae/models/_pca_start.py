"""``init="pca"``: the principal axes a network starts from."""

import numpy as np

from ..train._data import split_rows
from ..utils._pca import leading_axes
from ..utils._validation import has_nan


def pca_initializer(
    X,
    sample_weight,
    *,
    n_components,
    activation,
    fill_values,
    validation_fraction,
    seed,
    early_stopping,
):
    """The function that sets a module from PCA of X (weighted by ``sample_weight``).

    With early stopping, the PCA is of the rows training sees: the validation
    rows of the split ``seed`` makes get weight 0 (no copy of X), unless the
    training rows carry no weight at all. Missing entries take
    ``fill_values``.
    """
    if early_stopping:
        n_samples = len(X)
        weight = np.ones(n_samples) if sample_weight is None else sample_weight.copy()
        weight[split_rows(n_samples, validation_fraction, seed)[1].numpy()] = 0.0
        if weight.sum() > 0:
            sample_weight = weight
    if has_nan(X):
        # PCA of the rows with their holes filled by the column means.
        X = np.where(np.isnan(X), fill_values, X)
    k = n_components
    mean, variances, components, residual = leading_axes(X, sample_weight, k)
    if len(components) < k:
        # Fewer rows than components: the missing directions have no
        # variance, and zero rows give their codes zero weight.
        missing = k - len(components)
        components = np.vstack([components, np.zeros((missing, components.shape[1]))])
        variances = np.concatenate([variances, np.zeros(missing)])
    # Variances below this are rounding noise: float32 resolution of the
    # data's own magnitude (its largest variance, or its mean square where
    # X is constant and every variance is the rounding noise of
    # centring). It stays a normal float32 even for X = 0, so logarithms
    # and divisions stay finite.
    magnitude = max(variances[0], float(np.mean(np.square(mean))))
    float32 = np.finfo(np.float32)
    floor = max(float(float32.eps) * float(magnitude), float(float32.tiny))
    # Residual variance of each feature around the rank-k reconstruction.
    residual = np.maximum(residual, floor)
    # A direction without variance is not whitened (scale 1, not 1 / 0).
    kept = np.where(variances[:k] > floor, variances[:k], 1.0)

    def init_module(module):
        module.init_pca(mean, components[:k], kept, residual, activation)

    return init_module
