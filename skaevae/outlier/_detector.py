"""OutlierDetector: anomaly scores from any model with a reconstruction or a density.

The estimator itself: parameters, the order of a fit, and the scikit-learn
API. Its default networks are in ``_defaults.py``, the choice of the
training rows in ``_screen.py``, and the score statistics in
``_scores.py``.
"""

import math
import warnings
from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, OutlierMixin, _fit_context, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import Pipeline
from sklearn.utils import get_tags
from sklearn.utils._available_if import available_if
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    _routing_enabled,
    process_routing,
)
from sklearn.utils.validation import check_is_fitted, has_fit_parameter, validate_data

from ..models._base import BaseAutoencoder
from ..models._persist import plain, table_from_state, table_to_state
from ..models._rollback import unchanged_on_error
from ..utils._table import TableEncoder, check_min_rows, infer_column_type, is_mixed
from ..utils._validation import check_no_datetimes, check_sample_weight, draw_seed
from ._defaults import (
    DEFAULT_ESTIMATORS,
    default_fit_params,
    make_default_network,
    make_default_screen,
    table_n_features,
)
from ._levels import fit_level_effects, level_codes, level_factor, level_sizes
from ._scores import (
    INDICATOR_SCALE,
    TermStatistics,
    codes_and_errors,
    codes_and_table_errors,
    column_variance,
    estimator_scores,
    feature_attributions,
    fit_term_statistics,
    has_reconstruction,
    is_mixed_model,
    level_rates,
    mahalanobis_squared,
    normalised_terms,
    table_floor,
    weighted_median,
)
from ._screen import screen_anomaly, support_rows, support_weight


def _every_step_weighted(estimator, sample_weight):
    """Keyword arguments of ``estimator.fit`` that pass ``sample_weight`` without routing.

    A pipeline takes ``step__sample_weight``: every step whose fit accepts
    weights gets them.
    """
    if sample_weight is None:
        return {}
    if isinstance(estimator, Pipeline):
        fit_params = {
            f"{name}__sample_weight": sample_weight
            for name, step in estimator.steps
            if step not in (None, "passthrough") and has_fit_parameter(step, "sample_weight")
        }
        if not fit_params:
            raise ValueError("sample_weight was given but no step of the pipeline accepts it.")
        return fit_params
    if has_fit_parameter(estimator, "sample_weight"):
        return {"sample_weight": sample_weight}
    raise ValueError(
        f"sample_weight was given but {type(estimator).__name__}.fit does not accept it."
    )


# Training values beyond this are refused: their squares approach float64's
# range.
MAX_MAGNITUDE = 1e150

# Rows with a value this many robust scales (see _standardisable) from the
# column's median score -inf: standardised, such a value leaves float32's
# range in the network's layers; so does any value beyond FLOAT32_REACH.
EXTREME = 1e30
FLOAT32_REACH = 1e37


def _standardisable(X):
    """Each column's median and robust scale; a ValueError for unusable columns.

    The detector standardises every column, and refuses values beyond
    ``MAX_MAGNITUDE``, where the arithmetic of standardising (squares of
    values times float rounding) overflows float64, and columns without an
    observed value. The scale is that of :func:`_robust_scale`.
    """
    observed = (~np.isnan(X)).any(axis=0)
    if not observed.all():
        raise ValueError(
            f"X has no observed value in column(s) {np.flatnonzero(~observed)[:5].tolist()}: "
            "there is nothing to learn about them; drop them."
        )
    largest = np.nanmax(np.abs(X), axis=0)
    bad = np.flatnonzero(largest > MAX_MAGNITUDE)
    if bad.size:
        raise ValueError(
            f"X has values too large to standardise in column(s) {bad[:5].tolist()} "
            f"(largest magnitude {largest[bad].max():.3g}; at most 1e150 is used). Rescale "
            "them (e.g. a log transform, or divide by a large constant) before fitting "
            "OutlierDetector."
        )
    return _robust_scale(X)


