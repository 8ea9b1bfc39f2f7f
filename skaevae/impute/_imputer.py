"""VAEImputer: missing values filled from a variational autoencoder's conditional distribution."""

import math
import warnings
from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context, clone, is_regressor
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import MissingIndicator
from sklearn.linear_model import LogisticRegression
from sklearn.utils import get_tags
from sklearn.utils._param_validation import HasMethods, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ..models._params import PARAMS, Count
from ..models._rollback import unchanged_on_error
from ..models._vae import VAETransformer
from ..utils._budget import batch_rows, epochs_for_steps
from ..utils._table import TableEncoder, check_min_rows, is_mixed
from ..utils._validation import check_n_features, check_no_datetimes, draw_seed

# The "auto" training schedule, in optimiser steps: about AUTO_STEPS steps
# (at most AUTO_MAX_EPOCHS epochs), stopping once the training loss has not
# improved for AUTO_PATIENCE_STEPS steps (at least AUTO_MIN_PATIENCE epochs).
AUTO_STEPS = 2000
AUTO_MAX_EPOCHS = 500
AUTO_PATIENCE_STEPS = 200
AUTO_MIN_PATIENCE = 10

# missing_mechanism="self-masking": rows and hidden groups of its fit.
SELF_MASKING_ROWS = 2000
SELF_MASKING_GROUPS = 5
# sample_posterior=True: the calibration of the draws' spread in fit hides this
# share of the observed entries of at most SELF_MASKING_ROWS rows, draws
# CALIBRATION_DRAWS imputations, and scales each column's spread so that
# [min, max] of the draws covers 18/20 = 90% of the hidden values, as
# calibrated draws would; a column with fewer hidden entries keeps scale 1.
CALIBRATION_SHARE = 0.2
CALIBRATION_DRAWS = 19
CALIBRATION_MIN_ENTRIES = 30
CALIBRATION_RANGE = (0.5, 2.0)
# column_estimator: the share of observed entries (of at most
# SELF_MASKING_ROWS rows) hidden to weigh each column's regressor against the
# VAE; a column with fewer than BLEND_MIN_HIDDEN hidden entries or
# BLEND_MIN_TRAIN training entries is imputed by the VAE alone.
BLEND_SHARE = 0.2
BLEND_MIN_HIDDEN = 30
BLEND_MIN_TRAIN = 50
# Each column's regressor reads at most this many other columns: those most
# correlated with it, as IterativeImputer's n_nearest_features chooses.
COLUMN_INPUTS = 32


def _is_nan(value):
    """Whether ``value`` is a NaN scalar (a Python or a numpy float)."""
    return isinstance(value, Real) and math.isnan(value)


def _missing_mask(X, missing_values):
    """Where ``X`` holds ``missing_values`` (NaN, or a number)."""
    if _is_nan(missing_values):
        return np.isnan(X)
    return X == missing_values


def _imputes_as_table(X, column_types):
    """Whether X is imputed as a mixed table: a mixed table, or a DataFrame with a
    nullable integer or boolean column, whose holes must come back as integers or
    booleans."""
    if is_mixed(X, column_types):
        return True
    if not isinstance(X, pd.DataFrame):
        return False
    return any(
        isinstance(dtype, pd.api.extensions.ExtensionDtype)
        and (pd.api.types.is_integer_dtype(dtype) or pd.api.types.is_bool_dtype(dtype))
        for dtype in X.dtypes
    )


def _writable_copy(X):
    """A copy of the array X to fill holes in: object dtype for strings."""
    out = np.array(X, copy=True)
    if out.dtype.kind in "US":
        out = out.astype(object)
    return out


def _fill_empty(column):
    """A column with no observed value in fit, its holes filled with 0.

    SimpleImputer's ``keep_empty_features`` fills such a column with 0; a
    categorical column gains the category 0 for it, and a column whose dtype
    cannot hold 0 (strings) becomes an object column; a boolean one is
    filled with False.
    """
    holes = column.isna()
    if pd.api.types.is_bool_dtype(column.dtype):
        return column.where(~holes, False)
    if isinstance(column.dtype, pd.CategoricalDtype):
        if 0 not in column.cat.categories:
            column = column.cat.add_categories([0])
        return column.where(~holes, 0)
    try:
        return column.where(~holes, 0)
    except (TypeError, ValueError):
        return column.astype(object).where(~holes, 0)


def _fallback_values(frame, column_types):
    """Each column's fill for a row the VAE cannot predict, as plain Python values.

    The observed mean of a continuous column, the rounded mean of an integer
    column, and the most frequent value of a binary or categorical one: what
    SimpleImputer would fill. ``column_types`` is keyed by name for a
    DataFrame, by position among ``frame``'s columns for an array.
    """
    keyed_by_name = isinstance(column_types, dict) and set(column_types) <= set(frame.columns)
    values = []
    for j, name in enumerate(frame.columns):
        column = frame[name].dropna()
        numeric = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
        kind = column_types.get(name if keyed_by_name else j, None)
        if kind is None:
            kind = "continuous" if numeric else "categorical"
        if kind == "continuous":
            value = float(column.astype(float).mean())
        elif kind == "integer":
            value = int(np.rint(column.astype(float).mean()))
        else:
            value = column.mode().iloc[0]
        values.append(value.item() if isinstance(value, np.generic) else value)
    return values


