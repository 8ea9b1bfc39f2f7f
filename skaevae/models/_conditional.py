"""ConditionalVAETransformer: a VAE conditioned on class labels."""

import numpy as np
import torch
from sklearn.base import _fit_context
from sklearn.utils import column_or_1d
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _num_samples, check_consistent_length

from ._params import fill_parameter_docs
from ._prior import prior_rows
from ._vae import N_IMPORTANCE_SAMPLES, VAETransformer


@fill_parameter_docs
class ConditionalVAETransformer(VAETransformer):
    """Conditional variational autoencoder: a VAE told each row's class.

    Encoder and decoder both read the row's class ``y`` (one-hot, appended
    to their inputs): ``q(z | x, y)`` and ``p(x | z, y)``, with the prior
    ``p(z) = N(0, I)`` shared by all classes (Sohn et al., 2015). The code
    then carries what varies within a class (style), the label what differs
    between classes, and :meth:`sample` draws rows of a chosen class:
    class-aware data augmentation, or over-sampling a rare class (see
    :class:`VAEOverSampler`).

    ``fit(X, y)`` needs the labels. Every other method takes ``y`` as an
    option: given, it conditions on it; without it, the model marginalises
    over the class prior ``class_prior_`` fitted on the training labels.
    :meth:`score_samples` is then ``log Σ_k π_k p(x | k)``, :meth:`transform`
    the posterior mean ``Σ_k p(k | x) μ(x, k)`` with ``p(k | x) ∝ π_k p(x |
    k)``, :meth:`inverse_transform` the mean ``Σ_k π_k E[x | z, k]``, and
    :meth:`sample` draws the classes from the prior; so the estimator keeps
    scikit-learn's transformer contract (``fit_transform(X, y)`` equals
    ``fit(X, y).transform(X)``) and works in a ``Pipeline``. Marginalising
    costs one pass per class.

    Parameters
    ----------
    [[n_components]]

    [[hidden_layer_sizes]]

    [[activation]]

    [[dropout]]

    [[encoder]]

    [[encoder_params]]

    [[decoder]]

    [[decoder_params]]

    [[corruption]]

    [[corruption_level]]

    beta : float, default=1.0
        Weight of the KL term (see :class:`VAETransformer`).

    kl_warmup : int, default=10
        Epochs over which the KL weight rises to ``beta`` (see
        :class:`VAETransformer`).

    [[n_train_draws]]

    prior : {"normal", "mixture"} or estimator, default="normal"
        The distribution of the codes :meth:`sample` draws from, per class:
        N(0, I), or a :class:`~sklearn.mixture.GaussianMixture` (or the
        estimator given, cloned) fitted to posterior draws of the training
        rows of each class (see :class:`VAETransformer`).

    init : {"random"}, default="random"
        Torch's random initialisation; ``"pca"`` is not available for a
        conditional model.

    [[max_iter]]

    [[batch_size]]

    [[learning_rate_init]]

    alpha : float, default=1e-4
        Strength of the L2 penalty (Adam's ``weight_decay``).

    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows and stop when their
        negative ELBO stops improving.

    [[validation_fraction]]

    [[n_iter_no_change]]

    tol : float, default=1e-4
        Minimum improvement of the monitored loss, in nats per row.

    [[warm_start]]

    [[device]]

    [[precision]]

    [[compile]]

    [[callbacks]]

    [[column_types]]

    [[handle_unknown]]

    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling, dropout, the reparameterised
        draws and the validation split, through local generators.

    verbose : int, default=0
        ``1`` prints a line per epoch.

    [[progress_bar]]

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels seen in :meth:`fit` (or given to the first
        :meth:`partial_fit`).

    class_prior_ : ndarray of shape (n_classes,)
        Share of each class in the training rows (weighted by
        ``sample_weight``), the prior over which methods called without
        ``y`` marginalise.

    prior_ : list of estimators or None
        The prior fitted to the codes of each class, in the order of
        ``classes_`` (None for a class without training rows yet), or None
        for ``prior="normal"``.

    net_ : skorch.NeuralNet
        The trained net.

    n_components_ : int
        Width of the latent code.

    n_iter_ : int
        Number of epochs run.

    loss_curve_ : list of float
        Mean training loss (negative ELBO, nats per row) per epoch.

    validation_loss_curve_ : list of float or None
        Mean validation loss per epoch when ``early_stopping=True``.

    best_loss_ : float or None
        Lowest training loss, when ``early_stopping=False``.

    best_validation_loss_ : float or None
        Lowest validation loss, when ``early_stopping=True``.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`, when X has string column
        names.

    column_types_ : dict or None
        The type of each column of a mixed table, or ``None``.

    See Also
    --------
    VAETransformer : The unconditional model.
    VAEOverSampler : Over-sampling rare classes with this model, in
        imbalanced-learn's API.

    References
    ----------
    .. [1] K. Sohn, H. Lee and X. Yan, "Learning Structured Output
       Representation using Deep Conditional Generative Models", NeurIPS 2015.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skaevae import ConditionalVAETransformer
    >>> X, y = load_digits(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> cvae = ConditionalVAETransformer(n_components=4, max_iter=10, random_state=0)
    >>> cvae.fit(X, y).classes_
    array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    >>> cvae.sample(5, y=3, random_state=0).shape
    (5, 64)
    >>> cvae.transform(X[:3], y=y[:3]).shape
    (3, 4)
    """

    _parameter_constraints: dict = {**VAETransformer._parameter_constraints}

    def __init__(
        self,
        n_components=2,
        *,
        hidden_layer_sizes=(128, 64),
        activation="relu",
        dropout=0.0,
        encoder=None,
        encoder_params=None,
        decoder=None,
        decoder_params=None,
        corruption=None,
        corruption_level=0.2,
        beta=1.0,
        kl_warmup=10,
        n_train_draws=1,
        prior="normal",
        init="random",
        max_iter=200,
        batch_size="auto",
        learning_rate_init=1e-3,
        alpha=1e-4,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        warm_start=False,
        device="auto",
        precision="float32",
        compile=False,
        callbacks=None,
        column_types=None,
        handle_unknown="error",
        random_state=None,
        verbose=0,
        progress_bar=False,
    ):
        super().__init__(
            n_components=n_components,
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            dropout=dropout,
            encoder=encoder,
            encoder_params=encoder_params,
            decoder=decoder,
            decoder_params=decoder_params,
            corruption=corruption,
            corruption_level=corruption_level,
            beta=beta,
            kl_warmup=kl_warmup,
            n_train_draws=n_train_draws,
            prior=prior,
            init=init,
            max_iter=max_iter,
            batch_size=batch_size,
            learning_rate_init=learning_rate_init,
            alpha=alpha,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            tol=tol,
            warm_start=warm_start,
            device=device,
            precision=precision,
            compile=compile,
            callbacks=callbacks,
            column_types=column_types,
            handle_unknown=handle_unknown,
            random_state=random_state,
            verbose=verbose,
            progress_bar=progress_bar,
        )

    # ------------------------------------------------------------------ fit

    def _module_params(self, n_features):
        return {**super()._module_params(n_features), "n_conditions": len(self.classes_)}

    def _validate_fit_data(self, X, reset, min_samples=2, incremental=False):
        if self.init == "pca":
            raise ValueError(
                "init='pca' is not available for ConditionalVAETransformer; use init='random'."
            )
        return super()._validate_fit_data(X, reset, min_samples, incremental)

    def _fit_condition(self, y, X, sample_weight, reset, classes=None):
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is "
                "None: give the class of each row."
            )
        y = column_or_1d(y, warn=True)
        check_consistent_length(X, y)
        if reset:
            labels = _sorted_labels(y, check_targets=True)
            self.classes_ = labels if classes is None else classes
        index = self._class_index(y)
        condition = np.zeros((len(y), len(self.classes_)), dtype=np.float32)
        condition[np.arange(len(y)), index] = 1.0
        weight = np.ones(len(y)) if sample_weight is None else sample_weight
        return condition, np.bincount(index, weights=weight, minlength=len(self.classes_))

    def _learned_prior(self, X, sample_weight, condition, rng, seed):
        # One prior per class, fitted to the codes of its rows under its
        # condition; partial_fit keeps the prior of a class absent from a call.
        previous = getattr(self, "prior_", None)
        n_classes = len(self.classes_)
        keep = isinstance(previous, list) and len(previous) == n_classes
        priors = list(previous) if keep else [None] * n_classes
        labels = condition.argmax(axis=1)
        for k in range(n_classes):
            rows = np.flatnonzero(labels == k)
            if len(rows) == 0:
                continue
            weight = None if sample_weight is None else sample_weight[rows]
            rows = rows[prior_rows(len(rows), weight, rng)]
            side = {"condition": condition[rows]}
            priors[k] = self._fitted_prior(X[rows], side, rng, priors[k], seed + k)
        return priors

    def _sample_codes(self, n_samples, rng, side):
        priors = getattr(self, "prior_", None)
        if priors is None:
            return self._default_codes(n_samples, rng)
        labels = side["condition"].argmax(axis=1)
        codes = np.empty((n_samples, self.n_components_))
        for k in np.unique(labels):
            rows = np.flatnonzero(labels == k)
            codes[rows] = self._codes_from(priors[k], len(rows), rng)
        return codes

    def _record_condition(self, summary, accumulate):
        counts = summary + self._class_counts if accumulate else summary
        self._class_counts = counts
        self.class_prior_ = counts / counts.sum()

    def _class_index(self, y):
        """Index in ``classes_`` of each label of ``y``; unknown labels raise."""
        y = np.asarray(y)
        try:
            index = np.searchsorted(self.classes_, y)
        except TypeError as error:
            raise ValueError(
                f"y has labels of another type than the fitted classes {self.classes_!r}."
            ) from error
        index = np.clip(index, 0, len(self.classes_) - 1)
        unknown = self.classes_[index] != y
        if np.any(unknown):
            raise ValueError(
                f"y contains labels not seen in fit: {np.unique(y[unknown])[:5]!r}; "
                f"the fitted classes are {self.classes_!r}."
            )
        return index

    def _one_hot(self, y, n_rows, method):
        """The one-hot condition of ``y`` for ``n_rows`` rows (float32)."""
        y = column_or_1d(np.asarray(y), warn=True)
        if len(y) != n_rows:
            raise ValueError(
                f"y has {len(y)} labels but X has {n_rows} rows in {method}; give one "
                "label per row."
            )
        one_hot = np.zeros((n_rows, len(self.classes_)), dtype=np.float32)
        one_hot[np.arange(n_rows), self._class_index(y)] = 1.0
        return one_hot

    def _labels_of(self, X, y, method):
        """The class of each row of X: ``y`` itself, or one label repeated; never None."""
        if y is None:
            raise ValueError(
                f"{type(self).__name__}.{method} requires y, the class of the rows of X."
            )
        if np.ndim(y) == 0:
            return np.full(_num_samples(X), y)
        return y

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to X given the class of each row.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Training data (see :meth:`VAETransformer.fit`).

        y : array-like of shape (n_samples,)
            Class label of each row.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each row in the training loss and in
            ``class_prior_``.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, sample_weight, y=y)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train for one pass over X, continuing from the current network.

        As :meth:`VAETransformer.partial_fit`, with the class of each row.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            A chunk of training data.

        y : array-like of shape (n_samples,)
            Class label of each row.

        classes : array-like of shape (n_classes,), default=None
            Every class of the stream, given on the first call (as to
            scikit-learn's incremental classifiers) and ignored afterwards.
            ``None`` on the first call takes the classes of its ``y``; a
            class the first chunk lacks is then unknown to the model.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each row, scaled to mean 1 within the call.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        if classes is not None:
            classes = _sorted_labels(column_or_1d(np.asarray(classes)))
            if hasattr(self, "net_") and not np.array_equal(classes, self.classes_):
                raise ValueError(
                    f"classes={classes!r} is not the same as on the first call to "
                    f"partial_fit, {self.classes_!r}."
                )
        return self._fit(X, sample_weight, incremental=True, y=y, classes=classes)

    # ------------------------------------------------------------ inference

    # The condition travels by name beside the rows. A method given y sees
    # each row's one-hot class; without y, the methods marginalise over the
    # classes, weighted by the posterior p(k | x) (codes, scores) or the prior
    # π_k (decoded codes).

    def _side_inputs(self, y, n_rows, method):
        if y is None:
            return {}
        return {"condition": self._one_hot(y, n_rows, method)}

    def _inference_draws(self, method, side):
        if method == "score_samples" or (method == "transform" and not side):
            # Every class is scored, one after another: a batch holds the
            # importance draws of one class at a time.
            return N_IMPORTANCE_SAMPLES
        if method == "inverse_transform" and not side:
            return len(self.classes_)
        return 1

    def _class_log_likelihoods(self, x, mask):
        """``log p(x_obs | k)`` of each row for every class ``k``, ``(n, n_classes)``."""
        module = self._module
        eps = self._importance_draws()
        columns = [
            module.importance_log_likelihood(x, eps, mask, condition)
            for condition in self._class_conditions(x)
        ]
        return torch.stack(columns, dim=-1)

    def _class_conditions(self, x):
        """The one-hot condition of each class in turn, for the rows of ``x``."""
        n_classes = len(self.classes_)
        eye = torch.eye(n_classes, dtype=x.dtype, device=x.device)
        return [eye[k].expand(len(x), n_classes) for k in range(n_classes)]

    def _log_prior(self, like):
        return torch.log(torch.as_tensor(self.class_prior_, dtype=like.dtype, device=like.device))

    def _score_batch(self, x, condition=None):
        x, mask = self._module.observed(x)
        if condition is not None:
            log_likelihood = self._module.importance_log_likelihood(
                x, self._importance_draws(), mask, condition
            )
        else:
            # log p(x) = log Σ_k π_k p(x | k), marginal over the class prior.
            log_joint = self._class_log_likelihoods(x, mask) + self._log_prior(x)
            log_likelihood = torch.logsumexp(log_joint, dim=-1)
        return log_likelihood + self._log_jacobian(mask)

    def _encode(self, x, condition=None):
        module = self._module
        x, mask = module.observed(x)
        if condition is not None:
            return module.encode(x, mask, condition)[0]
        # The posterior mean Σ_k p(k | x) μ(x, k).
        log_joint = self._class_log_likelihoods(x, mask) + self._log_prior(x)
        posterior = torch.softmax(log_joint, dim=-1)  # (n, n_classes)
        z = 0.0
        for k, class_condition in enumerate(self._class_conditions(x)):
            z = z + posterior[:, k : k + 1] * module.encode(x, mask, class_condition)[0]
        return z

    def _decode(self, z, condition=None):
        module = self._module
        if condition is not None:
            return module.decode(z, condition)
        # The mean over the class prior, Σ_k π_k E[x | z, k].
        prior = torch.exp(self._log_prior(z))
        return sum(
            prior[k] * module.decode(z, class_condition)
            for k, class_condition in enumerate(self._class_conditions(z))
        )

    def _sample_side_inputs(self, n_samples, y, rng):
        if y is None:
            y = self.classes_[rng.choice(len(self.classes_), size=n_samples, p=self.class_prior_)]
        elif np.ndim(y) == 0:
            y = np.full(n_samples, y)
        return {"condition": self._one_hot(y, n_samples, "sample")}

    def transform(self, X, y=None):
        """Encode X as posterior means.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to encode; missing entries (NaN) are allowed.

        y : array-like of shape (n_samples,), default=None
            Class of each row: the code is then ``μ(x, y)``. Without it, the
            mean of the posterior marginalised over the classes, ``Σ_k p(k |
            x) μ(x, k)``.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components)
            The codes, in X's floating dtype; deterministic.
        """
        return self._transform(X, y)

    def score_samples(self, X, y=None):
        """Log-likelihood of each row, in nats (importance-weighted estimate).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data.

        y : array-like of shape (n_samples,), default=None
            Class of each row: the score is then ``log p(x | y)``. Without
            it, ``log p(x) = log Σ_k π_k p(x | k)``, marginal over the class
            prior.

        Returns
        -------
        log_likelihood : ndarray of shape (n_samples,)
            One score per row, a function of the row alone up to float32
            rounding (see :meth:`VAETransformer.score_samples` for missing
            entries).
        """
        return self._score_samples(X, y)

    def score(self, X, y=None):
        """Mean of :meth:`score_samples` over the rows of X (given y, if passed).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data.

        y : array-like of shape (n_samples,), default=None
            Class of each row; see :meth:`score_samples`.

        Returns
        -------
        score : float
            The mean per-row log-likelihood.
        """
        return float(np.mean(self.score_samples(X, y)))

    def inverse_transform(self, X, y=None):
        """Decode latent codes back to input space (the decoder's mean).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Latent codes.

        y : array-like of shape (n_samples,), default=None
            Class of each row. Without it, the mean over the class prior,
            ``Σ_k π_k E[x | z, k]``.

        Returns
        -------
        X_original : ndarray or DataFrame of shape (n_samples, n_features)
            The decoded rows (in a mixed table's schema, see
            :meth:`VAETransformer.inverse_transform`).
        """
        return self._inverse_transform(X, y)

    def sample(self, n_samples=1, y=None, random_state=None, *, conditions=None):
        """Generate rows of given classes: ``z ~ p(z | y)``, ``x ~ p(x | z, y)``.

        ``p(z | y)`` is N(0, I), or the class's learned prior in ``prior_``
        (see ``prior``). With ``conditions``, the rows are drawn given the
        values of some columns as well, by sampling importance resampling
        (see :meth:`VAETransformer.sample`); where ``y`` is None, each row's
        class is resampled with its code, so it follows the given values.

        Parameters
        ----------
        n_samples : int, default=1
            Number of rows to generate.

        y : label or array-like of shape (n_samples,), default=None
            The class of the rows: one label for all of them, or one per
            row. ``None`` draws each row's class from ``class_prior_``
            (pass ``y`` to know the classes of the rows).

        random_state : int, RandomState instance or None, default=None
            Seed of the draws; global RNG states are never used.

        conditions : dict, default=None
            Values to generate rows for, ``{column: value}`` (see
            :meth:`VAETransformer.sample`).

        Returns
        -------
        X : ndarray or DataFrame of shape (n_samples, n_features)
            Generated rows (float32), in a mixed table's schema if it was
            fitted on one (see :meth:`VAETransformer.sample`).
        """
        return self._sample(n_samples, y, random_state, conditions=conditions)

    def sample_near(self, X, y, *, n_samples=1, random_state=None):
        """Generate rows near the rows of X, given their class.

        As :meth:`VAETransformer.sample_near`: each new row picks a row
        ``x_i`` of X uniformly, draws a code from ``q(z | x_i, y_i)`` and a
        row from ``p(x | z, y_i)``.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_rows, n_features)
            The rows to draw near.

        y : label or array-like of shape (n_rows,)
            The class of the rows of X: one label for all of them, or one
            per row; the new rows have the class of the row they are near.

        n_samples : int, default=1
            Number of rows to generate.

        random_state : int, RandomState instance or None, default=None
            Seed of the draws; global RNG states are never used.

        Returns
        -------
        X_new : ndarray or DataFrame of shape (n_samples, n_features)
            Generated rows (float32), in a mixed table's schema if it was
            fitted on one.
        """
        return self._sample_near(X, n_samples, random_state, y=self._labels_of(X, y, "sample_near"))

    def impute(
        self, X, y, *, n_draws=N_IMPORTANCE_SAMPLES, sample_posterior=False, random_state=None
    ):
        """Predict every entry of X from the observed entries of its row, given its class.

        As :meth:`VAETransformer.impute`, under ``p(x | y)``.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Rows with missing entries (NaN).

        y : label or array-like of shape (n_samples,)
            The class of the rows: one label for all of them, or one per row.

        n_draws : int, default=64
            Importance draws per row.

        sample_posterior : bool, default=False
            A draw from ``p(x | x_obs, y)`` instead of its mean.

        random_state : int, RandomState instance or None, default=None
            Seed of the draws with ``sample_posterior=True``.

        Returns
        -------
        X_pred : ndarray or DataFrame of shape (n_samples, n_features)
            Every entry predicted, observed ones included.
        """
        y = self._labels_of(X, y, "impute")
        return self._impute(X, n_draws, sample_posterior, random_state, y=y)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags


def _sorted_labels(y, check_targets=False):
    """The distinct labels of ``y``, sorted; a ValueError if they cannot be ordered.

    With ``check_targets``, ``y`` must also be class labels (not continuous).
    """
    try:
        if check_targets:
            check_classification_targets(y)
        return np.unique(y)
    except TypeError as error:
        raise ValueError(
            f"The labels of y cannot be sorted ({error}); use labels of one type, "
            "such as strings or integers."
        ) from error
