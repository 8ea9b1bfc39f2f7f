"""The estimators' shared behaviour: validation, the fit, batched inference."""

import contextlib
import copy
import warnings
from abc import abstractmethod
from numbers import Integral

import numpy as np
import torch
from sklearn import get_config
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import (
    assert_all_finite,
    check_array,
    check_is_fitted,
    validate_data,
)

from ..nn._batch import Batch
from ..nn._losses import column_errors_from_mean
from ..nn._networks import check_pca_activation
from ..train._data import RandomSplit, split_rows
from ..train._net import (
    TrainingConfig,
    autocast,
    build_net,
    fast_inference,
    fit_net,
)
from ..utils._budget import batch_rows, resolve_device
from ..utils._memory import inference_batch_rows
from ..utils._moments import RunningMoments
from ..utils._pca import principal_axes
from ..utils._table import TableEncoder, check_min_rows, is_mixed
from ..utils._validation import (
    _is_float32_tensor_ready,
    as_float32_tensor,
    check_callbacks,
    check_finite_output,
    check_float32_range,
    check_n_features,
    check_no_datetimes,
    check_observed_columns,
    check_sample_weight,
    draw_seed,
    has_nan,
    local_random_state,
)
from ._params import constraints
from ._persist import (
    net_from_state,
    net_to_state,
    plain,
    random_state_from_state,
    random_state_to_state,
    table_from_state,
    table_to_state,
)


def tensor_batches(X, batch_size, device):
    """Yield ``(start, stop, x)``: float32 tensors of consecutive row slices of ``X``.

    A writable float32 C-contiguous ``X`` is sliced without copying; anything
    else is converted one batch at a time, so at most one batch-sized copy
    exists beyond the input.
    """
    zero_copy = _is_float32_tensor_ready(X)
    for start in range(0, X.shape[0], batch_size):
        stop = min(start + batch_size, X.shape[0])
        if zero_copy:
            x = torch.from_numpy(X[start:stop])
        else:
            # Overflow becomes inf here; the caller's check reports it as sklearn would.
            with np.errstate(over="ignore"):
                x = torch.from_numpy(np.array(X[start:stop], dtype=np.float32, order="C"))
        yield start, stop, x.to(device, non_blocking=True)
        # Drop this batch before the next one is made: one batch at a time.
        del x


@contextlib.contextmanager
def unchanged_on_error(estimator):
    """Put ``estimator`` back as it was if the block raises (Ctrl-C included).

    The attributes are restored from a shallow copy of ``__dict__``; what a
    call changes in place is copied in full: the random generator, the
    running moments, and a fitted net's weights, optimiser state, history
    length and per-call settings.
    """
    saved = dict(estimator.__dict__)
    for name in ("_random_state", "_latent_moments"):
        if name in saved:
            saved[name] = copy.deepcopy(saved[name])
    net = saved.get("net_")
    if net is not None:
        net_state = (
            copy.deepcopy(net.module_.state_dict()),
            copy.deepcopy(net.optimizer_.state_dict()),
            len(net.history),
            net.batch_size,
            net.train_split,
        )
    try:
        yield
    except BaseException:
        if net is not None:
            module, optimizer, n_epochs, batch_size, train_split = net_state
            del net.history[n_epochs:]
            net.module_.load_state_dict(module)
            net.optimizer_.load_state_dict(optimizer)
            net.batch_size, net.train_split = batch_size, train_split
        estimator.__dict__.clear()
        estimator.__dict__.update(saved)
        raise


class BaseAutoencoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
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
        "random_state",
        "verbose",
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
            X = self._table.encode(X, dtype=np.float32)
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
        """For ``init="pca"``, the function that sets the module from PCA of X, else None.

        With early stopping, the PCA is of the rows training sees: the
        validation rows of the split ``seed`` makes get weight 0 (no copy of
        X), unless the training rows carry no weight at all.
        """
        if self.init != "pca":
            return None
        if early_stopping:
            n_samples = len(X)
            weight = np.ones(n_samples) if sample_weight is None else sample_weight.copy()
            weight[split_rows(n_samples, self.validation_fraction, seed)[1].numpy()] = 0.0
            if weight.sum() > 0:
                sample_weight = weight
        if has_nan(X):
            # PCA of the rows with their holes filled by the column means.
            X = np.where(np.isnan(X), self._fill_values, X)
        mean, variances, components = principal_axes(X, sample_weight)
        k = self.n_components
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
        residual = np.maximum((components[k:] ** 2 * variances[k:, None]).sum(axis=0), floor)
        # A direction without variance is not whitened (scale 1, not 1 / 0).
        kept = np.where(variances[:k] > floor, variances[:k], 1.0)
        activation = self.activation

        def init_module(module):
            module.init_pca(mean, components[:k], kept, residual, activation)

        return init_module

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

    def _fit_condition(self, y, X, sample_weight, reset):
        """Hook: each training row's condition as a float32 array, and its summary.

        Returns ``(condition, summary)``, both None for an unconditional
        model; ``summary`` is passed to :meth:`_record_condition` once the
        call has trained, so a call that fails changes nothing.
        """
        return None, None

    def _record_condition(self, summary, accumulate):
        """Hook: keep the fitted statistics of the conditions (see :meth:`_fit_condition`)."""

    def _fit(self, X, sample_weight=None, incremental=False, y=None):
        """Train on X (see :meth:`_train`); a call that raises changes nothing.

        Any exception, ``KeyboardInterrupt`` (Ctrl-C) included, leaves the
        estimator as it was before the call: its attributes, its network's
        weights and optimiser state, its training history and its random
        generator.
        """
        with unchanged_on_error(self):
            return self._train(X, sample_weight, incremental, y)

    def _train(self, X, sample_weight, incremental, y):
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
        condition, condition_summary = self._fit_condition(y, X, sample_weight, reset=not resume)
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
        batch = self._training_batch(X, weight, device)
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
        if incremental and resume:
            self._update_fill(X)
        return self

    def _resume_net(self, net, n_samples, seed, early_stopping, incremental):
        """Set the fitted ``net``'s training parameters for another call.

        The module and optimiser state carry over; the step size, weight
        decay, batch size, validation split and stopping rule are this
        call's. ``partial_fit`` neither holds rows out nor stops early.
        """
        net.batch_size = self._batch_size(n_samples, net.device)
        net.train_split = RandomSplit(self.validation_fraction, seed) if early_stopping else None
        callbacks = dict(net.callbacks_)
        stopper = callbacks["stop_when_not_improving"]
        stopper.active = not incremental
        stopper.monitor = "valid_loss" if early_stopping else "train_loss"
        stopper.load_best = early_stopping
        stopper.patience = self.n_iter_no_change
        stopper.threshold = self.tol
        stopper.start_epoch = self._warmup_epochs()
        for group in net.optimizer_.param_groups:
            group["lr"] = self.learning_rate_init
            group["weight_decay"] = self.alpha
        self._resume_model(net)

    def _resume_model(self, net):
        """Hook: apply the model's own parameters (the VAE's beta and warm-up) to ``net``."""

    def _add_observed(self, X):
        """Add X's observed values to the running sums; the fill values are their mean."""
        missing = np.isnan(X) if has_nan(X) else None
        counts = len(X) if missing is None else (~missing).sum(axis=0)
        sums = (X if missing is None else np.where(missing, 0.0, X)).sum(axis=0, dtype=np.float64)
        self._observed_counts = self._observed_counts + counts
        self._observed_sums = self._observed_sums + sums
        self._fill_values = self._observed_sums / np.maximum(self._observed_counts, 1)

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
        ``dropout``, ``column_types``, ``device``, ``precision``,
        ``compile``) must not change between calls; the step size, weight
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

    def _training_batch(self, X, weight, device):
        """The training rows as one :class:`~skaevae.nn._batch.Batch` on ``device``.

        Rows without holes travel as they are (a float32 X without a copy on
        the CPU). With holes, the missing entries are filled with the module's
        fill values and the batch carries the mask of observed entries, one
        per table column.
        """
        if not has_nan(X):
            return Batch(as_float32_tensor(X).to(device), weight)
        missing = np.isnan(X)
        fill = self._fill_values
        x = np.where(missing, fill, X).astype(np.float32)
        layout = self._layout()
        if layout is not None:
            missing = missing[:, layout.column_starts()]
        mask = torch.from_numpy((~missing).astype(np.float32))
        return Batch(torch.from_numpy(x).to(device), weight, mask.to(device))

    def _record_history(self, net, early_stopping, check_convergence, n_before=0):
        """The fitted attributes of the training history (all calls so far)."""
        history = net.history
        self.n_iter_ = len(history)
        self.loss_curve_ = [float(v) for v in history[:, "train_loss"]]
        if early_stopping:
            # The validation losses of this call's epochs.
            self.validation_loss_curve_ = [float(v) for v in history[n_before:, "valid_loss"]]
            self.best_loss_ = None
            # The epoch whose parameters early stopping restored: the last one
            # that improved by at least tol after the warm-up (else the last).
            best_epoch = dict(net.callbacks_)["stop_when_not_improving"].best_epoch_
            if best_epoch <= n_before:
                best_epoch = len(history)
            self.best_validation_loss_ = float(history[best_epoch - 1, "valid_loss"])
        else:
            self.validation_loss_curve_ = None
            self.best_loss_ = min(self.loss_curve_)
            self.best_validation_loss_ = None
        if check_convergence and len(history) - n_before == self.max_iter:
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

    # ---------------------------------------------------------- persistence

    def __getstate__(self):
        # Plain data only (see skaevae.models._persist): pickle and skops.io store
        # the network as its build arguments and weights, not as objects.
        state = dict(super().__getstate__())
        if "net_" in state:
            state["net_"] = {"__net__": net_to_state(state["net_"])}
        if "_table" in state:
            state["_table"] = table_to_state(state["_table"])
        if "_random_state" in state:
            state["_random_state"] = random_state_to_state(state["_random_state"])
        if "_latent_moments" in state:
            state["_latent_moments"] = {"__moments__": dict(vars(state["_latent_moments"]))}
        return plain(state)

    def __setstate__(self, state):
        state = dict(state)
        net = state.pop("net_", None)
        if "_table" in state:
            state["_table"] = table_from_state(state["_table"])
        if "_random_state" in state:
            state["_random_state"] = random_state_from_state(state["_random_state"])
        moments = state.get("_latent_moments")
        if isinstance(moments, dict) and "__moments__" in moments:
            state["_latent_moments"] = RunningMoments.from_state(moments["__moments__"])
        super().__setstate__(state)
        if net is not None:
            self.net_ = net_from_state(self, net["__net__"])

    # ------------------------------------------------------------ inference

    def __sklearn_is_fitted__(self):
        return hasattr(self, "net_")

    @property
    def _n_features_out(self):
        return self.n_components_

    @property
    def _module(self):
        return self.net_.module_

    def _device(self):
        # The net's device, which skorch maps to the CPU when a model fitted
        # on a GPU is unpickled on a machine without one.
        return self.net_.device

    def _check_input(self, X, ensure_all_finite=True):
        # transform and score_samples pass ensure_all_finite=False: _map_batches
        # checks each batch while it is in cache, instead of a separate pass
        # over all of X.
        check_is_fitted(self)
        check_no_datetimes(X)
        if self._table is not None:
            validate_data(self, X, skip_check_array=True, reset=False)
            check_min_rows(X, 1, self)
            return self._table.encode(X)
        return validate_data(
            self,
            X,
            dtype=[np.float64, np.float32],
            reset=False,
            ensure_all_finite="allow-nan" if ensure_all_finite else False,
        )

    def _codes_and_column_errors(self, M):
        """Codes and per-column errors of model-space rows ``M`` of a mixed table.

        The errors are :func:`~skaevae.nn._losses.column_errors_from_mean` of the
        decoded codes; the outlier detector's reconstruction term.
        """
        layout, module, k = self._layout(), self._module, self.n_components_

        def codes_and_errors(x):
            x, mask = module.observed(x)
            z = module.encode(x, mask)
            if isinstance(z, tuple):
                z = z[0]
            errors = column_errors_from_mean(x, module.decode(z), layout)
            # Missing columns have no error: NaN, as in (X - X̂)² of a plain X.
            errors = torch.where(mask > 0, errors, torch.nan)
            return torch.cat([z, errors], dim=-1)

        out = self._map_batches(codes_and_errors, M, k + layout.n_columns, np.float64)
        return out[:, :k], out[:, k:]

    def _score_encoded(self, M):
        """:meth:`score_samples` of model-space rows ``M`` of a mixed table."""
        return self._map_batches(self._score_batch, M, None, np.float64, draws=self._score_draws)

    def _to_table(self, M):
        """Model-space rows as rows of the fitted table (a mixed table's schema), else M."""
        return M if self._table is None else self._table.decode(M)

    def _map_batches(
        self,
        fn,
        X,
        n_out,
        dtype,
        draws=1,
        check_finite=False,
        check_output=None,
        allow_inf=False,
    ):
        """Apply ``fn`` (tensor batch → tensor) to ``X`` in batches, into a new array.

        Output is written into one preallocated array, so memory stays at the
        input, the output and one batch, sized from ``working_memory`` by
        :func:`~skaevae.utils._memory.inference_batch_rows` for activations of
        ``draws`` rows per row of X (the VAE's importance samples). With
        ``check_finite``, each batch of X is checked for NaN and infinity as
        :func:`~sklearn.utils.validation.check_array` would, and float64 values
        for overflow of float32. Under scikit-learn's ``assume_finite`` a
        float32 X is not checked (as ``check_array`` skips its own pass), and
        a float64 X only for overflow.

        With ``check_output`` (the public method's name), the output is
        checked as :func:`check_finite_output` does (NaN only with
        ``allow_inf``). Each batch's output is summed while in cache; the exact
        pass over the whole output runs only when the total of those sums is
        not finite.
        """
        check_finite = check_finite and (X.dtype == np.float64 or not get_config()["assume_finite"])
        module = self._module
        device = self._device()
        n_rows = X.shape[0]
        batch_size = inference_batch_rows(draws * self._activation_bytes(), n_rows, device)
        # Fitted modules are left in evaluation mode: switching modes walks
        # every submodule, which costs more than a small batch.
        if module.training:
            module.eval()
        out = np.empty((n_rows,) if n_out is None else (n_rows, n_out), dtype=dtype)
        total = torch.zeros((), device=device) if check_output is not None else None
        with (
            torch.inference_mode(),
            autocast(device, self.precision),
            # Each row of X is ``draws`` rows of the network's work.
            fast_inference(device, draws * n_rows),
        ):
            for start, stop, x in tensor_batches(X, batch_size, device):
                # A finite sum proves the batch finite; otherwise (NaN, inf,
                # or an overflow of finite values) sklearn's exact check decides.
                if check_finite and not torch.isfinite(x.sum()):
                    # NaN marks a missing entry; infinity is an error.
                    assert_all_finite(
                        X[start:stop],
                        allow_nan=True,
                        input_name="X",
                        estimator_name=type(self).__name__,
                    )
                    # X has no infinity, so its float32 copy overflowed (or only the sum did).
                    if torch.isinf(x).any():
                        check_float32_range(np.asarray(X[start:stop]))
                y = fn(x)
                if check_output is not None:
                    # Same rule as the input's: a finite (or, with allow_inf,
                    # non-NaN) sum of all the batches' sums proves the output;
                    # otherwise (a bad value, or a sum that overflowed) the
                    # exact check below decides. No host sync per batch.
                    total += y.sum(dtype=torch.float32)
                out[start:stop] = y.float().cpu().numpy()
                del x, y
        if check_output is not None:
            suspect = bool(torch.isnan(total) if allow_inf else ~torch.isfinite(total))
            if suspect:
                check_finite_output(out, check_output, allow_inf=allow_inf)
        return out

    def _activation_bytes(self):
        # One row's widest float32 activation: the bytes a batch's largest
        # buffer takes per row. A user network without Linear layers (a
        # convolution's width is not known here) counts as the input's width.
        widest = max(
            (
                max(m.in_features, m.out_features)
                for m in self._module.modules()
                if isinstance(m, torch.nn.Linear)
            ),
            default=self._n_model_features,
        )
        return 4 * widest

    @abstractmethod
    def _encode(self, x):
        """The deterministic code of each row of tensor ``x``."""

    @abstractmethod
    def _score_batch(self, x):
        """Per-row score (higher = more normal) of tensor ``x``, ``(n,)``."""

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
        X = self._check_input(X, ensure_all_finite=False)
        return self._map_batches(
            self._encode,
            X,
            self.n_components_,
            X.dtype,
            check_finite=True,
            check_output="transform",
        )

    def inverse_transform(self, X):
        """Decode latent codes back to input space (the decoder's mean).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Latent codes, e.g. the output of :meth:`transform`.

        Returns
        -------
        X_original : ndarray or DataFrame of shape (n_samples, n_features)
            The decoded rows; for a mixed table, in its schema (a DataFrame
            with the fitted columns and dtypes if it was fitted on one): the
            most likely value of binary and categorical columns, the
            expected value of numeric ones, integer columns rounded.
        """
        check_is_fitted(self)
        Z = check_float32_range(check_array(X, dtype=[np.float64, np.float32]))
        check_n_features(
            Z.shape[1],
            self.n_components_,
            f"{type(self).__name__}.inverse_transform",
            "features (n_components)",
        )
        X_original = self._map_batches(
            self._module.decode,
            Z,
            self._n_model_features,
            Z.dtype,
            check_output="inverse_transform",
        )
        return self._to_table(X_original)

    def score_samples(self, X):
        """Per-row score under the model; higher means more normal.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            One score per row, a function of the row alone up to float32
            rounding: scored alone or among other rows, a row's score can
            differ in the last digits (a relative 1e-6), since vectorised
            kernels choose their code path by the number of rows.
        """
        X = self._check_input(X, ensure_all_finite=False)
        # -inf is a meaningful (worst) score; NaN is not.
        return self._map_batches(
            self._score_batch,
            X,
            None,
            np.float64,
            draws=self._score_draws,
            check_finite=True,
            check_output="score_samples",
            allow_inf=True,
        )

    # Rows of activations per row of X when scoring.
    _score_draws = 1

    def score(self, X, y=None):
        """Mean of :meth:`score_samples` over the rows of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data.

        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        score : float
            The mean per-row score; higher is better, so
            :class:`~sklearn.model_selection.GridSearchCV` needs no scorer.
        """
        return float(np.mean(self.score_samples(X)))

    @abstractmethod
    def _sample_codes(self, n_samples, rng):
        """Latent codes to decode in :meth:`sample`, ``(n_samples, n_components)``."""

    def _sample_noise(self, n_samples, rng):
        """Standard noise that :meth:`_decode_sample` turns into output noise; none by default."""
        return None

    def _decode_sample(self, z, noise):
        """Rows generated from the codes ``z`` (and ``noise``): the decoder's output by default."""
        return self._module.decode(z)

    def sample(self, n_samples=1, random_state=None):
        """Generate rows in input space.

        Parameters
        ----------
        n_samples : int, default=1
            Number of rows to generate.

        random_state : int, RandomState instance or None, default=None
            Seed of the draws. ``None`` seeds from fresh OS entropy; numpy's
            and torch's global RNG states are never used.

        Returns
        -------
        X : ndarray or DataFrame of shape (n_samples, n_features)
            Generated rows (float32); for a mixed table, in its schema (see
            :meth:`inverse_transform`).
        """
        check_is_fitted(self)
        if isinstance(n_samples, bool) or not isinstance(n_samples, Integral) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}.")
        rng = local_random_state(random_state)
        z = self._sample_codes(n_samples, rng).astype(np.float32)
        # All the draws are made here, from rng, so the rows do not depend on
        # how inference batches them.
        noise = self._sample_noise(n_samples, rng)
        k = z.shape[1]
        if noise is not None:
            z = np.hstack([z, noise.astype(np.float32)])
        X = self._map_batches(
            lambda zn: self._decode_sample(zn[:, :k], zn[:, k:]),
            z,
            self._n_model_features,
            np.float32,
        )
        return self._to_table(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        # Mixed tables: categorical and string columns of a DataFrame.
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        # Missing entries (NaN) are left out of the likelihood.
        tags.input_tags.allow_nan = True
        return tags