def _robust_scale(X):
    """Each column's median and robust scale.

    The scale is the median absolute deviation (times 1.4826), else the
    standard deviation, else 1, so that the extreme rows a detector exists
    to find do not set the yardstick they are measured with. A column
    without an observed value (of a mixed table, which the estimator
    judges) is centred at 0 with scale 1.
    """
    with warnings.catch_warnings(), np.errstate(over="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        center = np.nanmedian(X, axis=0)
        scale = 1.4826 * np.nanmedian(np.abs(X - center), axis=0)
        std = np.nanstd(X, axis=0)
    center = np.where(np.isnan(center), 0.0, center)
    scale = np.where(scale > 0, scale, np.where(std > 0, std, 1.0))
    return center, scale


def _numeric_positions(X, column_types):
    """Positions of the numeric (continuous or integer) columns of a mixed table X."""
    frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X, dtype=object))
    if not isinstance(X, pd.DataFrame):
        frame = frame.infer_objects()
    given = dict(column_types or {})
    kinds = [
        given[name] if name in given else infer_column_type(frame[name]) for name in frame.columns
    ]
    return [j for j, kind in enumerate(kinds) if kind in ("continuous", "integer")]


def _numeric_values(X, positions):
    """The columns at ``positions`` of a table X as floats (NaN where missing), or None.

    None when a column does not read as numbers: the estimator that reads
    the table reports that itself.
    """
    if isinstance(X, pd.DataFrame):
        part = X.iloc[:, positions]
    else:
        part = pd.DataFrame(np.asarray(X, dtype=object)[:, positions])
    try:
        return part.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        return None


