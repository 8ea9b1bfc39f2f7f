"""OutlierDetector: anomaly scores from any model with a reconstruction or a density."""

import math
import warnings
from numbers import Real

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, OutlierMixin, TransformerMixin, _fit_context, clone
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import (
    check_is_fitted,
    has_fit_parameter,
    validate_data,
)

from ._autoencoder import AutoencoderTransformer
from ._pca import principal_axes
from ._scores import latent_statistics, mahalanobis_squared, weighted_median
from ._threads import limit_torch_threads
from ._vae import VAETransformer
from ._validation import check_sample_weight, draw_seed

# The default detectors' networks, chosen once for all data by the ADBench
# benchmark (benchmarks/anomaly_adbench.py), never per data set. A fixed budget
# of optimiser steps rather than of epochs keeps the cost flat in n_samples:
# 200 steps are 200 epochs of a 200-row table but 2 epochs of 50 000 rows.
DEFAULT_N_STEPS = 200
DEFAULT_BATCH_SIZE = 512
DEFAULT_LEARNING_RATE = 3e-3
_DEFAULT_ESTIMATORS = {"autoencoder": AutoencoderTransformer, "vae": VAETransformer}

# Rows per inference call. Every call gets exactly this many rows (the last
# block padded with zeros): float32 matrix kernels can pick their code path
# by the number of rows, which changes the last bits of a row's result, so a
# fixed count makes a row's score a function of the row alone, bit for bit.
# (On a CPU, inference runs oneDNN's linear, which is already row-invariant
# on this project's machine; the fixed count keeps that true elsewhere.)
SCORE_BLOCK_SIZE = 512

# Relative floor of the per-feature residual variance, so that a feature the
# model reconstructs exactly on the training data (a constant column) gives a
# large but finite term rather than a division by zero.
_RESIDUAL_VARIANCE_FLOOR = 1e-6


