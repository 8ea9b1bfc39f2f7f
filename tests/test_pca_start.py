"""The PCA start (``init="pca"``): principal axes, the rows they weigh, and edge cases."""

import numpy as np
import pytest
import sklearn
from sklearn.decomposition import PCA

from skaevae import AutoencoderTransformer, VAETransformer
from skaevae.models import _pca_start as _base
from skaevae.train import _data
from skaevae.train._data import split_rows
from skaevae.utils._pca import WIDE, leading_axes, principal_axes
from skaevae.utils._validation import draw_seed


@pytest.mark.parametrize("shape", [(30, 80), (200, 10)], ids=["wide", "tall"])
def test_principal_axes_match_pca(shape):
    # The covariance path (tall X) and the SVD path (wide X) both give PCA's
    # components and (biased) variances, with weights acting as repeated rows.
    rng = np.random.RandomState(0)
    n, d = shape
    X = rng.normal(size=(n, d)) @ rng.normal(size=(d, d))
    weight = rng.randint(0, 3, size=n).astype(float)
    mean, variances, components = principal_axes(X, weight)
    repeated = np.repeat(X, weight.astype(int), axis=0)
    pca = PCA().fit(repeated)
    # Compare the directions that carry variance: the rank of the centred rows.
    r = min(int((weight > 0).sum()), d) - 1
    signs = np.sign((components[:r] * pca.components_[:r]).sum(axis=1))
    np.testing.assert_allclose(components[:r] * signs[:, None], pca.components_[:r], atol=1e-8)
    biased = pca.explained_variance_[:r] * (len(repeated) - 1) / len(repeated)
    np.testing.assert_allclose(variances[:r], biased, rtol=1e-8)
    np.testing.assert_allclose(mean, pca.mean_)


def test_leading_axes_of_a_wide_matrix_match_the_full_decomposition():
    # Past WIDE features only the leading eigenpairs are computed; they and
    # the variance left around them are those of the full decomposition.
    rng = np.random.RandomState(0)
    d, k = WIDE + 44, 12
    X = rng.normal(size=(600, d)) * np.linspace(3.0, 0.5, d)
    weight = rng.uniform(0.5, 2.0, size=600)
    mean, variances, components, residual = leading_axes(X, weight, k)
    full_mean, full_variances, full_components = principal_axes(X, weight)
    assert components.shape == (k, d)
    np.testing.assert_allclose(mean, full_mean)
    np.testing.assert_allclose(variances, full_variances[:k], rtol=1e-10)
    np.testing.assert_allclose(components, full_components[:k], atol=1e-8)
    full_residual = (full_components[k:] ** 2 * full_variances[k:, None]).sum(axis=0)
    np.testing.assert_allclose(residual, full_residual, rtol=1e-8)


def test_pca_init_with_more_components_than_rows():
    X = np.random.RandomState(0).normal(size=(5, 12))
    for cls in (AutoencoderTransformer, VAETransformer):
        model = cls(n_components=8, init="pca", max_iter=2, random_state=0).fit(X)
        assert np.isfinite(model.transform(X)).all()


@pytest.mark.parametrize("cls", [AutoencoderTransformer, VAETransformer])
@pytest.mark.parametrize("weighted", [False, True])
def test_pca_init_with_early_stopping_weighs_only_the_training_rows(cls, weighted, monkeypatch):
    # The validation rows are held out of the PCA start as well (weight 0,
    # so X is not copied), so the validation loss that early stopping
    # watches is of rows the model has not seen in any way.
    seen, split = [], []
    real_leading_axes = _base.leading_axes

    def spy_pca(X, sample_weight=None, *args, **kwargs):
        seen.append((X, None if sample_weight is None else sample_weight.copy()))
        return real_leading_axes(X, sample_weight, *args, **kwargs)

    random_split = _data.RandomSplit.__call__

    def spy_split(self, dataset, y=None, **kwargs):
        train, valid = random_split(self, dataset, y, **kwargs)
        split.append((train, valid))
        return train, valid

    monkeypatch.setattr(_base, "leading_axes", spy_pca)
    monkeypatch.setattr(_data.RandomSplit, "__call__", spy_split)
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 5))  # distinct first columns identify the rows
    weight = rng.uniform(0.5, 2.0, size=60) if weighted else None
    cls(
        n_components=2,
        init="pca",
        early_stopping=True,
        validation_fraction=0.2,
        max_iter=2,
        random_state=0,
    ).fit(X, sample_weight=weight)
    ((pca_X, pca_weight),) = seen
    train, valid = split[0]
    train, valid = train.batch, valid.batch
    assert pca_X is X and len(train.x) == 48 and len(valid.x) == 12

    def rows_of(x):  # the rows of X in a split, in the split's order
        first = X[:, 0].astype(np.float32)
        return np.array([np.flatnonzero(first == v)[0] for v in x[:, 0].numpy()])

    # PCA weighs exactly the rows skorch trains on, with their weights.
    rows = rows_of(train.x)
    np.testing.assert_array_equal(np.flatnonzero(pca_weight > 0), np.sort(rows))
    assert (pca_weight[rows_of(valid.x)] == 0).all()
    if weighted:
        ratio = pca_weight[rows] / weight[rows]  # the fit's weights, scaled by one constant
        np.testing.assert_allclose(ratio, ratio[0], rtol=1e-12)
        np.testing.assert_allclose(train.weight.numpy() / weight[rows], ratio[0], rtol=1e-6)


@pytest.mark.parametrize("cls", [AutoencoderTransformer, VAETransformer])
def test_pca_init_with_early_stopping_and_all_weight_on_validation_rows(cls):
    # Training rows without weight: the PCA start falls back to all rows.
    X = np.random.RandomState(0).normal(size=(10, 4))
    weight = np.zeros(10)
    weight[split_rows(10, 0.1, draw_seed(0))[1].numpy()] = 1.0
    model = cls(n_components=2, init="pca", early_stopping=True, max_iter=2, random_state=0).fit(
        X, sample_weight=weight
    )
    assert np.isfinite(model.transform(X)).all()


def test_inf_under_assume_finite_with_pca_init_is_an_error_naming_it(fast_estimator, small_X):
    # The PCA start meets an unchecked infinity before training does:
    # sklearn's words, not eigh's LinAlgError (float64 X is still checked for
    # float32 overflow). NaN is a missing entry, which the PCA start fills.
    X = small_X.copy()
    X[3, 1] = np.inf
    message = "infinity or a value too large"
    with sklearn.config_context(assume_finite=True):
        with pytest.raises(ValueError, match=message):
            fast_estimator.set_params(init="pca").fit(X)