class VAEImputer(TransformerMixin, BaseEstimator):
    """Impute missing values from a variational autoencoder trained on the observed entries.

    A :class:`VAETransformer` is trained on X as it is, holes included: its
    likelihood counts the observed entries only, and its encoder reads the
    observed values and where the holes are. Each missing entry is then
    predicted from the observed entries of its row, by importance sampling
    in the latent space (MIWAE, Mattei & Frellsen, 2019): ``n_draws`` codes
    from the encoder's ``q(z | x_obs)`` are weighted by how well they explain
    the observed entries, and the prediction is the weighted mean of the
    decoder's outputs, an estimate of ``E[x_mis | x_obs]``. With
    ``sample_posterior=True`` each call draws from ``p(x_mis | x_obs)``
    instead, for multiple imputation.

    In a float matrix each column's prediction is then blended with that
    of a regressor of the column on the others (``column_estimator``; by
    default gradient-boosted trees, which read the other columns with their
    holes), with a weight per column chosen on observed entries hidden in
    fit, as HyperImpute chooses a model per column [3]_: the VAE shares
    what it learns across columns and keeps the draws coherent, and the
    trees split exactly on a column's near-copies, which a latent
    bottleneck blurs.

    Observed entries are returned unchanged, and an array comes back as an
    array of its dtype. A row whose observed values are too large for the
    fitted network (far outside the training data's range) gets a
    prediction that is not finite; its holes are then filled with each
    column's observed mean in fit (the most frequent value of a categorical
    or binary column), with a warning. A float matrix is standardised
    internally (with each column's observed mean and standard deviation); a
    DataFrame with categorical columns (or any X with ``column_types``) is
    a mixed table, whose categorical holes are filled with categories and
    integer holes with integers.

    Parameters
    ----------
    missing_values : int or float, default=np.nan
        The placeholder of a missing entry in a float matrix. In a mixed
        table, every entry pandas reads as missing (NaN, None, ``pd.NA``) is
        one, and ``missing_values`` must be ``np.nan``.

    n_components : int or "auto", default="auto"
        Width of the VAE's latent code. ``"auto"`` is ``min(10, n - 1)`` (at
        least 1), with ``n`` the number of modelled columns.

    hidden_layer_sizes : int or array-like of shape (n_layers,), default=(128,)
        Widths of the encoder's hidden layers; the decoder uses them in reverse.

    beta : float, default=1.0
        Weight of the KL term of the VAE's objective (see :class:`VAETransformer`).

    max_iter : int or "auto", default="auto"
        Most epochs of training. ``"auto"`` counts in optimiser steps rather
        than epochs: about 2,000 steps (at most 500 epochs), so small and
        large tables get a similar budget.

    n_iter_no_change : int or "auto", default="auto"
        Epochs without an improvement of the training loss by ``tol`` before
        training stops; ``"auto"`` is the epochs of 200 steps (at least 10).

    tol : float, default=1e-3
        Least improvement of the training loss, in nats per row, that counts.

    batch_size : int or "auto", default="auto"
        Rows per training step; ``"auto"`` is 256 on a CPU (4096 on a GPU),
        at most the number of rows.

    learning_rate_init : float, default=1e-3
        Adam's step size.

    n_draws : int, default=64
        Latent codes drawn per row to predict its missing entries. More
        draws give a better estimate of ``E[x_mis | x_obs]`` at a
        proportional cost in ``transform``.

    n_train_draws : int, default=4
        Codes drawn per row in each training step. With more than one, the
        VAE is trained on the importance-weighted bound (IWAE) with that many
        draws, as MIWAE is, which fits the conditional distributions of an
        incomplete table better than the ELBO at a higher cost per step;
        ``1`` trains on the ELBO.

    sample_posterior : bool, default=False
        Draw each missing entry from ``p(x_mis | x_obs)`` (one draw per call
        of :meth:`transform`, seeded by ``random_state``) instead of taking
        its conditional mean. Use it for multiple imputation: impute with
        several ``random_state`` values (set after fit, each a draw of the
        same fitted model) and pool the analyses. For a float matrix, fit
        then calibrates the draws' spread on observed entries: it hides a
        fifth of the observed entries of at most 2,000 rows, draws 19
        imputations of them, and scales each column's spread around the
        conditional mean (``draw_scale_``) so that the range of the 19
        draws holds 90% of the hidden values, as the range of 19 draws
        from the true conditional distribution holds a 20th draw with
        probability 18/20. This costs 20 passes of prediction over those
        rows; an imputer fitted with ``sample_posterior=False`` and switched
        afterwards draws without this calibration.

    column_estimator : "auto", None or regressor, default="auto"
        The regressor blended with the VAE in each column of a float matrix
        that has holes in fit. Fit hides a fifth of the observed entries of
        at most 2,000 rows, trains a clone of it per such column on the
        column's other observed entries (as features, the 32 other columns
        most correlated with it, or all of them if fewer, standardised), and
        weighs its predictions of the hidden entries
        against the VAE's: the weight ``w`` minimising the squared error of
        ``w * vae + (1 - w) * regressor`` (between 0 and 1) is kept per
        column, in ``column_weights_``. The VAE has trained on the hidden
        entries and the regressor has not, which leans the weights slightly
        towards the VAE. A column complete in fit, or with
        too few entries to weigh (30 hidden, 50 to train on), is imputed by
        the VAE alone. A regressor that accepts NaN (per its ``allow_nan``
        tag) reads the other columns with their holes; any other reads them
        filled by the VAE. ``"auto"`` is
        :class:`~sklearn.ensemble.HistGradientBoostingRegressor` with its
        defaults. ``None`` imputes with the VAE alone: cheaper to fit, and
        as good on tables without near-duplicate columns. A draw of
        ``sample_posterior`` is the blended prediction plus the VAE draw's
        deviation from the VAE's conditional mean. A mixed table is imputed
        by the VAE alone.

    missing_mechanism : {"at-random", "self-masking"}, default="at-random"
        What the holes are assumed to depend on. ``"at-random"``: on the
        observed entries at most (MCAR or MAR); the VAE, trained on the
        observed entries, then predicts the holes without bias. Choose
        ``"self-masking"`` when an entry's own value makes it more (or
        less) likely to be missing, e.g. high incomes left unreported: each
        column ``j`` gets a logistic missingness model
        ``P(missing | x_j) = sigmoid(a_j + b_j x_j)``, as in not-MIWAE
        (Ipsen et al., 2021). If the VAE's prediction of ``x_j`` from the
        rest of its row is Gaussian with mean ``μ`` and variance ``σ_j²``
        among observed entries, a missing ``x_j`` then follows that
        Gaussian tilted by ``exp(b_j x_j)``, which is the Gaussian shifted
        by ``b_j σ_j²``, and the probability of a hole is
        ``sigmoid(c_j + b_j μ)``. So ``b_j`` is fitted by a logistic
        regression of column ``j``'s missingness on the VAE's predictions
        (of observed entries, each predicted with it hidden, in 5 groups),
        ``σ_j²`` is the mean squared error of those predictions, and each
        hole's prediction (or draw) is moved by ``b_j σ_j²``. Fitting costs
        6 extra passes of prediction over at most 2,000 rows. Float
        matrices only. ``b_j`` is fitted on the VAE's own predictions; where
        a regressor is blended in (``column_estimator``), the holes are
        moved from the blended prediction, with ``σ_j²`` its mean squared
        error on the observed entries hidden to weigh it.

    add_indicator : bool, default=False
        Append the missing-value indicator of
        :class:`~sklearn.impute.MissingIndicator` (for the columns with
        holes in fit) to the output.

    keep_empty_features : bool, default=False
        Whether columns with no observed value in fit are kept in the output
        of :meth:`transform`, filled with 0 as
        :class:`~sklearn.impute.SimpleImputer` fills them (False in a
        boolean column; a categorical column gains the category 0, and a
        string column becomes an object column); by default they are
        dropped, as SimpleImputer does.

    column_types : dict or None, default=None
        Types of the columns of a mixed table, as in :class:`VAETransformer`.

    handle_unknown : {"ignore", "error"}, default="ignore"
        What :meth:`transform` does with an observed value of a binary or
        categorical column that fit did not see. ``"ignore"`` keeps it as
        given in the output, and the VAE reads it as missing when it
        imputes the row's holes from the rest of the row (an imputer fills
        holes; it does not judge the observed entries). ``"error"`` refuses
        it with a ``ValueError`` naming the unknown categories, as
        :class:`VAETransformer` does by default.

    device : str, default="auto"
        Device of the VAE: ``"auto"`` (CUDA when available), ``"cpu"``,
        ``"cuda"`` or ``"cuda:N"``.

    random_state : int, RandomState instance or None, default=None
        Seeds the VAE's training, and the draws of ``sample_posterior``.
        The default imputation is deterministic for a fixed ``random_state``.
        Global numpy and torch RNG states are left untouched.

    verbose : int, default=0
        ``1`` prints the VAE's training log.

    progress_bar : bool, default=False
        Show a progress bar of the VAE's training epochs (needs tqdm, the
        ``progress`` extra), as :class:`VAETransformer` does.

    Attributes
    ----------
    estimator_ : VAETransformer
        The fitted VAE, on the standardised non-empty columns (or the mixed
        table).

    n_iter_ : int
        Epochs the VAE trained for.

    loss_curve_ : list of float
        The VAE's mean training loss per epoch (``n_iter_`` values): its
        negative training bound in nats per row (see
        :class:`VAETransformer`), to check that training converged.

    mean_ : ndarray of shape (`n_features_in_`,) or None
        Observed mean of each column of a float matrix (NaN for an empty
        column); None for a mixed table.

    scale_ : ndarray of shape (`n_features_in_`,) or None
        Observed standard deviation of each column of a float matrix (1 where
        it is 0 or the column is empty); None for a mixed table.

    draw_scale_ : ndarray of shape (`n_features_in_`,) or None
        With ``sample_posterior=True`` at fit on a float matrix, each
        column's factor on the spread of the draws around the conditional
        mean (between 0.5 and 2; 1 where too few entries were observed to
        calibrate it); None otherwise.

    column_estimators_ : list of regressors or None
        Per input column, the fitted clone of ``column_estimator`` (None
        where none was fitted: a column complete in fit, with too few
        entries, or whose regressor predicted a value that is not finite);
        None when no
        regressor is blended (``column_estimator=None``, or a mixed table).

    column_weights_ : ndarray of shape (`n_features_in_`,) or None
        Per input column, the weight of the VAE's prediction in the blend
        (1 where the VAE imputes alone, 0 where the regressor does); None
        when no regressor is blended.

    self_masking_shift_ : ndarray of shape (`n_features_in_`,) or None
        Under ``missing_mechanism="self-masking"``, what each column's holes
        are moved by from the at-random prediction, in X's units (0 for a
        column without holes in fit, or empty); None otherwise.

    indicator_ : MissingIndicator or None
        The indicator of ``add_indicator=True``.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`, when X has string column
        names.

    See Also
    --------
    sklearn.impute.SimpleImputer : Column means, medians or modes.
    sklearn.impute.KNNImputer : Means of the nearest rows.
    sklearn.impute.IterativeImputer : Each column regressed on the others, in turns.

    References
    ----------
    .. [1] P.-A. Mattei and J. Frellsen, "MIWAE: Deep Generative Modelling and
       Imputation of Incomplete Data Sets", ICML 2019.
    .. [2] A. Nazábal, P. M. Olmos, Z. Ghahramani and I. Valera, "Handling
       Incomplete Heterogeneous Data using VAEs", Pattern Recognition 2020.
    .. [3] D. Jarrett, B. Cebere, T. Liu, A. Curth and M. van der Schaar,
       "HyperImpute: Generalized Iterative Imputation with Automatic Model
       Selection", ICML 2022.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_diabetes
    >>> from skaevae import VAEImputer
    >>> X = load_diabetes().data
    >>> rng = np.random.default_rng(0)
    >>> X_missing = np.where(rng.random(X.shape) < 0.2, np.nan, X)
    >>> imputer = VAEImputer(max_iter=20, random_state=0)
    >>> X_filled = imputer.fit_transform(X_missing)
    >>> bool(np.isnan(X_filled).any())
    False
    >>> observed = ~np.isnan(X_missing)
    >>> bool((X_filled[observed] == X_missing[observed]).all())
    True
    """

    _parameter_constraints: dict = {
        "missing_values": [Real, Integral],
        "n_components": [Count(1), StrOptions({"auto"})],
        "hidden_layer_sizes": PARAMS["hidden_layer_sizes"].constraint,
        "beta": PARAMS["beta"].constraint,
        "max_iter": [*PARAMS["max_iter"].constraint, StrOptions({"auto"})],
        "n_iter_no_change": [*PARAMS["n_iter_no_change"].constraint, StrOptions({"auto"})],
        "tol": PARAMS["tol"].constraint,
        "batch_size": PARAMS["batch_size"].constraint,
        "learning_rate_init": PARAMS["learning_rate_init"].constraint,
        "n_draws": [Count(1)],
        "n_train_draws": PARAMS["n_train_draws"].constraint,
        "sample_posterior": ["boolean"],
        "column_estimator": [StrOptions({"auto"}), None, HasMethods(["fit", "predict"])],
        "missing_mechanism": [StrOptions({"at-random", "self-masking"})],
        "add_indicator": ["boolean"],
        "keep_empty_features": ["boolean"],
        "column_types": PARAMS["column_types"].constraint,
        "handle_unknown": PARAMS["handle_unknown"].constraint,
        "device": PARAMS["device"].constraint,
        "random_state": PARAMS["random_state"].constraint,
        "verbose": PARAMS["verbose"].constraint,
        "progress_bar": PARAMS["progress_bar"].constraint,
    }

    def __init__(
        self,
        *,
        missing_values=np.nan,
        n_components="auto",
        hidden_layer_sizes=(128,),
        beta=1.0,
        max_iter="auto",
        n_iter_no_change="auto",
        tol=1e-3,
        batch_size="auto",
        learning_rate_init=1e-3,
        n_draws=64,
        n_train_draws=4,
        sample_posterior=False,
        column_estimator="auto",
        missing_mechanism="at-random",
        add_indicator=False,
        keep_empty_features=False,
        column_types=None,
        handle_unknown="ignore",
        device="auto",
        random_state=None,
        verbose=0,
        progress_bar=False,
    ):
        self.missing_values = missing_values
        self.n_components = n_components
        self.hidden_layer_sizes = hidden_layer_sizes
        self.beta = beta
        self.max_iter = max_iter
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.n_draws = n_draws
        self.n_train_draws = n_train_draws
        self.column_estimator = column_estimator
        self.missing_mechanism = missing_mechanism
        self.sample_posterior = sample_posterior
        self.add_indicator = add_indicator
        self.keep_empty_features = keep_empty_features
        self.column_types = column_types
        self.handle_unknown = handle_unknown
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.progress_bar = progress_bar

    # ------------------------------------------------------------------ fit

    def _nan_placeholder(self):
        return _is_nan(self.missing_values)

    def _validate_matrix(self, X, reset):
        X = validate_data(
            self,
            X,
            dtype=[np.float64, np.float32],
            ensure_all_finite="allow-nan" if self._nan_placeholder() else True,
            ensure_min_samples=2 if reset else 1,
            reset=reset,
            copy=False,
        )
        return X, _missing_mask(X, self.missing_values)

    def _schedule(self, n_samples):
        """Epochs and patience in epochs: ``"auto"`` counts them in training steps."""
        batch_size = batch_rows(self.batch_size, n_samples, self.device)
        max_iter, patience = self.max_iter, self.n_iter_no_change
        if max_iter == "auto":
            max_iter = epochs_for_steps(AUTO_STEPS, n_samples, batch_size, at_most=AUTO_MAX_EPOCHS)
        if patience == "auto":
            patience = epochs_for_steps(
                AUTO_PATIENCE_STEPS, n_samples, batch_size, at_least=AUTO_MIN_PATIENCE
            )
        return max_iter, patience

    def _vae(self, n_modelled, n_samples):
        n_components = self.n_components
        if n_components == "auto":
            n_components = max(1, min(10, n_modelled - 1))
        max_iter, patience = self._schedule(n_samples)
        return VAETransformer(
            n_components=n_components,
            hidden_layer_sizes=self.hidden_layer_sizes,
            beta=self.beta,
            max_iter=max_iter,
            n_iter_no_change=patience,
            tol=self.tol,
            batch_size=self.batch_size,
            learning_rate_init=self.learning_rate_init,
            n_train_draws=self.n_train_draws,
            device=self.device,
            column_types=self.column_types,
            handle_unknown=self.handle_unknown,
            random_state=self.random_state,
            verbose=self.verbose,
            progress_bar=self.progress_bar,
        )

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the VAE on the observed entries of X.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Data with missing entries.

        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            The fitted imputer.
        """
        # A fit that raises leaves the imputer as it was.
        with unchanged_on_error(self):
            return self._fit(X)

    def _fit(self, X):
        check_no_datetimes(X)
        self._mixed = _imputes_as_table(X, self.column_types)
        if not self._mixed and self.column_estimator is not None:
            # A bad regressor is refused before the VAE trains.
            self._column_template()
        if self._mixed:
            self._fit_table(X)
        else:
            self._fit_matrix(X)
        self.n_iter_ = self.estimator_.n_iter_
        self.loss_curve_ = list(self.estimator_.loss_curve_)
        self.indicator_ = None
        if self.add_indicator:
            self.indicator_ = MissingIndicator(
                missing_values=self.missing_values if not self._mixed else np.nan,
                error_on_new=False,
            )
            self.indicator_.fit(self._indicator_input(X))
        return self

    def _fit_matrix(self, X):
        X, missing = self._validate_matrix(X, reset=True)
        self._find_empty_columns(missing)
        kept = ~self._empty
        values = np.where(missing, np.nan, X).astype(np.float64)[:, kept]
        self.mean_ = np.full(X.shape[1], np.nan)
        self.mean_[kept] = np.nanmean(values, axis=0)
        std = np.ones(X.shape[1])
        std[kept] = np.nanstd(values, axis=0)
        self.scale_ = np.where(std > 0, std, 1.0)
        standardised = (values - self.mean_[kept]) / self.scale_[kept]
        self.estimator_ = self._fit_vae(self._vae(int(kept.sum()), len(X)), standardised)
        self.column_estimators_ = self.column_weights_ = self.self_masking_shift_ = None
        if self.missing_mechanism == "self-masking":
            # Fitted on the VAE's own predictions, before any regressor.
            slope, variance = self._self_masking_fit(standardised)
        if self.column_estimator is not None:
            estimators, weights, self._column_inputs, errors = self._fit_column_estimators(
                standardised
            )
            self.column_estimators_ = [None] * X.shape[1]
            for j, estimator in zip(np.flatnonzero(kept), estimators, strict=True):
                self.column_estimators_[j] = estimator
            self.column_weights_ = np.ones(X.shape[1])
            self.column_weights_[kept] = weights
            if self.missing_mechanism == "self-masking":
                # The spread of the blended prediction, where there is one.
                variance = np.where(np.isnan(errors), variance, errors)
        self.draw_scale_ = None
        if self.sample_posterior:
            scale = np.ones(X.shape[1])
            scale[kept] = self._draw_scale(standardised)
            self.draw_scale_ = scale
        if self.missing_mechanism == "self-masking":
            shift = np.zeros(X.shape[1])
            shift[kept] = slope * variance * self.scale_[kept]
            self.self_masking_shift_ = shift

    def _rows_for_checks(self, S, rng):
        """At most SELF_MASKING_ROWS rows of S, for the checks of fit."""
        if len(S) > SELF_MASKING_ROWS:
            S = S[np.sort(rng.choice(len(S), SELF_MASKING_ROWS, replace=False))]
        return S

    def _column_template(self):
        """The unfitted regressor of ``column_estimator``, checked."""
        if self.column_estimator == "auto":
            return HistGradientBoostingRegressor(random_state=draw_seed(self.random_state))
        try:
            regressor = is_regressor(self.column_estimator)
        except (AttributeError, TypeError):
            regressor = False
        if not regressor:
            raise ValueError(
                "column_estimator must be 'auto', None or a scikit-learn regressor, got "
                f"{self.column_estimator!r}."
            )
        return self.column_estimator

    def _column_features(self, S, centre, inputs):
        """The features of a column's regressor: the columns ``inputs`` of S,
        with their holes, or filled with the VAE's conditional mean ``centre``."""
        if not self._regressor_reads_holes:
            S = np.where(np.isnan(S), centre, S)
        return S[:, inputs]

    @staticmethod
    def _nearest_columns(S):
        """Per column of S, the at most ``COLUMN_INPUTS`` other columns most
        correlated with it (absolute correlation of the mean-filled columns)."""
        filled = np.nan_to_num(S)
        with np.errstate(divide="ignore", invalid="ignore"):
            correlation = np.abs(np.corrcoef(filled, rowvar=False))
        correlation = np.nan_to_num(np.atleast_2d(correlation))
        np.fill_diagonal(correlation, -1.0)
        n_inputs = min(COLUMN_INPUTS, S.shape[1] - 1)
        # A stable sort: ties go to the earlier column.
        order = np.argsort(-correlation, axis=1, kind="stable")
        return [np.sort(order[j, :n_inputs]) for j in range(S.shape[1])]

    def _hidden_for_checks(self, S):
        """The rows (at most ``SELF_MASKING_ROWS``) and the observed
        entries among them (``BLEND_SHARE`` of them) that the regressors of
        ``column_estimator`` are weighed on, and the draws calibrated on."""
        # A stream of its own, apart from the draws of the other checks of fit.
        rng = np.random.default_rng([draw_seed(self.random_state), 1])
        rows = np.arange(len(S))
        if len(S) > SELF_MASKING_ROWS:
            rows = rng.choice(len(S), SELF_MASKING_ROWS, replace=False)
        hidden = np.zeros(S.shape, dtype=bool)
        hidden[rows] = rng.random((len(rows), S.shape[1])) < BLEND_SHARE
        return rows, hidden & ~np.isnan(S)

    def _fit_column_estimators(self, S):
        """A regressor per column of the standardised matrix S, and its weight.

        Hides ``BLEND_SHARE`` of the observed entries of at most
        ``SELF_MASKING_ROWS`` rows, fits a clone of the regressor per column on
        the column's other observed entries, and returns the clones (None for
        a column imputed by the VAE alone) and, per column, the weight of the
        VAE that minimises the blend's squared error on the hidden entries.
        """
        template = self._column_template()
        try:
            self._regressor_reads_holes = get_tags(template).input_tags.allow_nan
        except (AttributeError, TypeError, ValueError):
            self._regressor_reads_holes = False
        observed = ~np.isnan(S)
        _, hidden = self._hidden_for_checks(S)
        S_hidden = np.where(hidden, np.nan, S)
        checked = np.flatnonzero(hidden.any(axis=1))
        if len(checked) == 0 or S.shape[1] < 2:
            # Nothing to weigh a regressor on, or no other column to read:
            # the VAE alone.
            none = [None] * S.shape[1]
            return none, np.ones(S.shape[1]), none, np.full(S.shape[1], np.nan)
        centre = self._predict(S_hidden[checked], sample_posterior=False)
        full_centre = np.zeros_like(S)
        full_centre[checked] = centre
        filled = S
        if not self._regressor_reads_holes:
            filled = np.where(observed, S, self._predict(S, sample_posterior=False))
        nearest = self._nearest_columns(S)
        estimators, weights, inputs = [], np.ones(S.shape[1]), []
        errors = np.full(S.shape[1], np.nan)
        for j in range(S.shape[1]):
            train = observed[:, j] & ~hidden[:, j]
            check = hidden[:, j]
            if (
                observed[:, j].all()
                or train.sum() < BLEND_MIN_TRAIN
                or check.sum() < BLEND_MIN_HIDDEN
            ):
                estimators.append(None)
                inputs.append(None)
                continue
            estimator = clone(template).fit(
                self._column_features(S[train], filled[train], nearest[j]), S[train, j]
            )
            regressor = estimator.predict(
                self._column_features(S_hidden[check], full_centre[check], nearest[j])
            )
            if not np.isfinite(regressor).all():
                # A regressor that cannot predict every hidden entry: the VAE alone.
                estimators.append(None)
                inputs.append(None)
                continue
            vae, truth = full_centre[check, j], S[check, j]
            gap = vae - regressor
            denominator = gap @ gap
            weight = 1.0 if denominator == 0 else (gap @ (truth - regressor)) / denominator
            weights[j] = float(np.clip(weight, 0.0, 1.0))
            blended = weights[j] * vae + (1.0 - weights[j]) * regressor
            errors[j] = np.mean((truth - blended) ** 2)
            estimators.append(estimator)
            inputs.append(nearest[j])
        return estimators, weights, inputs, errors

    def _blend(self, S, centre):
        """The VAE's conditional mean ``centre`` of the standardised S, blended
        with each column's regressor where S has holes."""
        estimators = getattr(self, "column_estimators_", None)
        if estimators is None:
            return centre
        kept = np.flatnonzero(~self._empty)
        blended = centre.copy()
        for position, j in enumerate(kept):
            estimator, weight = estimators[j], self.column_weights_[j]
            holes = np.isnan(S[:, position])
            if estimator is None or weight == 1.0 or not holes.any():
                continue
            features = self._column_features(S[holes], centre[holes], self._column_inputs[position])
            blended[holes, position] = weight * centre[holes, position] + (
                1.0 - weight
            ) * estimator.predict(features)
        return blended

    def _draw_scale(self, S):
        """Each column's factor on the spread of the draws around the conditional mean.

        Observed entries are hidden, imputed ``CALIBRATION_DRAWS`` times, and
        the factor is the smallest that puts 90% of the hidden values inside
        ``[min, max]`` of their draws (a split-conformal calibration on
        observed entries; see ``sample_posterior``).
        """
        rng = np.random.default_rng(draw_seed(self.random_state))
        if self.column_estimators_ is None:
            S = self._rows_for_checks(S, rng)
            hidden = (rng.random(S.shape) < CALIBRATION_SHARE) & ~np.isnan(S)
        else:
            # The entries the regressors were weighed on, which they did not
            # train on: their errors there are those of a hole.
            rows, hidden = self._hidden_for_checks(S)
            S, hidden = S[rows], hidden[rows]
        S_hidden = np.where(hidden, np.nan, S)
        # A draw is the (blended) centre plus the VAE draw's deviation from
        # the VAE's conditional mean: the deviations are calibrated.
        vae_centre = self._impute(S_hidden, sample_posterior=False)
        centre = self._predict(S_hidden, sample_posterior=False, vae_centre=vae_centre)
        seeds = rng.integers(np.iinfo(np.int32).max, size=CALIBRATION_DRAWS)
        deviations = np.stack(
            [
                self._impute(S_hidden, sample_posterior=True, random_state=int(seed)) - vae_centre
                for seed in seeds
            ]
        )
        deviations = np.nan_to_num(deviations, nan=0.0, posinf=0.0, neginf=0.0)
        low, high = deviations.min(axis=0), deviations.max(axis=0)
        error = np.where(hidden, S - centre, 0.0)
        # The least factor that covers each hidden value.
        with np.errstate(divide="ignore", invalid="ignore"):
            needed = np.where(error > 0, error / high, error / low)
        needed = np.where(error == 0, 0.0, np.nan_to_num(needed, nan=np.inf, posinf=np.inf))
        scale = np.ones(S.shape[1])
        for j in range(S.shape[1]):
            n = hidden[:, j].sum()
            if n >= CALIBRATION_MIN_ENTRIES:
                # Split conformal's rank: covers a new entry with probability >= 0.9.
                rank = min(int(np.ceil(0.9 * (n + 1))), n)
                scale[j] = np.sort(needed[hidden[:, j], j])[rank - 1]
        return np.clip(scale, *CALIBRATION_RANGE)

    def _self_masking_fit(self, S):
        """Each column's slope ``b_j`` and prediction variance ``σ_j²`` under
        logistic self-masking, standardised.

        Fits ``b_j`` of ``P(missing | x_j) = sigmoid(a_j + b_j x_j)`` by a
        logistic regression of the column's missingness on the at-random
        predictions (an observed entry predicted with it hidden); ``σ_j²`` is
        the mean squared error of the predictions of observed entries (see
        ``missing_mechanism``). A hole's shift is ``b_j σ_j²``; 0 for a column
        without holes.
        """
        rng = np.random.default_rng(draw_seed(self.random_state))
        S = self._rows_for_checks(S, rng)
        missing = np.isnan(S)
        predicted = self._predict(S, sample_posterior=False)
        group = rng.integers(SELF_MASKING_GROUPS, size=S.shape)
        for g in range(SELF_MASKING_GROUPS):
            hidden = (group == g) & ~missing
            S_hidden = np.where(hidden, np.nan, S)
            predicted[hidden] = self._predict(S_hidden, sample_posterior=False)[hidden]
        slope, variance = np.zeros(S.shape[1]), np.zeros(S.shape[1])
        for j in range(S.shape[1]):
            holes = missing[:, j]
            if holes.all() or not holes.any():
                continue
            slope[j] = LogisticRegression().fit(predicted[:, [j]], holes).coef_[0, 0]
            variance[j] = np.mean((S[~holes, j] - predicted[~holes, j]) ** 2)
        return slope, variance

    def _fit_table(self, X):
        if self.missing_mechanism != "at-random":
            raise ValueError(
                f"missing_mechanism={self.missing_mechanism!r} is available for a float "
                "matrix only; a mixed table's holes are imputed as missing at random."
            )
        if not self._nan_placeholder():
            raise ValueError(
                "A mixed table's missing entries are those pandas reads as missing; "
                f"missing_values must be np.nan, got {self.missing_values!r}."
            )
        frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X))
        validate_data(self, X, skip_check_array=True, reset=True)
        missing = frame.isna().to_numpy()
        self._find_empty_columns(missing)
        self.mean_ = self.scale_ = self.self_masking_shift_ = self.draw_scale_ = None
        self.column_estimators_ = self.column_weights_ = None
        is_frame = isinstance(X, pd.DataFrame)
        kept = frame.iloc[:, np.flatnonzero(~self._empty)]
        if not is_frame:
            kept = kept.to_numpy()
        # {} makes the VAE read X as a table even without a categorical column.
        column_types = {} if self.column_types is None else self.column_types
        if column_types:
            # The kept columns' types, keyed as the kept columns are.
            names = list(frame.columns[~self._empty])
            column_types = {
                (k if is_frame else names.index(k)): v
                for k, v in column_types.items()
                if k in names
            }
        n_columns = TableEncoder(column_types).fit(kept).layout_.n_columns
        vae = self._vae(n_columns, len(frame)).set_params(column_types=column_types)
        self.estimator_ = self._fit_vae(vae, kept)
        self._fallback = _fallback_values(
            frame.iloc[:, np.flatnonzero(~self._empty)], self.estimator_.column_types_
        )

    def _fit_vae(self, vae, X):
        with warnings.catch_warnings():
            if self.max_iter == "auto":
                # The step budget is the stopping rule.
                warnings.simplefilter("ignore", ConvergenceWarning)
            return vae.fit(X)

    def _find_empty_columns(self, missing):
        """Record the columns with no observed value, and warn about them."""
        self._empty = missing.all(axis=0)
        if self._empty.all():
            raise ValueError(
                "Every column of X is missing entirely: there is nothing to impute from."
            )
        if self._empty.any():
            self._warn_empty(np.flatnonzero(self._empty))

    def _warn_empty(self, columns):
        names = (
            self.feature_names_in_[columns].tolist()
            if hasattr(self, "feature_names_in_")
            else columns.tolist()
        )
        warnings.warn(
            f"Skipping features without any observed values: {names}. "
            + (
                "They are filled with 0."
                if self.keep_empty_features
                else "They are left out of the output; set keep_empty_features=True to keep them."
            ),
            UserWarning,
            stacklevel=4,
        )

    def _indicator_input(self, X):
        if self._mixed:
            frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X))
            return np.where(frame.isna().to_numpy(), np.nan, 0.0)
        return X

    # ------------------------------------------------------------ transform

    def _impute(self, X, sample_posterior=None, random_state=None):
        if sample_posterior is None:
            sample_posterior = self.sample_posterior
        return self.estimator_.impute(
            X,
            n_draws=self.n_draws,
            sample_posterior=sample_posterior,
            random_state=self.random_state if random_state is None else random_state,
        )

    def _predict(self, X, sample_posterior=None, random_state=None, vae_centre=None):
        """The VAE's prediction of every entry of the float matrix X (standardised).

        A draw's spread around the conditional mean is scaled by
        ``draw_scale_`` once that is fitted. ``vae_centre``: the VAE's
        conditional mean of X, where the caller has it already.
        """
        if sample_posterior is None:
            sample_posterior = self.sample_posterior
        if vae_centre is None:
            centre = self._impute(X, sample_posterior=False)
        else:
            centre = vae_centre.copy()
        bad = ~np.isfinite(centre).all(axis=1)
        # The observed mean, which is 0 once standardised.
        centre[bad] = 0.0
        predicted = self._blend(X, centre)
        bad |= ~np.isfinite(predicted).all(axis=1)
        if sample_posterior:
            draw = self._impute(X, sample_posterior=True, random_state=random_state)
            bad |= ~np.isfinite(draw).all(axis=1)
            spread = np.where(bad[:, None], 0.0, draw - centre)
            scale = getattr(self, "draw_scale_", None)
            if scale is not None:
                spread = scale[~self._empty] * spread
            predicted = predicted + spread
        if bad.any():
            self._warn_not_finite(int(bad.sum()))
            predicted[bad] = 0.0
        return predicted

    def _predict_table(self, X):
        """The VAE's prediction of every entry of the mixed table X, as a DataFrame."""
        predicted = self._impute(X)
        if not isinstance(X, pd.DataFrame):
            predicted = pd.DataFrame(np.asarray(predicted, dtype=object))
        # A prediction that is not finite decodes to a missing entry.
        bad = predicted.isna().to_numpy().any(axis=1)
        if bad.any():
            self._warn_not_finite(int(bad.sum()))
            predicted = predicted.copy()
            for j, value in enumerate(self._fallback):
                predicted.iloc[np.flatnonzero(bad), j] = value
        return predicted

    def _warn_not_finite(self, n_rows):
        warnings.warn(
            f"The VAE's prediction for {n_rows} rows is not finite: their observed values "
            "are too large for the fitted network (transform X with the same units and "
            "preprocessing as in fit). Their missing entries are filled with "
            "the column's observed mean in fit (its most frequent value for a "
            "categorical or binary column).",
            UserWarning,
            stacklevel=4,
        )

    def transform(self, X):
        """Fill every missing entry of X.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Data with missing entries; observed entries are returned unchanged.

        Returns
        -------
        X_imputed : ndarray or DataFrame of shape (n_samples, n_features_out)
            X with its holes filled: the conditional mean of each missing
            entry, or with ``sample_posterior=True`` a draw from its
            conditional distribution. Columns empty in fit are dropped (or
            filled with 0 under ``keep_empty_features``), and the missing
            indicator is appended under ``add_indicator``. A DataFrame comes
            back as a DataFrame with its dtypes, an array as an array of its
            dtype.
        """
        check_is_fitted(self)
        check_no_datetimes(X)
        if self._mixed:
            out = self._transform_table(X)
        else:
            out = self._transform_matrix(X)
        if self.indicator_ is not None:
            indicator = self.indicator_.transform(self._indicator_input(X))
            if isinstance(out, pd.DataFrame):
                names = self.indicator_.get_feature_names_out(
                    np.asarray(self._input_names(), dtype=object)
                )
                out = pd.concat(
                    [out, pd.DataFrame(indicator, columns=names, index=out.index)], axis=1
                )
            else:
                out = np.hstack([out, indicator.astype(out.dtype)])
        return out

    def _transform_matrix(self, X):
        X, missing = self._validate_matrix(X, reset=False)
        kept = ~self._empty
        out = np.array(X, dtype=X.dtype, copy=True)
        rows = np.flatnonzero(missing[:, kept].any(axis=1))
        if len(rows):
            values = np.where(missing[rows][:, kept], np.nan, X[rows][:, kept])
            standardised = (values - self.mean_[kept]) / self.scale_[kept]
            predicted = self._predict(standardised.astype(np.float64))
            predicted = predicted * self.scale_[kept] + self.mean_[kept]
            if self.self_masking_shift_ is not None:
                predicted += self.self_masking_shift_[kept]
            block = out[np.ix_(rows, np.flatnonzero(kept))]
            holes = missing[rows][:, kept]
            block[holes] = predicted[holes]
            out[np.ix_(rows, np.flatnonzero(kept))] = block
        if self.keep_empty_features:
            # 0 in the holes of a column empty in fit, as SimpleImputer does.
            out[:, self._empty] = np.where(missing[:, self._empty], 0.0, out[:, self._empty])
            return out
        return out[:, kept]

    def _transform_table(self, X):
        validate_data(self, X, skip_check_array=True, reset=False)
        check_min_rows(X, 1, self)
        is_frame = isinstance(X, pd.DataFrame)
        frame = X if is_frame else pd.DataFrame(np.asarray(X), columns=None)
        check_n_features(frame.shape[1], self.n_features_in_, type(self).__name__)
        kept_columns = frame.columns[~self._empty]
        kept = frame[kept_columns]
        missing = kept.isna().to_numpy()
        rows = np.flatnonzero(missing.any(axis=1))
        # An array comes back as an array of its own dtype (object for
        # strings, which a fixed-width string array would truncate), with
        # only its holes written to.
        out = frame.copy() if is_frame else _writable_copy(X)
        if len(rows):
            part = kept.iloc[rows] if is_frame else kept.iloc[rows].to_numpy()
            predicted = self._predict_table(part)
            for j, name in enumerate(kept_columns):
                holes = missing[rows, j]
                if holes.any():
                    # By position: the index may repeat labels.
                    source = predicted.iloc[np.flatnonzero(holes), j]
                    column = frame.columns.get_loc(name)
                    if not is_frame:
                        out[rows[holes], column] = source.to_numpy()
                    elif holes.all() and len(rows) == len(out):
                        # A column of holes only has whatever dtype pandas
                        # guessed for it: it takes the fitted one.
                        out[name] = source.set_axis(out.index)
                    else:
                        out.iloc[rows[holes], column] = source.to_numpy()
        if self.keep_empty_features:
            for column in np.flatnonzero(self._empty):
                if is_frame:
                    out.isetitem(column, _fill_empty(out.iloc[:, column]))
                else:
                    out[pd.isna(out[:, column]), column] = 0
            return out
        if is_frame:
            return out[kept_columns]
        return out[:, ~self._empty]

    def _input_names(self):
        if hasattr(self, "feature_names_in_"):
            return list(self.feature_names_in_)
        return [f"x{i}" for i in range(self.n_features_in_)]

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Input feature names; by default ``feature_names_in_``, else
            ``x0, x1, ...``.

        Returns
        -------
        feature_names_out : ndarray of str objects
            The kept input names, then the indicator's names under
            ``add_indicator``.
        """
        check_is_fitted(self)
        from sklearn.utils.validation import _check_feature_names_in

        names = _check_feature_names_in(self, input_features)
        out = names if self.keep_empty_features else names[~self._empty]
        if self.indicator_ is not None:
            out = np.concatenate([out, self.indicator_.get_feature_names_out(names)])
        return np.asarray(out, dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        return tags