def default_n_components(n_features):
    """Code width of the default networks: a quarter of the features, at least one.

    A narrow code leaves room for the reconstruction term to see rows off the
    learned manifold; the latent term covers rows extreme along it.
    """
    return max(1, n_features // 4)


def default_hidden_layer_sizes(n_components):
    """Hidden layer of the default networks: twice the code width.

    With ``init="pca"`` a ReLU layer carries each principal score as the pair
    ``relu(s), relu(-s)``, so ``2 * n_components`` units hold exactly the PCA
    start and no unit keeps random weights: the seed then only orders the
    batches (and, for the VAE, draws its reparameterised codes). With 64
    hidden units, most of them random, the autoencoder detector's largest
    seed std of ROC-AUC over 12 seeds on the benchmark was .015 (mean ROC-AUC
    .880, average precision .566); with these, .010 (.878, .572).
    """
    return (2 * n_components,)


def _blockwise(fn, X):
    """``fn`` applied to X in blocks of exactly ``SCORE_BLOCK_SIZE`` rows.

    ``fn`` maps a block to a tuple of arrays whose first axis is the rows;
    the tuple of concatenated results, with the padding dropped, is returned.
    The padding rows are zeros, so a non-finite row is never repeated into it
    (and counted again by an error message).
    """
    parts = []
    for start in range(0, X.shape[0], SCORE_BLOCK_SIZE):
        block = X[start : start + SCORE_BLOCK_SIZE]
        n = block.shape[0]
        if n < SCORE_BLOCK_SIZE:
            padding = np.zeros((SCORE_BLOCK_SIZE - n, *block.shape[1:]), dtype=block.dtype)
            block = np.concatenate([block, padding])
        parts.append([np.asarray(out)[:n] for out in fn(block)])
    return tuple(np.concatenate(column) for column in zip(*parts, strict=True))


class _WeightedPCA(TransformerMixin, BaseEstimator):
    """PCA that accepts ``sample_weight``: the screen of a weighted fit."""

    def __init__(self, n_components):
        self.n_components = n_components

    def fit(self, X, y=None, sample_weight=None):
        mean, _, components = principal_axes(np.asarray(X, dtype=np.float64), sample_weight)
        self.mean_, self.components_ = mean, components[: self.n_components]
        return self

    def transform(self, X):
        return (X - self.mean_) @ self.components_.T

    def inverse_transform(self, Z):
        return Z @ self.components_ + self.mean_


def _has_reconstruction(estimator):
    return hasattr(estimator, "transform") and hasattr(estimator, "inverse_transform")


class OutlierDetector(OutlierMixin, BaseEstimator):
    """Unsupervised outlier detection with an autoencoder, a VAE or any model with a code.

    The detector fits ``estimator`` to the (possibly contaminated) training
    data and scores each row by how badly the model explains it. For an
    estimator with ``transform`` and ``inverse_transform`` (our autoencoders,
    :class:`~sklearn.decomposition.PCA`, or a pipeline ending in one of them),
    the anomaly score of a row ``x`` with code ``z = transform(x)`` and
    reconstruction ``x̂ = inverse_transform(z)`` has two terms:

    - reconstruction, ``R(x) = Σ_j (x_j - x̂_j)² / s_j²``, with ``s_j²`` the
      mean squared residual of feature ``j`` on the training data: high for
      rows *off* the manifold the model learned;
    - latent, ``L(x) = (z - μ)ᵀ Σ⁻¹ (z - μ)``, the squared Mahalanobis distance
      of the code under the mean ``μ`` and covariance ``Σ`` of the training
      codes (Hotelling's T²): high for rows extreme *along* the manifold,
      which reconstruct well.

    Each term is divided by its median over the training rows, so both are
    about 1 for a typical row, and ``"combined"`` takes the larger of the
    two: a row is as abnormal as its stronger evidence, which a sum would
    dilute with the other term's noise (the maximum gave the better average
    precision on the ADBench benchmark). Any other
    estimator with ``score_samples`` (e.g.
    :class:`~sklearn.mixture.GaussianMixture`) is used through that method.

    Parameters
    ----------
    estimator : estimator object, {"autoencoder", "vae"} or None, default=None
        The model of normal data. ``"autoencoder"`` and ``"vae"`` are
        ``make_pipeline(StandardScaler(), AutoencoderTransformer(...))`` and
        its :class:`VAETransformer` counterpart with a small network (a code
        of ``k = max(1, n_features // 4)`` units, one hidden ReLU layer of
        ``2 k`` units, ``init="pca"``) trained for about 200 steps of 512 rows
        whatever the number of rows; ``None`` is ``"autoencoder"``, the better
        of the two on the ADBench benchmark. The network starts as PCA
        exactly, with no randomly initialised unit, so ``random_state`` only
        orders the training batches (and draws the VAE's reparameterised
        codes) and the scores barely depend on it. An
        estimator object is cloned and fitted as it is.

    method : {"auto", "combined", "reconstruction", "latent", "estimator"}, \
            default="auto"
        The anomaly score. ``"combined"``, ``"reconstruction"`` and
        ``"latent"`` are the terms described above and need ``transform`` and
        ``inverse_transform``; ``"estimator"`` is ``estimator.score_samples``
        (for a :class:`VAETransformer`, its importance-weighted
        log-likelihood, itself a combination of both terms). ``"auto"`` is
        ``"combined"`` when the estimator has a reconstruction, else
        ``"estimator"``.

    contamination : "auto" or float, default="auto"
        Sets the threshold of :meth:`predict`. A float in (0, 0.5] is the
        expected fraction of outliers in the training data: ``offset_`` is
        that quantile of the training scores. ``"auto"`` assumes no fraction:
        a row is an outlier when its anomaly score (``-score_samples``) lies
        above the upper Tukey fence of the training rows' anomaly scores,
        ``Q3 + 1.5 (Q3 - Q1)``, the usual boxplot rule. The fraction this
        flags depends on the data: with the default estimator, 5 to 20 % of
        the training rows (median 13 %) on the 16 ADBench data sets of the
        benchmark (``benchmarks/auto_contamination.py``). Pass a float when
        the expected fraction is known.

    support_fraction : float or None, default=0.8
        Training that tolerates contaminated data: a screening model is
        fitted on all rows, and the estimator is fitted on the
        ``support_fraction`` of rows that the screen finds most normal; the
        score statistics (``s_j``, ``μ``, ``Σ``, medians) come from those rows
        too, so the anomalies in the training data shape neither the model
        nor the scale of the terms. For the default networks the screen is
        PCA with the same code width (deterministic, and the network is
        trained once); an estimator object screens for itself (it is fitted
        twice). With ``"combined"``, the screen ranks rows by the sum of the
        two terms. ``None`` fits once on all rows.

    random_state : int, RandomState instance or None, default=None
        Seeds the networks of the default estimators (``None``,
        ``"autoencoder"``, ``"vae"``). An estimator object keeps its own
        ``random_state``.

    Attributes
    ----------
    estimator_ : estimator object
        The fitted model, trained on the support rows.

    method_ : str
        The score in use, with ``"auto"`` resolved.

    offset_ : float
        Threshold on :meth:`score_samples`: ``decision_function =
        score_samples - offset_`` is negative for outliers.

    support_ : ndarray of shape (n_samples,) of bool
        Training rows used for the final fit and the score statistics,
        chosen by the screening model (see ``support_fraction``).

    residual_variance_ : ndarray of shape (n_features,) or None
        ``s_j²``, the mean squared training residual of each feature, when
        the estimator has a reconstruction.

    latent_mean_ : ndarray of shape (n_components,) or None
        ``μ``, the mean training code.

    latent_precision_ : ndarray of shape (n_components, n_components) or None
        ``Σ⁻¹`` (pseudo-inverse), the precision of the training codes.

    reconstruction_median_ : float or None
        Median of ``R`` over the support rows; the reconstruction term is
        ``R / reconstruction_median_``.

    latent_median_ : float or None
        Median of ``L`` over the support rows.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`, when X has string column
        names.

    See Also
    --------
    sklearn.ensemble.IsolationForest : Tree-based detector, same API.
    AutoencoderTransformer : The default model.
    VAETransformer : The variational model (``estimator="vae"``).

    References
    ----------
    .. [1] H. Hotelling, "The Generalization of Student's Ratio", Ann. Math.
       Statist. 2(3), 1931 (the T² statistic of the latent term).
    .. [2] S. Han et al., "ADBench: Anomaly Detection Benchmark", NeurIPS 2022.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.decomposition import PCA
    >>> from skaevae import OutlierDetector
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(300, 6))
    >>> X[:5] += 6
    >>> detector = OutlierDetector(random_state=0).fit(X)
    >>> detector.predict(X).shape
    (300,)
    >>> detector.feature_attributions(X[:3]).shape
    (3, 6)
    >>> OutlierDetector(PCA(n_components=2), contamination=0.05).fit_predict(X)[:5]
    array([-1, -1, -1, -1, -1])
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit"]), StrOptions(set(_DEFAULT_ESTIMATORS)), None],
        "method": [StrOptions({"auto", "combined", "reconstruction", "latent", "estimator"})],
        "contamination": [StrOptions({"auto"}), Interval(Real, 0, 0.5, closed="right")],
        "support_fraction": [Interval(Real, 0, 1, closed="right"), None],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator=None,
        *,
        method="auto",
        contamination="auto",
        support_fraction=0.8,
        random_state=None,
    ):
        self.estimator = estimator
        self.method = method
        self.contamination = contamination
        self.support_fraction = support_fraction
        self.random_state = random_state

    # ------------------------------------------------------------------ fit

    def _make_estimator(self, n_samples, n_features, seed):
        if self.estimator is not None and not isinstance(self.estimator, str):
            return clone(self.estimator)
        cls = _DEFAULT_ESTIMATORS[self.estimator or "autoencoder"]
        batch_size = min(DEFAULT_BATCH_SIZE, n_samples)
        n_epochs = max(1, math.ceil(DEFAULT_N_STEPS / math.ceil(n_samples / batch_size)))
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
        return make_pipeline(StandardScaler(), cls(**params))

    def _make_screen(self, n_samples, n_features, seed, weighted):
        """The model whose scores choose the support rows for the final fit.

        For the default networks, PCA with the same code width: deterministic,
        and a single pass over the data, so the network is trained once (with
        ``sample_weight``, a weighted PCA, since sklearn's takes no weights).
        An estimator object screens for itself (it is fitted twice).
        """
        if self._is_default():
            n_components = min(default_n_components(n_features), n_samples)
            pca = _WeightedPCA(n_components) if weighted else PCA(n_components=n_components)
            return make_pipeline(StandardScaler(), pca)
        return self._make_estimator(n_samples, n_features, seed)

    def _is_default(self):
        return self.estimator is None or isinstance(self.estimator, str)

    def _threads(self):
        # The default networks are so small that a step or an inference block
        # takes well under a millisecond: splitting it over threads gains
        # nothing, and on a busy machine the idle threads' spin-waiting
        # multiplied the CPU time of a fit by ten or more in our measurements.
        return limit_torch_threads(1 if self._is_default() else None)

    def _resolve_method(self, estimator):
        has_reconstruction = _has_reconstruction(estimator)
        if self.method == "auto":
            return "combined" if has_reconstruction else "estimator"
        if self.method != "estimator" and not has_reconstruction:
            raise ValueError(
                f"method={self.method!r} needs an estimator with transform and "
                f"inverse_transform, which {type(estimator).__name__} lacks; use "
                "method='estimator' to score with its score_samples."
            )
        if self.method == "estimator" and not hasattr(estimator, "score_samples"):
            raise ValueError(
                f"method='estimator' needs an estimator with score_samples, which "
                f"{type(estimator).__name__} lacks."
            )
        return self.method

    def _fit_estimator(self, estimator, X, sample_weight):
        """Fit ``estimator`` on X, passing ``sample_weight`` where it is accepted."""
        fit_params = {}
        if sample_weight is not None:
            if isinstance(estimator, Pipeline):
                # Without metadata routing a pipeline takes ``step__param``;
                # every step whose fit accepts weights gets them.
                fit_params = {
                    f"{name}__sample_weight": sample_weight
                    for name, step in estimator.steps
                    if step not in (None, "passthrough")
                    and has_fit_parameter(step, "sample_weight")
                }
                if not fit_params:
                    raise ValueError(
                        "sample_weight was given but no step of the pipeline accepts it."
                    )
            elif has_fit_parameter(estimator, "sample_weight"):
                fit_params = {"sample_weight": sample_weight}
            else:
                raise ValueError(
                    f"sample_weight was given but {type(estimator).__name__}.fit does "
                    "not accept it."
                )
        with warnings.catch_warnings(), self._threads():
            if self._is_default():
                # The default networks stop at a fixed step budget by design.
                warnings.simplefilter("ignore", ConvergenceWarning)
            return estimator.fit(X, **fit_params)

    def _fit_statistics(self, X, weight):
        """Residual scales, code distribution and term medians on (weighted) rows.

        Returns the normalised terms of X's rows, as :meth:`_terms` would, or
        None when the estimator has no reconstruction.
        """
        self.residual_variance_ = self.latent_mean_ = self.latent_precision_ = None
        self.reconstruction_median_ = self.latent_median_ = None
        if not _has_reconstruction(self.estimator_):
            return None
        Z, X_hat = self._reconstruct(X)
        residual2 = np.square(X - X_hat)
        floor = _RESIDUAL_VARIANCE_FLOOR * np.average(
            np.square(X - np.average(X, axis=0, weights=weight)), axis=0, weights=weight
        )
        self.residual_variance_ = np.maximum(
            np.average(residual2, axis=0, weights=weight),
            np.maximum(floor, np.finfo(np.float64).eps),
        )
        self.latent_mean_, self.latent_precision_ = latent_statistics(Z, weight)
        eps = np.finfo(np.float64).eps
        reconstruction = (residual2 / self.residual_variance_).sum(axis=1)
        latent = mahalanobis_squared(Z, self.latent_mean_, self.latent_precision_)
        self.reconstruction_median_ = max(weighted_median(reconstruction, weight), eps)
        self.latent_median_ = max(weighted_median(latent, weight), eps)
        return reconstruction / self.reconstruction_median_, latent / self.latent_median_

    @_fit_context(
        # The inner estimator is validated when it is fitted.
        prefer_skip_nested_validation=False
    )
    def fit(self, X, y=None, sample_weight=None):
        """Fit the model of normal data and the score's threshold.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data; it may contain outliers (unsupervised use).

        y : Ignored
            Not used, present for API consistency by convention.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each row, passed to the estimator's
            ``fit`` (to every pipeline step that accepts it) and used in the
            score statistics. ``None`` weighs rows equally.

        Returns
        -------
        self : object
            The fitted detector.
        """
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=2)
        X = np.asarray(X, dtype=np.float64)
        n_samples, n_features = X.shape
        sample_weight = check_sample_weight(sample_weight, X)
        seed = draw_seed(self.random_state)

        self.support_ = np.ones(n_samples, dtype=bool)
        fitted = False  # whether estimator_ is already the model of the support
        if self.support_fraction is not None and self.support_fraction < 1:
            # Screen, then fit on the rows the screening model finds most
            # normal. Ties at the cut are all kept, so the support never
            # depends on row order.
            screen = self._make_screen(
                n_samples, n_features, seed, weighted=sample_weight is not None
            )
            self.method_ = self._resolve_method(screen)
            self.estimator_ = self._fit_estimator(screen, X, sample_weight)
            terms = self._fit_statistics(X, sample_weight)
            if self.method_ == "combined":
                # The screen ranks rows by the sum of the two terms, the whole
                # of their evidence; the larger term alone (the final score)
                # chose a noisier support on the benchmark.
                anomaly = np.add(*terms)
            else:
                anomaly = -self._score(X)
            n_support = max(2, int(math.ceil(self.support_fraction * n_samples)))
            cut = np.partition(anomaly, n_support - 1)[n_support - 1]
            self.support_ = anomaly <= cut
            # An estimator object screens for itself: when ties at the cut keep
            # every row, the screen already is the final model.
            fitted = not self._is_default() and self.support_.all()
        if not fitted:
            support = self.support_
            weight = None if sample_weight is None else sample_weight[support]
            if weight is not None and not weight.sum() > 0:
                raise ValueError("sample_weight is zero on all the support rows.")
            estimator = self._make_estimator(int(support.sum()), n_features, seed)
            self.method_ = self._resolve_method(estimator)
            X_support = X if support.all() else X[support]
            self.estimator_ = self._fit_estimator(estimator, X_support, weight)
            self._fit_statistics(X_support, weight)

        scores = self._score(X)
        if self.contamination == "auto":
            q1, q3 = np.percentile(-scores, [25.0, 75.0])
            self.offset_ = float(-(q3 + 1.5 * (q3 - q1)))
        else:
            self.offset_ = float(np.percentile(scores, 100.0 * self.contamination))
        return self

    # ------------------------------------------------------------ inference

    def _reconstruct(self, X):
        """Codes and reconstructions of the rows of X, in float64."""

        def reconstruct(block):
            Z = self.estimator_.transform(block)
            return Z, self.estimator_.inverse_transform(Z)

        with self._threads():
            Z, X_hat = _blockwise(reconstruct, X)
        return Z.astype(np.float64), X_hat.astype(np.float64)

    def _terms(self, X):
        """Normalised reconstruction and latent terms, each of shape (n_samples,)."""
        Z, X_hat = self._reconstruct(X)
        reconstruction = (np.square(X - X_hat) / self.residual_variance_).sum(axis=1)
        latent = mahalanobis_squared(Z, self.latent_mean_, self.latent_precision_)
        return reconstruction / self.reconstruction_median_, latent / self.latent_median_

    def _score(self, X):
        if self.method_ == "estimator":
            with self._threads():
                (scores,) = _blockwise(lambda block: (self.estimator_.score_samples(block),), X)
            return scores.astype(np.float64)
        reconstruction, latent = self._terms(X)
        if self.method_ == "reconstruction":
            return -reconstruction
        if self.method_ == "latent":
            return -latent
        return -np.maximum(reconstruction, latent)

    def _check_input(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return np.asarray(X, dtype=np.float64)

    def score_samples(self, X):
        """Normality score of each row; lower means more abnormal.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            Minus the anomaly score of ``method_`` (for ``"combined"``,
            ``-max(R / median R, L / median L)``). A row's score is a
            deterministic function of the row: it does not depend on the other
            rows of X, on earlier calls, or on pickling.
        """
        return self._score(self._check_input(X))

    def decision_function(self, X):
        """Shifted score: negative for outliers, positive for inliers.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            ``score_samples(X) - offset_``.
        """
        return self.score_samples(X) - self.offset_

    def predict(self, X):
        """Label each row as an inlier (+1) or an outlier (-1).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            ``-1`` where :meth:`decision_function` is negative, else ``+1``.
        """
        return np.where(self.decision_function(X) < 0, -1, 1)

    def feature_attributions(self, X):
        """How much each feature contributes to each row's reconstruction term.

        The attribution of feature ``j`` to row ``x`` is its share of the
        reconstruction term, ``(x_j - x̂_j)² / (s_j² · median R)``. It is
        non-negative and the row sums equal the reconstruction term exactly:
        ``-score_samples`` when ``method="reconstruction"``, and, when
        ``method="combined"``, ``-score_samples`` for the rows whose
        reconstruction term is the larger of the two (the others are flagged
        by their latent term).
        A large value says the model could not predict that feature from the
        others. The latent term (extreme but well-reconstructed rows) is not
        attributed to features.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data.

        Returns
        -------
        attributions : pandas.DataFrame or ndarray of shape (n_samples, n_features)
            A DataFrame with the feature names as columns (and X's index, if X
            is a DataFrame) when the detector was fitted on named features,
            else an ndarray.
        """
        index = X.index if isinstance(X, pd.DataFrame) else None
        X = self._check_input(X)
        if self.residual_variance_ is None:
            raise AttributeError(
                f"feature_attributions needs an estimator with transform and "
                f"inverse_transform; {type(self.estimator_).__name__} has no "
                "reconstruction to attribute."
            )
        _, X_hat = self._reconstruct(X)
        attributions = np.square(X - X_hat) / (
            self.residual_variance_ * self.reconstruction_median_
        )
        if hasattr(self, "feature_names_in_"):
            return pd.DataFrame(attributions, columns=self.feature_names_in_, index=index)
        return attributions