def _rows(X, mask):
    """The rows of X (an array or a DataFrame) where ``mask`` is True."""
    return X.iloc[np.flatnonzero(mask)] if isinstance(X, pd.DataFrame) else X[mask]


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
    precision on the ADBench benchmark, ``benchmarks/anomaly_adbench.py``).
    Missing entries (NaN) are left out of ``R``, whose sum over a row's
    observed entries is carried to the scale of a complete row, so that rows
    with and without holes share one threshold (the user guide's "Missing
    values"). Any other
    estimator with ``score_samples`` (e.g.
    :class:`~sklearn.mixture.GaussianMixture`) is used through that method.

    Parameters
    ----------
    estimator : estimator object, {"autoencoder", "vae"} or None, default=None
        The model of normal data. ``"autoencoder"`` and ``"vae"`` are
        ``make_pipeline(StandardScaler(), AutoencoderTransformer(...))`` and
        its :class:`VAETransformer` counterpart with a small network (a code
        of ``k = n_features // 4`` units, at least 1 and at most 32, one
        hidden ReLU layer of ``2 k`` units, ``init="pca"``) trained for about 200 steps of 512 rows
        whatever the number of rows; ``None`` is ``"autoencoder"``, the better
        of the two on the ADBench benchmark. The network starts as PCA
        exactly, with no randomly initialised unit, so ``random_state`` only
        orders the training batches (and draws the VAE's reparameterised
        codes) and the scores barely depend on it. For a mixed table,
        ``n_features`` counts a numeric or binary column as one feature and a
        categorical column of ``L`` levels as ``min(L - 1, 8)``, so that a
        column of many levels does not widen the network (the user guide's
        "Anomalies in a mixed table"). An estimator object is cloned and
        fitted as it is.

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
        flags depends on the data (``benchmarks/auto_contamination.py``
        measures it on ADBench), so pass a float when the expected fraction
        is known.

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
        two terms. ``None`` fits once on all rows. Lower the fraction when
        more of the training data may be anomalous.

    calibration_size : float, int or None, default=None
        Rows held out of the fit to calibrate the scores, for
        :meth:`p_values`: a float in (0, 1) is a fraction of the rows of X
        (rounded up), an int a number of rows, drawn at random. The model, its
        statistics and the screen see only the other rows; the held-out rows'
        scores are the reference of the conformal p-values, and the threshold
        of :meth:`predict` is set on them too. Use it to flag rows at a chosen
        false-alarm rate (``p_values(X) <= 0.01``); a few hundred calibration
        rows resolve a 1% rate. ``None`` fits on all rows, and
        :meth:`p_values` is not available.

    random_state : int, RandomState instance or None, default=None
        Seeds the networks of the default estimators (``None``,
        ``"autoencoder"``, ``"vae"``), and draws the calibration rows. An
        estimator object keeps its own ``random_state``.

    Attributes
    ----------
    estimator_ : estimator object
        The fitted model, trained on the support rows.

    method_ : str
        The score in use, with ``"auto"`` resolved.

    offset_ : float
        Threshold on :meth:`score_samples`: ``decision_function =
        score_samples - offset_`` is negative for outliers. Set on the
        training rows' scores, or on the calibration rows' with
        ``calibration_size``.

    support_ : ndarray of shape (n_samples,) of bool
        Training rows used for the final fit and the score statistics,
        chosen by the screening model (see ``support_fraction``); never a
        calibration row.

    calibration_scores_ : ndarray of shape (n_calibration,)
        With ``calibration_size``: the sorted :meth:`score_samples` of the
        calibration rows, which :meth:`p_values` compares with.

    residual_variance_ : ndarray of shape (n_features,) or None
        ``s_j²``, the mean squared training residual of each feature, when
        the estimator has a reconstruction; for a mixed table, the mean
        error of each column (see the user guide's "Anomalies in a mixed
        table"), NaN for a column the estimator leaves out (one value in
        training).

    latent_mean_ : ndarray of shape (n_components,) or None
        ``μ``, the mean training code.

    latent_precision_ : ndarray of shape (n_components, n_components) or None
        ``Σ⁻¹`` (pseudo-inverse), the precision of the training codes.

    reconstruction_median_ : float or None
        Median of ``R`` over the support rows; the reconstruction term is
        ``R / reconstruction_median_``.

    latent_median_ : float or None
        Median of ``L`` over the support rows (for a mixed table encoded by
        the detector, of ``L`` divided by the factor of the row's levels:
        see the user guide's "Anomalies in a mixed table").

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
        "estimator": [HasMethods(["fit"]), StrOptions(set(DEFAULT_ESTIMATORS)), None],
        "method": [StrOptions({"auto", "combined", "reconstruction", "latent", "estimator"})],
        "contamination": [StrOptions({"auto"}), Interval(Real, 0, 0.5, closed="right")],
        "support_fraction": [Interval(Real, 0, 1, closed="right"), None],
        "calibration_size": [
            Interval(Real, 0, 1, closed="neither"),
            Interval(Integral, 1, None, closed="left"),
            None,
        ],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator=None,
        *,
        method="auto",
        contamination="auto",
        support_fraction=0.8,
        calibration_size=None,
        random_state=None,
    ):
        self.estimator = estimator
        self.method = method
        self.contamination = contamination
        self.support_fraction = support_fraction
        self.calibration_size = calibration_size
        self.random_state = random_state

    # ---------------------------------------------------------- persistence

    def __getstate__(self):
        # Plain data, as the estimators' (see skaevae.models._persist).
        state = dict(super().__getstate__())
        if "_table" in state:
            state["_table"] = table_to_state(state["_table"])
        return plain(state)

    def __setstate__(self, state):
        state = dict(state)
        if "_table" in state:
            state["_table"] = table_from_state(state["_table"])
        super().__setstate__(state)

    # ------------------------------------------------------------------ fit

    def _is_default(self):
        return self.estimator is None or isinstance(self.estimator, str)

    def _make_estimator(self, n_samples, n_features, seed):
        if self._is_default():
            return make_default_network(
                self.estimator or "autoencoder",
                n_samples,
                n_features,
                seed,
                table=self._table is not None,
            )
        return clone(self.estimator)

    def _make_screen(self, n_samples, n_features, seed, weighted, holes):
        """The model whose scores choose the support rows for the final fit.

        For the default networks, PCA with the same code width; an estimator
        object screens for itself (it is fitted twice).
        """
        if self._is_default():
            return make_default_screen(
                n_samples, n_features, weighted, holes, table=self._table is not None
            )
        return self._make_estimator(n_samples, n_features, seed)

    def _resolve_method(self, estimator):
        reconstructs = has_reconstruction(estimator)
        if self.method == "auto":
            return "combined" if reconstructs else "estimator"
        if self.method != "estimator" and not reconstructs:
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

    def _fit_estimator(self, estimator, X, sample_weight, routed_params):
        """Fit ``estimator`` on X, passing ``sample_weight`` where it is wanted.

        ``routed_params`` is the output of :func:`process_routing` under
        metadata routing, else None.
        """
        if self._is_default():
            fit_params = default_fit_params(estimator, sample_weight)
        elif routed_params is not None:
            # The user's requests decide. ``sample_weight`` is the only
            # metadata ``fit`` takes, and the one passed here may be the
            # support rows' part of the one that was routed.
            requested = "sample_weight" in routed_params["estimator"]["fit"]
            fit_params = {"sample_weight": sample_weight} if requested else {}
        else:
            fit_params = _every_step_weighted(estimator, sample_weight)
        with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
            # (np.errstate: PCA's explained-variance ratios of constant data
            # are 0 / 0, which the screen does not use.)
            if self._is_default():
                # The default networks stop at a fixed step budget by design.
                warnings.simplefilter("ignore", ConvergenceWarning)
            return estimator.fit(X, **fit_params)

    def _fit_model(self, estimator, X, sample_weight, routed_params, rows=None):
        """Fit ``estimator`` as the model of normal data, and the score statistics on X.

        Sets ``method_``, ``estimator_`` and the statistics. Returns the
        normalised terms of X's rows, or None when the estimator has no
        reconstruction. With ``rows`` (a mask, for a float matrix X only),
        the model and the statistics are fitted on those rows
        (``sample_weight`` holds their weights), and the terms are of every
        row of X: one pass of inference serves both.
        """
        X_all = X
        if rows is not None and not rows.all():
            X = X[rows]
        else:
            rows = None
        self.method_ = self._resolve_method(estimator)
        self.estimator_ = self._fit_estimator(estimator, X, sample_weight, routed_params)
        statistics = terms = None
        if has_reconstruction(self.estimator_):
            if rows is None:
                Z, E = Z_all, E_all = self._codes_and_errors(X, fit_weight=sample_weight)
            else:
                Z_all, E_all = self._codes_and_errors(X_all)
                Z, E = Z_all[rows], E_all[rows]
            # A mixed table's columns are standardised or categorical: their
            # floor is absolute.
            mixed = self._table is not None or is_mixed_model(self.estimator_)
            variance = np.ones(E.shape[1]) if mixed else column_variance(X, sample_weight)
            floor = None
            if self._table is not None:
                floor = table_floor(
                    [
                        self._table.types_[name] in ("continuous", "integer")
                        for name in self._table.columns_
                    ]
                )
            statistics = fit_term_statistics(
                E, Z, variance, sample_weight, floor, median_floor=0.0 if floor is None else 1.0
            )
            if self._table is not None:
                statistics = self._fit_latent_levels(X, Z, statistics, sample_weight)
            terms = self._terms(X_all, Z_all, E_all, statistics)
        (
            self.residual_variance_,
            self.latent_mean_,
            self.latent_precision_,
            self.reconstruction_median_,
            self.latent_median_,
        ) = statistics or (None,) * len(TermStatistics._fields)
        return terms

    @_fit_context(
        # The inner estimator is validated when it is fitted.
        prefer_skip_nested_validation=False
    )
    def fit(self, X, y=None, sample_weight=None):
        """Fit the model of normal data and the score's threshold.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Training data; it may contain outliers (unsupervised use) and
            missing values (NaN), which are left out of the scores. A
            DataFrame with categorical columns is read as a mixed table: the
            default networks see its numeric columns standardised and its
            categories one-hot coded; an
            :class:`AutoencoderTransformer` or :class:`VAETransformer` given
            as ``estimator`` reads it itself. Other estimators need it
            encoded first.

        y : Ignored
            Not used, present for API consistency by convention.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each row, used in the score statistics and
            passed to the estimator's ``fit``: to every pipeline step that
            accepts it, or, when metadata routing is enabled
            (``sklearn.set_config(enable_metadata_routing=True)``), to the
            steps of an estimator object that request it with
            ``set_fit_request(sample_weight=True)``. The default networks
            always get it. ``None`` weighs rows equally.

        Returns
        -------
        self : object
            The fitted detector.
        """
        # A fit that raises leaves the detector as it was.
        with unchanged_on_error(self):
            return self._fit(X, sample_weight)

    def _fit(self, X, sample_weight):
        check_no_datetimes(X)
        # An estimator of ours with column_types reads X as a table too.
        mixed = is_mixed(X, getattr(self.estimator, "column_types", None))
        # A mixed table is encoded here for the default networks (standardised
        # numeric columns, one-hot categories), and read by an estimator object
        # of ours itself.
        # An unseen category or a departure from a column's single value
        # later is scored, not refused (see score_samples).
        self._table = (
            TableEncoder(handle_unknown="ignore").fit(X) if mixed and self._is_default() else None
        )
        self._mixed = mixed and self._table is None
        # Column medians and scales of X's numeric part, for spotting
        # extreme rows.
        self._column_center = self._column_scale = None
        n_features = None
        if mixed:
            self._check_mixed_estimator()
            validate_data(self, X, skip_check_array=True)
            if self._table is not None:
                X = self._encode(X)
                layout = self._table.layout_
                # The default networks' size counts a categorical column as
                # a few features, however many levels it has.
                n_features = table_n_features(layout)
            else:
                self._numeric_positions = _numeric_positions(
                    X, getattr(self.estimator, "column_types", None)
                )
            check_min_rows(X)
            numeric = self._numeric_part(X)
            if numeric is not None and numeric.shape[1]:
                self._column_center, self._column_scale = _robust_scale(numeric)
        else:
            X = validate_data(
                self,
                X,
                dtype=[np.float64, np.float32],
                ensure_min_samples=2,
                ensure_all_finite="allow-nan",
            )
            X = np.asarray(X, dtype=np.float64)
            self._column_center, self._column_scale = _standardisable(X)
        n_samples = X.shape[0]
        n_features = X.shape[1] if n_features is None else n_features
        sample_weight = check_sample_weight(sample_weight, X)
        if self._table is not None:
            # Base rates of the levels over all training rows, so that a level
            # the screen leaves out keeps its rate.
            self._level_rates = level_rates(X, self._table.layout_, sample_weight)
        routed_params = (
            process_routing(self, "fit", sample_weight=sample_weight)
            if _routing_enabled()
            else None
        )
        seed = draw_seed(self.random_state)
        calibration = self._calibration_rows(n_samples, seed)
        if calibration is not None:
            X_calibration = _rows(X, calibration)
            X = _rows(X, ~calibration)
            if sample_weight is not None:
                sample_weight = sample_weight[~calibration]
                if not sample_weight.sum() > 0:
                    raise ValueError("sample_weight is zero on all the rows left for the fit.")
            n_samples = len(X)

        self.support_ = np.ones(n_samples, dtype=bool)
        screen_is_final = False
        if self.support_fraction is not None and self.support_fraction < 1:
            screen = self._make_screen(
                n_samples,
                n_features,
                seed,
                weighted=sample_weight is not None,
                holes=bool(np.asarray(pd.isna(X)).any()),
            )
            terms = self._fit_model(screen, X, sample_weight, routed_params)
            anomaly = screen_anomaly(self.method_, terms, lambda: self._score(X))
            self.support_ = support_rows(anomaly, self.support_fraction)
            # An estimator object screens for itself: when ties at the cut keep
            # every row, the screen already is the final model.
            screen_is_final = not self._is_default() and self.support_.all()
        terms = None
        if not screen_is_final:
            support = self.support_
            weight = support_weight(sample_weight, support)
            X_support = X if support.all() else X[support]
            if self._mixed and not support.all() and routed_params is None:
                # An estimator that reads the table itself sees every row,
                # the screened-out ones with weight 0, so that it knows every
                # category of X. (Under metadata routing the weights reach it
                # only on request, so it sees the support rows alone.)
                X_support = X
                full = np.ones(n_samples) if sample_weight is None else sample_weight
                weight = np.where(support, full, 0.0)
            estimator = self._make_estimator(len(X_support), n_features, seed)
            if self._table is None and not self._mixed and self._extreme_rows(X) is None:
                # A float matrix: the inference that fits the statistics on the
                # support rows scores every training row too (rows too far out
                # for float32 are scored apart, by _score).
                terms = self._fit_model(estimator, X, weight, routed_params, rows=support)
            else:
                self._fit_model(estimator, X_support, weight, routed_params)

        if calibration is not None:
            # The threshold, too, comes from rows the model has not seen.
            X = X_calibration
            support = np.zeros(len(calibration), dtype=bool)
            support[np.flatnonzero(~calibration)[self.support_]] = True
            self.support_ = support
            terms = None
        if terms is None or self.method_ == "estimator":
            scores = self._score(X)
        else:
            # As _score would give them, without a second pass.
            scores = self._score_of_terms(*terms)
        if calibration is not None:
            self.calibration_scores_ = np.sort(scores)
        finite = np.isfinite(scores)
        if not finite.all():
            # Rows scored -inf (beyond float32's reach) rank below every other;
            # as the lowest finite score minus one they keep the threshold
            # finite, so decision_function is never -inf - (-inf).
            lowest = scores[finite].min() - 1.0 if finite.any() else -1.0
            scores = np.where(finite, scores, lowest)
        if self.contamination == "auto":
            q1, q3 = np.percentile(-scores, [25.0, 75.0])
            self.offset_ = float(-(q3 + 1.5 * (q3 - q1)))
        else:
            self.offset_ = float(np.percentile(scores, 100.0 * self.contamination))
        return self

    def _calibration_rows(self, n_samples, seed):
        """Mask of the rows held out of the fit for the p-values, or None.

        ``calibration_size`` rows (a fraction of ``n_samples``, rounded up,
        or a count) drawn at random; at least two rows are left for the fit.
        """
        if self.calibration_size is None:
            return None
        if isinstance(self.calibration_size, Integral):
            n_calibration = int(self.calibration_size)
        else:
            n_calibration = math.ceil(self.calibration_size * n_samples)
        if n_calibration > n_samples - 2:
            raise ValueError(
                f"calibration_size={self.calibration_size!r} holds out {n_calibration} of "
                f"the {n_samples} rows of X; at least 2 must be left for the fit. Use a "
                "smaller calibration_size or more rows."
            )
        rows = np.random.default_rng(seed).permutation(n_samples)[:n_calibration]
        mask = np.zeros(n_samples, dtype=bool)
        mask[rows] = True
        return mask

    def _has_calibration(self):
        if self.calibration_size is None:
            raise AttributeError(
                "p_values needs rows held out of the fit: set calibration_size (e.g. "
                "OutlierDetector(calibration_size=0.2)) and fit again."
            )
        return True

    @available_if(_has_calibration)
    def p_values(self, X):
        """Conformal p-value of each row: how often a normal row scores as abnormally.

        The p-value of a row with score ``s`` is ``(1 + k) / (n + 1)``, where
        ``n`` is the number of calibration rows (the ``calibration_size``
        rows held out of the fit) and ``k`` the number of them that score
        ``s`` or lower. When the calibration rows are normal data, a normal
        row gets a p-value of at most ``alpha`` with probability at most
        ``alpha``: flagging the rows with ``p_values(X) <= alpha`` raises
        false alarms on at most a fraction ``alpha`` of normal rows (a
        guarantee on average over the calibration draw; the rate on a given
        fit varies by about ``sqrt(alpha (1 - alpha) / n)``). Anomalies among
        the calibration rows make the p-values of normal rows larger (fewer
        alarms than ``alpha``): the rate is exact when the rows the detector
        is fitted on are known to be normal (a clean reference period), and
        an upper bound when they are not. Unlike ``predict``, a p-value
        answers "how many alerts at a 1% false-alarm rate?" without knowing
        the share of anomalies.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data.

        Returns
        -------
        p_values : ndarray of shape (n_samples,)
            In ``[1 / (n + 1), 1]``; small for rows that score below most
            calibration rows.

        Examples
        --------
        >>> import numpy as np
        >>> from skaevae import OutlierDetector
        >>> rng = np.random.RandomState(0)
        >>> detector = OutlierDetector(calibration_size=0.25, random_state=0)
        >>> detector = detector.fit(rng.normal(size=(400, 4)))
        >>> p = detector.p_values(np.array([[0.0, 0.0, 0.0, 0.0], [8.0, 0.0, 0.0, 0.0]]))
        >>> bool(p[0] > 0.05), float(p[1])
        (True, 0.0099...)
        """
        check_is_fitted(self)
        scores = self.score_samples(X)
        at_most = np.searchsorted(self.calibration_scores_, scores, side="right")
        return (1.0 + at_most) / (len(self.calibration_scores_) + 1.0)

    def get_metadata_routing(self):
        """Get metadata routing of this object.

        Please check scikit-learn's user guide on metadata routing for how the routing
        mechanism works. The detector uses ``sample_weight`` itself, in the
        score statistics, and routes it to the ``fit`` of an estimator object;
        its default networks take it without a request.

        Returns
        -------
        routing : MetadataRouter
            A :class:`~sklearn.utils.metadata_routing.MetadataRouter`
            encapsulating routing information.
        """
        router = MetadataRouter(owner=self).add_self_request(self)
        if not self._is_default():
            router.add(
                estimator=self.estimator,
                method_mapping=MethodMapping().add(caller="fit", callee="fit"),
            )
        return router

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Missing entries (NaN) are left out of the default networks' scores;
        # an estimator object decides for itself.
        tags.input_tags.allow_nan = (
            self._is_default() or get_tags(self.estimator).input_tags.allow_nan
        )
        return tags

    # ------------------------------------------------------------ inference

    def _statistics(self):
        return TermStatistics(
            self.residual_variance_,
            self.latent_mean_,
            self.latent_precision_,
            self.reconstruction_median_,
            self.latent_median_,
        )

    def _score(self, X):
        extreme = self._extreme_rows(X)
        if extreme is not None:
            # Rows too far out to compute with in float32 are outliers beyond
            # any score: -inf. The others are scored as usual.
            scores = np.full(len(X), -np.inf)
            if not extreme.all():
                rest = np.flatnonzero(~extreme)
                scores[rest] = self._score(X.iloc[rest] if isinstance(X, pd.DataFrame) else X[rest])
            return scores
        if self.method_ == "estimator":
            return estimator_scores(self.estimator_, X)
        Z, E = self._codes_and_errors(X)
        return self._score_of_terms(*self._terms(X, Z, E, self._statistics()))

    def _score_of_terms(self, reconstruction, latent):
        """The score of ``method_`` (not ``"estimator"``) from the normalised terms."""
        if self.method_ == "reconstruction":
            return -reconstruction
        if self.method_ == "latent":
            return -latent
        return -np.maximum(reconstruction, latent)

    def _fit_latent_levels(self, X, Z, statistics, weight):
        """Fit the levels' effects on the latent term of a table the detector encodes.

        The latent term of a row is divided by the typical latent term of
        the rows sharing its levels (see ``_levels.py``): a rare level's
        codes lie in a rare region of the code space, and T² alone would
        flag its rows for their level. The median that normalises the term
        is that of the divided term. Returns ``statistics`` with that median.
        """
        layout = self._table.layout_
        codes = level_codes(X, layout)
        latent = mahalanobis_squared(Z, statistics.latent_mean, statistics.latent_precision)
        self._latent_effects = fit_level_effects(latent, codes, level_sizes(layout), weight)
        latent = latent / level_factor(codes, self._latent_effects)
        median = max(weighted_median(latent, weight), np.finfo(np.float64).eps)
        return statistics._replace(latent_median=median)

    def _terms(self, X, Z, E, statistics):
        """The normalised terms of X's rows (see :func:`normalised_terms`).

        On a table the detector encodes, the latent term is divided by the
        factor of the row's levels (:meth:`_fit_latent_levels`).
        """
        reconstruction, latent = normalised_terms(E, Z, statistics)
        if getattr(self, "_table", None) is not None:
            latent = latent / level_factor(
                level_codes(X, self._table.layout_), self._latent_effects
            )
        return reconstruction, latent

    def _encode(self, X):
        """A mixed table in the model space of the default networks.

        The table encoder's standardised numeric columns, then its binary and
        one-hot columns times ``INDICATOR_SCALE``.
        """
        M = self._table.encode(X, handle_unknown="ignore", handle_departures="ignore")
        M[:, self._table.layout_.n_numeric :] *= INDICATOR_SCALE
        return M

    def _codes_and_errors(self, X, fit_weight=False):
        """Codes and per-feature errors of X's rows (see :func:`codes_and_errors`).

        A mixed table encoded by the detector has one error per column of X:
        see :func:`codes_and_table_errors`. Passing ``fit_weight`` (the
        training rows' weights, or None) fits the levels' offsets on X.
        """
        if getattr(self, "_table", None) is None:
            return codes_and_errors(self.estimator_, X)
        fitting = fit_weight is not False
        Z, E, offsets = codes_and_table_errors(
            self.estimator_,
            X,
            self._table.layout_,
            self._level_rates,
            None if fitting else self._level_offsets,
            fit_weight if fitting else None,
        )
        if fitting:
            self._level_offsets = offsets
        return Z, self._table.by_column(E)

    def _numeric_part(self, X):
        """The numeric columns of X in their own units, or None.

        X is the input of the model: a float matrix, a mixed table encoded by
        the detector (whose numeric columns come first, standardised), or a
        table that the estimator reads itself.
        """
        if getattr(self, "_table", None) is not None:
            names = self._table.model_columns()[: self._table.layout_.n_numeric]
            mean = np.array([self._table.params_[name]["mean"] for name in names])
            std = np.array([self._table.params_[name]["std"] for name in names])
            with np.errstate(over="ignore", invalid="ignore"):
                return X[:, : len(names)] * std + mean
        if getattr(self, "_mixed", False):
            return _numeric_values(X, self._numeric_positions)
        return X if isinstance(X, np.ndarray) else None

    def _extreme_rows(self, X):
        """Mask of the rows with a numeric value ``EXTREME`` scales out, or None."""
        center = getattr(self, "_column_center", None)
        if center is None:
            return None
        X = self._numeric_part(X)
        if X is None:
            return None
        with np.errstate(over="ignore", invalid="ignore"):
            distance = np.abs(X - center) / self._column_scale
        # Beyond FLOAT32_REACH a value leaves float32's range however it is
        # scaled. Infinity is not a value but an error, reported where it is
        # scored.
        far = (distance > EXTREME) | (np.abs(X) > FLOAT32_REACH)
        extreme = (far & np.isfinite(X)).any(axis=1)
        return extreme if extreme.any() else None

    def _check_mixed_estimator(self):
        if not (self._is_default() or isinstance(self.estimator, BaseAutoencoder)):
            raise ValueError(
                "X has categorical columns, which only the default networks and "
                "AutoencoderTransformer or VAETransformer read directly; encode them first "
                f"for {type(self.estimator).__name__} (e.g. with a ColumnTransformer and "
                "OneHotEncoder)."
            )

    def _check_input(self, X):
        check_is_fitted(self)
        check_no_datetimes(X)
        if getattr(self, "_mixed", False):
            # The estimator checks and encodes the table.
            validate_data(self, X, skip_check_array=True, reset=False)
            check_min_rows(X, 1, self)
            return X
        if getattr(self, "_table", None) is not None:
            validate_data(self, X, skip_check_array=True, reset=False)
            check_min_rows(X, 1, self)
            return self._encode(X)
        X = validate_data(
            self, X, dtype=[np.float64, np.float32], reset=False, ensure_all_finite="allow-nan"
        )
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
            rows of X, on earlier calls, or on pickling. A row with a value
            too far out to compute with in float32 (beyond 1e37, or more
            than 1e30 robust scales from its column's training median)
            scores ``-inf``: an outlier beyond any other.
        """
        scores = self._score(self._check_input(X))
        if getattr(self, "_table", None) is not None:
            # A category the table never showed in fit, or another value of a
            # numeric column with a single value in fit, is read as a hole by
            # the network; such a row is an outlier beyond any score.
            unknown, departures = self._table.unseen_entries(X)
            scores[unknown.any(axis=1) | departures.any(axis=1)] = -np.inf
        return scores

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
        others. For a mixed table there is one attribution per column: a
        categorical column's one-hot block is summed into one number. The
        latent term (extreme but well-reconstructed rows) is not attributed to
        features.

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
        # A mixed table has one error, so one attribution, per column of X.
        _, E = self._codes_and_errors(X)
        attributions = feature_attributions(E, self._statistics())
        if hasattr(self, "feature_names_in_"):
            return pd.DataFrame(attributions, columns=self.feature_names_in_, index=index)
        return attributions
