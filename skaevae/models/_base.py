"""The estimators' shared behaviour: validation and the fit (inference is in ``_inference.py``)."""

import copy
import warnings
from abc import abstractmethod
from numbers import Integral

import numpy as np
import torch
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import (
    validate_data,
)

from ..nn._networks import check_pca_activation
from ..train._data import RandomSplit, training_batch
from ..train._net import (
    TrainingConfig,
    build_net,
    fit_net,
    history_attributes,
    resume_net,
)
from ..utils._budget import batch_rows, resolve_device
from ..utils._table import TableEncoder, check_min_rows, is_mixed
from ..utils._validation import (
    check_callbacks,
    check_float32_range,
    check_no_datetimes,
    check_observed_columns,
    check_sample_weight,
    draw_seed,
    has_nan,
    local_random_state,
)
from ._fill import add_observed
from ._inference import BatchedInferenceMixin
from ._params import constraints
from ._pca_start import pca_initializer
from ._persist import (
    PlainStateMixin,
)
from ._prior import PriorMixin, check_prior
from ._rollback import unchanged_on_error


class BaseAutoencoder(
    PlainStateMixin,
    PriorMixin,
    BatchedInferenceMixin,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    BaseEstimator,
):
    """Base class for the autoencoder estimators. Holds behaviour only.

    Subclasses name their torch core in ``_module_cls`` and their per-sample
    loss in ``_criterion_cls``, and define how a row is scored and sampled.
    """

    _parameter_constraints: dict = constraints(
        "n_components",
        "hidden_layer_sizes",
        "activation",
        "dropout",
        "encoder",
        "encoder_params",
        "decoder",
        "decoder_params",
        "corruption",
        "corruption_level",
        "prior",
        "init",
        "max_iter",
        "batch_size",
        "learning_rate_init",
        "alpha",
        "early_stopping",
        "validation_fraction",
        "n_iter_no_change",
        "tol",
        "warm_start",
        "device",
        "precision",
        "compile",
        "callbacks",
        "column_types",
        "handle_unknown",
        "random_state",
        "verbose",
        "progress_bar",
    )

    _module_cls = None
    _criterion_cls = None

    @abstractmethod
    def __init__(self):
        """Subclasses write out their full signature."""

    # ------------------------------------------------------------------ fit

    def _module_params(self, n_features):
        return {
            "n_features": n_features,
            "n_components": self.n_components,
            "hidden_layer_sizes": self._hidden_layer_sizes(),
            "activation": self.activation,
            "dropout": self.dropout,
            "layout": self._layout(),
            "missing": self._fitted_with_holes,
            "fill": self._fill_values.tolist(),
            "corruption": self.corruption,
            "corruption_level": self.corruption_level,
            "encoder": self.encoder,
            "encoder_params": self.encoder_params,
            "decoder": self.decoder,
            "decoder_params": self.decoder_params,
        }

    def _criterion_params(self):
        return {}

    def _criterion(self):
        """The per-sample loss class and its parameters."""
        return self._criterion_cls, self._criterion_params()

    def _layout(self):
        """The :class:`~skaevae.utils._layout.ColumnLayout` of a mixed table, else None."""
        table = getattr(self, "_table", None)
        return None if table is None else table.layout_

    @property
    def _n_model_features(self):
        # Width of the network's input and output: the model space of a
        # mixed table, else X's width.
        layout = self._layout()
        return self.n_features_in_ if layout is None else layout.width

    def _model_callbacks(self):
        """Callbacks the model itself needs, as ``(name, callback)`` pairs."""
        return []

    def _warmup_epochs(self):
        return 0

    def _update_statistics(self, X, first_pass):
        """Hook for fitted statistics of the data under the trained network."""

    def _hidden_layer_sizes(self):
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if isinstance(sizes, Integral) else list(sizes)
        if any(isinstance(s, bool) or not isinstance(s, Integral) or s < 1 for s in sizes):
            raise ValueError(
                "hidden_layer_sizes must contain positive integers, "
                f"got {self.hidden_layer_sizes!r}."
            )
        return tuple(int(s) for s in sizes)

    def _batch_size(self, n_samples, device):
        return batch_rows(self.batch_size, n_samples, device)

    def _validate_fit_data(self, X, reset, min_samples=2, incremental=False):
        check_no_datetimes(X)
        if reset:
            mixed = is_mixed(X, self.column_types)
            self._table = TableEncoder(self.column_types).fit(X) if mixed else None
            self.column_types_ = dict(self._table.types_) if mixed else None
        if self._table is not None:
            validate_data(self, X, skip_check_array=True, reset=reset)
            if not reset:
                # Later chunks add their values to what generated rows may take.
                self._table = self._table.with_support_of(X)
            # A numeric column constant in fit is a point mass: another value is
            # scored (as very unlikely), never refused.
            X = self._table.encode(
                X,
                dtype=np.float32,
                handle_unknown=self.handle_unknown,
                handle_departures="ignore",
            )
            check_min_rows(X, min_samples, self)
            if self.init == "pca":
                raise ValueError(
                    "init='pca' needs one float matrix; a mixed table (categorical or "
                    "binary columns, or column_types) is fitted with init='random'."
                )
        else:
            X = validate_data(
                self,
                X,
                dtype=[np.float64, np.float32],
                ensure_min_samples=min_samples,
                ensure_all_finite="allow-nan",
                reset=reset,
            )
            if reset:
                check_observed_columns(X, getattr(self, "feature_names_in_", None))
        check_float32_range(X)
        if reset:
            # Missing entries are filled with the training means (the encoder
            # also reads where they are when the training data has holes).
            self._fitted_with_holes = has_nan(X)
            self._observed_counts, self._observed_sums = 0, 0.0
            self._add_observed(X)
        n_samples, n_features = X.shape
        if self.n_components > n_features:
            if self._table is not None:
                raise ValueError(
                    f"n_components={self.n_components} must be between 1 and {n_features}, "
                    "the width of the table's model space (its modelled numeric and binary "
                    "columns, and one column per category)."
                )
            raise ValueError(
                f"n_components={self.n_components} must be between 1 and n_features={n_features}."
            )
        if self.init == "pca":
            check_pca_activation(self.activation)
            if self.encoder is not None or self.decoder is not None:
                raise ValueError(
                    "init='pca' sets the built-in MLPs; with your own encoder or decoder "
                    "use init='random'."
                )
        if self.corruption == "masking" and self.corruption_level >= 1:
            raise ValueError(
                "corruption_level is the probability of hiding a column with "
                f"corruption='masking' and must be below 1, got {self.corruption_level!r}."
            )
        if self.early_stopping and not incremental and n_samples < 3:
            raise ValueError(
                f"early_stopping=True needs at least 3 samples to hold out a validation "
                f"set; got n_samples={n_samples}."
            )
        return X

    def _pca_initializer(self, X, sample_weight, seed, early_stopping):
        """For ``init="pca"``, the function that sets the module from PCA of X, else None."""
        if self.init != "pca":
            return None
        return pca_initializer(
            X,
            sample_weight,
            n_components=self.n_components,
            activation=self.activation,
            fill_values=self._fill_values,
            validation_fraction=self.validation_fraction,
            seed=seed,
            early_stopping=early_stopping,
        )

    def _training_config(self, n_samples, device, seed, max_iter, early_stopping):
        return TrainingConfig(
            max_iter=max_iter,
            batch_size=self._batch_size(n_samples, device),
            learning_rate_init=self.learning_rate_init,
            alpha=self.alpha,
            early_stopping=early_stopping,
            validation_fraction=self.validation_fraction,
            n_iter_no_change=self.n_iter_no_change,
            tol=self.tol,
            device=device,
            precision=self.precision,
            compile=self.compile,
            seed=seed,
            verbose=self.verbose,
            warmup_epochs=self._warmup_epochs(),
            progress_bar=self.progress_bar,
            # Copies: skorch initialises callbacks in place, and fit must not
            # change the estimator's parameters.
            callbacks=[*self._model_callbacks(), *copy.deepcopy(check_callbacks(self.callbacks))],
        )

    # Parameters the network is built from: partial_fit and a warm-started
    # fit continue only while they are unchanged.
    _structural_params = (
        "n_components",
        "hidden_layer_sizes",
        "activation",
        "dropout",
        "encoder",
        "encoder_params",
        "decoder",
        "decoder_params",
        "corruption",
        "corruption_level",
        "column_types",
        "device",
        "precision",
        "compile",
    )

    def _structure(self):
        params = self.get_params(deep=False)
        # Copies: a dict parameter edited in place must not change the record.
        structure = {name: copy.deepcopy(params[name]) for name in self._structural_params}
        structure["hidden_layer_sizes"] = self._hidden_layer_sizes()
        return structure

    def _check_structure(self, method):
        """Raise if a parameter the fitted network was built from has changed since."""
        fitted = self._fitted_structure
        for name, value in self._structure().items():
            if value != fitted[name]:
                raise ValueError(
                    f"{method} continues the fitted network, which was built with "
                    f"{name}={fitted[name]!r}; got {name}={value!r}. Set it back, or call "
                    "fit (with warm_start=False) to build a new network."
                )

    def _fit_condition(self, y, X, sample_weight, reset, classes=None):
        """Hook: each training row's condition as a float32 array, and its summary.

        Returns ``(condition, summary)``, both None for an unconditional
        model; ``summary`` is passed to :meth:`_record_condition` once the
        call has trained, so a call that fails changes nothing. ``classes``
        are the labels a conditional model is given on its first call.
        """
        return None, None

    def _record_condition(self, summary, accumulate):
        """Hook: keep the fitted statistics of the conditions (see :meth:`_fit_condition`)."""

    def _fit(self, X, sample_weight=None, incremental=False, y=None, classes=None):
        """Train on X (see :meth:`_train`); a call that raises changes nothing.

        Any exception, ``KeyboardInterrupt`` (Ctrl-C) included, leaves the
        estimator as it was before the call: its attributes, its network's
        weights and optimiser state, its training history and its random
        generator.
        """
        with unchanged_on_error(self):
            return self._train(X, sample_weight, incremental, y, classes)

    def _train(self, X, sample_weight, incremental, y, classes=None):
        """Train on X: a new network, or more epochs of the fitted one.

        A new network (not fitted yet, or ``fit`` without ``warm_start``) is
        built and trained for up to ``max_iter`` epochs. ``fit`` with
        ``warm_start=True`` trains the fitted network for up to ``max_iter``
        more epochs, with its optimiser state, and recomputes the statistics
        of the codes on X. ``incremental`` (``partial_fit``) trains for one
        epoch on X, without early stopping, and adds X to the running
        statistics, as ``MLPRegressor.partial_fit`` and
        ``IncrementalPCA.partial_fit`` do. Each call draws its seed from one
        generator kept from the first, so calls shuffle and draw differently
        and a sequence of calls is reproducible. Sample weights are scaled to
        mean 1 within each call.
        """
        resume = hasattr(self, "net_") and (incremental or self.warm_start)
        check_prior(self.prior)
        if resume:
            # _fit_context validates only a first fit; parameters that apply
            # at each call are checked here too.
            self._validate_params()
            self._check_structure("partial_fit" if incremental else "fit with warm_start=True")
        X = self._validate_fit_data(
            X,
            reset=not resume,
            min_samples=1 if resume and incremental else 2,
            incremental=incremental,
        )
        if resume and has_nan(X) and np.isnan(X).all():
            raise ValueError("X has no observed value (only NaN): there is nothing to train on.")
        n_samples, n_features = X.shape
        sample_weight = check_sample_weight(sample_weight, X)
        if sample_weight is not None:
            sample_weight = sample_weight / sample_weight.mean()
        condition, condition_summary = self._fit_condition(
            y, X, sample_weight, reset=not resume, classes=classes
        )
        # The seed is drawn once the input is accepted: a refused call does
        # not change what later calls draw.
        if not resume:
            self._random_state = local_random_state(self.random_state)
        seed = draw_seed(self._random_state)
        early_stopping = self.early_stopping and not incremental
        epochs = 1 if incremental else self.max_iter
        if not resume:
            device = resolve_device(self.device)
            config = self._training_config(n_samples, device, seed, epochs, early_stopping)
            net = build_net(
                self._module_cls, self._module_params(n_features), *self._criterion(), config
            )
            init_module = self._pca_initializer(X, sample_weight, seed, early_stopping)
            self.n_components_ = self.n_components
            self._fitted_structure = self._structure()
        else:
            net, device, init_module = self.net_, self._device(), None
            self._resume_net(net, n_samples, seed, early_stopping, incremental)
        # X as one float32 tensor, moved to the device once for the whole fit;
        # a float32 X is used in place on the CPU (training never writes to it).
        weight = None
        if sample_weight is not None:
            weight = torch.from_numpy(sample_weight.astype(np.float32)).to(device)
        layout = self._layout()
        columns = None if layout is None else layout.column_starts()
        batch = training_batch(X, weight, device, self._fill_values, columns)
        if condition is not None:
            batch.condition = torch.from_numpy(condition).to(device)
        n_before = len(net.history) if resume else 0
        fit_net(net, batch, seed, init_module=init_module, epochs=epochs if resume else None)
        del batch

        self.net_ = net
        self._record_condition(condition_summary, accumulate=incremental and resume)
        self._record_history(
            net, early_stopping, check_convergence=not incremental, n_before=n_before
        )
        self._update_statistics(X, first_pass=not (incremental and resume))
        self._fit_prior(X, sample_weight, condition, seed)
        if incremental and resume:
            self._update_fill(X)
        return self

    def _resume_net(self, net, n_samples, seed, early_stopping, incremental):
        """Set the fitted ``net``'s training parameters for another call."""
        resume_net(
            net,
            batch_size=self._batch_size(n_samples, net.device),
            train_split=RandomSplit(self.validation_fraction, seed) if early_stopping else None,
            incremental=incremental,
            early_stopping=early_stopping,
            n_iter_no_change=self.n_iter_no_change,
            tol=self.tol,
            start_epoch=self._warmup_epochs(),
            learning_rate_init=self.learning_rate_init,
            alpha=self.alpha,
            epochs=1 if incremental else self.max_iter,
            progress_bar=self.progress_bar,
        )
        self._resume_model(net)

    def _resume_model(self, net):
        """Hook: apply the model's own parameters (the VAE's beta and warm-up) to ``net``."""

    def _add_observed(self, X):
        """Add X's observed values to the running sums; the fill values are their mean."""
        self._observed_counts, self._observed_sums, self._fill_values = add_observed(
            self._observed_counts, self._observed_sums, X
        )

    def _update_fill(self, X):
        """Make the fill of missing entries the mean of every observed value seen so far."""
        self._add_observed(X)
        fill = self._module.entries.fill
        fill.copy_(torch.as_tensor(self._fill_values, dtype=fill.dtype))

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None, sample_weight=None):
        """Train for one pass over X, continuing from the current network.

        The first call builds the network and trains it for one epoch;
        each further call is one epoch over the rows given, continuing the
        weights, the optimiser state and the KL warm-up, so a model can be
        trained on data streamed in chunks that do not fit in memory at
        once. ``early_stopping`` does not apply: no rows are held out.
        ``n_iter_`` and ``loss_curve_`` grow by one per call, and the fitted
        statistics (the mean of the observed values used to fill missing
        entries, and the mean and covariance of the codes) are running
        statistics over every row passed so far, each chunk's codes taken
        under the network of its call. The parameters the network is built
        from (``n_components``, ``hidden_layer_sizes``, ``activation``,
        ``dropout``, ``encoder`` and ``decoder`` with their parameters,
        ``corruption`` and ``corruption_level``, ``column_types``,
        ``device``, ``precision``, ``compile`` and, for the VAE,
        ``n_train_draws``) must not change between calls; the step size, weight
        decay, batch size and, for the VAE, ``beta`` and ``kl_warmup`` take
        effect at the next call. A mixed table's encoding (its categories
        and the standardisation of its numeric columns) is fitted on the
        first call, as are the column types, the ranges its numeric columns
        are decoded within, and a column constant in the first chunk: make
        the first chunk representative, or declare ``column_types``. The
        running mean and covariance of the codes mix codes of early and late
        networks, so after several passes they are narrower than the final
        network's codes: for :meth:`sample`, finish with a pass of ``fit``
        with ``warm_start=True`` (which recomputes them) on a sample of the
        rows. ``compile`` applies to the first call, and ``callbacks`` are
        those of the first call. A call that raises leaves the model as it
        was.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            A chunk of training data, with the columns of the first call.
            The first call needs at least two rows and an observed value in
            every column; later calls take any number of rows.

        y : Ignored
            Not used, present for API consistency by convention.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each row, scaled to mean 1 within the call.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, sample_weight, incremental=True)

    def _record_history(self, net, early_stopping, check_convergence, n_before=0):
        """The fitted attributes of the training history (all calls so far)."""
        for name, value in history_attributes(net, early_stopping, n_before).items():
            setattr(self, name, value)
        if check_convergence and len(net.history) - n_before == self.max_iter:
            warnings.warn(
                f"{type(self).__name__}: maximum iterations ({self.max_iter}) reached "
                "and the optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=5,
            )

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Fit the model to X.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Training data. Standardise a float matrix first (e.g. with
            :class:`~sklearn.preprocessing.StandardScaler`): the defaults are
            chosen for features of unit scale. A DataFrame with categorical
            columns (or any X with ``column_types``) is a mixed table, which
            the model standardises and encodes itself. Missing entries (NaN)
            are left out of the training loss.

        y : Ignored
            Not used, present for API consistency by convention.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each row in the training loss (a weighted
            mean over each batch). ``None`` weighs rows equally.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, sample_weight)

    # ------------------------------------------------------------ inference

    def __sklearn_is_fitted__(self):
        return hasattr(self, "net_")

    @property
    def _n_features_out(self):
        return self.n_components_

    # Defined here, not in the inference mixin: scikit-learn's set_output wraps
    # the transform of a TransformerMixin subclass's own class dict.
    def transform(self, X):
        """Encode X into the latent space.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to encode; a row with missing entries (NaN) is encoded from
            its observed ones.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components)
            The codes, in X's floating dtype.
        """
        return self._transform(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        # Mixed tables: categorical and string columns of a DataFrame.
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        # Missing entries (NaN) are left out of the likelihood.
        tags.input_tags.allow_nan = True
        return tags
