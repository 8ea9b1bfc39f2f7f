"""The outlier detector's default networks, and the PCA screen that picks their training rows.

The defaults were chosen once for all data on the ADBench benchmark
(``benchmarks/anomaly_adbench.py``), never per data set.
"""

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import PCA
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.metadata_routing import _routing_enabled

from ..models._autoencoder import AutoencoderTransformer
from ..models._vae import VAETransformer
from ..utils._budget import epochs_for_steps
from ..utils._pca import WIDE, leading_axes
from ..utils._validation import column_means

# A fixed budget of optimiser steps rather than of epochs keeps the cost flat
# in n_samples: 200 steps are 200 epochs of a 200-row table but 2 epochs of
# 50 000 rows.
DEFAULT_N_STEPS = 200
DEFAULT_BATCH_SIZE = 512
DEFAULT_LEARNING_RATE = 3e-3

# The networks that ``OutlierDetector(estimator=...)`` names.
DEFAULT_ESTIMATORS = {"autoencoder": AutoencoderTransformer, "vae": VAETransformer}


# Widest code of the default networks. The network's cost grows with the
# product of the features and the hidden width (twice the code), and the
# latent term's with the square of the code width: capped, a table of a
# thousand features costs a few times one of a hundred, not a hundred times.
MAX_N_COMPONENTS = 32


def default_n_components(n_features):
    """Code width of the default networks: a quarter of the features, from 1 to 32.

    A narrow code leaves room for the reconstruction term to see rows off the
    learned manifold; the latent term covers rows extreme along it.
    """
    return max(1, min(n_features // 4, MAX_N_COMPONENTS))


# Most features a categorical column counts as in the size of the default
# networks: a column of many levels would otherwise widen the code and the
# hidden layer, and so the cost of a fit, with its number of levels.
MAX_LEVEL_FEATURES = 8


def table_n_features(layout):
    """The number of features a mixed table counts as in the size of the default networks.

    A numeric or binary column counts as one feature, a categorical column
    of ``L`` levels as ``min(L - 1, MAX_LEVEL_FEATURES)``: its one-hot block
    has ``L - 1`` degrees of freedom, and the cap keeps the code width and
    the hidden layer, and so the cost of a fit, from growing with the
    number of levels.
    """
    categorical = sum(min(n - 1, MAX_LEVEL_FEATURES) for n in layout.categories)
    return layout.n_numeric + layout.n_binary + categorical


def _scaler(table):
    """The first step of the default pipelines.

    A float matrix is standardised. A mixed table encoded by the detector has
    standardised numeric columns already, and its indicator columns have
    one fixed scale (``INDICATOR_SCALE`` in ``_scores.py``; they are only
    centred here): standardising an indicator
    divides it by ``sqrt(p (1 - p))``, which puts the rows of a level of
    rate ``p`` far from all the others, so that a rare level alone would make
    its rows extreme to PCA and the network.
    """
    return StandardScaler(with_std=not table)


def default_hidden_layer_sizes(n_components):
    """Hidden layer of the default networks: twice the code width.

    With ``init="pca"`` a ReLU layer carries each principal score as the pair
    ``relu(s), relu(-s)``, so ``2 * n_components`` units hold exactly the PCA
    start and no unit keeps random weights: the seed then only orders the
    batches (and, for the VAE, draws its reparameterised codes). A wider
    layer leaves its other units random, and the scores then depend more on
    the seed.
    """
    return (2 * n_components,)


def make_default_network(kind, n_samples, n_features, seed, table=False):
    """The default model ``kind`` ("autoencoder" or "vae") for a table of this shape.

    ``make_pipeline(StandardScaler(), network)``, trained for about
    ``DEFAULT_N_STEPS`` steps of at most ``DEFAULT_BATCH_SIZE`` rows whatever
    ``n_samples``, from the PCA start. A mixed table (``table``) reaches it
    encoded by the detector: standardised numeric columns, one-hot
    categories, which are centred but not scaled (see :func:`_scaler`);
    ``n_features`` is then :func:`table_n_features`.
    """
    cls = DEFAULT_ESTIMATORS[kind]
    batch_size = min(DEFAULT_BATCH_SIZE, n_samples)
    n_epochs = epochs_for_steps(DEFAULT_N_STEPS, n_samples, batch_size)
    n_components = default_n_components(n_features)
    params = {
        "n_components": n_components,
        "hidden_layer_sizes": default_hidden_layer_sizes(n_components),
        "batch_size": batch_size,
        "learning_rate_init": DEFAULT_LEARNING_RATE,
        # Starting from PCA makes the scores far less dependent on the
        # seed than a random start (benchmarks/anomaly_adbench.py).
        "init": "pca",
        # The step budget is the stopping rule: no early stop on a plateau.
        "max_iter": n_epochs,
        "n_iter_no_change": n_epochs,
        "tol": 0.0,
        "random_state": seed,
        # Networks this small gain nothing from a GPU (a step is well
        # under a millisecond), and the CPU keeps scores bit-identical
        # wherever the detector is unpickled.
        "device": "cpu",
    }
    if cls is VAETransformer:
        params["kl_warmup"] = max(1, n_epochs // 4)
    return make_pipeline(_scaler(table), cls(**params))


def make_default_screen(n_samples, n_features, weighted, holes=False, table=False):
    """The screen of the default networks: PCA with their code width, after scaling.

    PCA is deterministic and takes one pass over the data, so the network is
    trained once, on the rows the screen keeps. With ``sample_weight``
    (``weighted``) or missing entries (``holes``) it is :class:`_WeightedPCA`,
    as scikit-learn's PCA takes neither. ``table`` is as in
    :func:`make_default_network`.
    """
    n_components = min(default_n_components(n_features), n_samples)
    # On a wide table, _WeightedPCA computes the leading axes only.
    custom = weighted or holes or n_features > WIDE
    pca = _WeightedPCA(n_components) if custom else PCA(n_components=n_components)
    return make_pipeline(_scaler(table), pca)


def default_fit_params(pipeline, sample_weight):
    """Keyword arguments of a default pipeline's ``fit`` that weigh rows in every step.

    Every step of the default pipelines accepts ``sample_weight``. Without
    metadata routing a pipeline takes it as ``step__sample_weight``; with
    routing enabled it passes ``sample_weight`` to the steps that request it,
    so each of these steps, which the detector built itself, requests it.
    """
    if sample_weight is None:
        return {}
    if _routing_enabled():
        for _, step in pipeline.steps:
            step.set_fit_request(sample_weight=True)
        return {"sample_weight": sample_weight}
    return {f"{name}__sample_weight": sample_weight for name, _ in pipeline.steps}


class _WeightedPCA(TransformerMixin, BaseEstimator):
    """PCA that accepts ``sample_weight`` and missing entries: the screen of a weighted
    fit, or of data with holes (NaN), which are filled with the column means."""

    def __init__(self, n_components):
        self.n_components = n_components

    def fit(self, X, y=None, sample_weight=None):
        X = np.asarray(X, dtype=np.float64)
        missing = np.isnan(X)
        if missing.any():
            X = np.where(missing, column_means(X, missing), X)
        mean, _, components, _ = leading_axes(X, sample_weight, self.n_components)
        self.mean_, self.components_ = mean, components
        return self

    def transform(self, X):
        # A missing entry is at the mean: it adds nothing to the scores.
        return np.nan_to_num(X - self.mean_, nan=0.0) @ self.components_.T

    def inverse_transform(self, X):
        # Named X, as in scikit-learn's PCA: metadata routing takes any other
        # name for metadata.
        return X @ self.components_ + self.mean_
