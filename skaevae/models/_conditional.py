"""ConditionalVAETransformer: a VAE conditioned on class labels."""

from numbers import Integral

import numpy as np
import torch
from sklearn.base import _fit_context
from sklearn.utils import column_or_1d
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_consistent_length, check_is_fitted

from ..utils._validation import check_float32_range, local_random_state
from ._params import fill_parameter_docs
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

    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling, dropout, the reparameterised
        draws and the validation split, through local generators.

    verbose : int, default=0
        ``1`` prints a line per epoch.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels seen in :meth:`fit` (or given to the first
        :meth:`partial_fit`).

    class_prior_ : ndarray of shape (n_classes,)
        Share of each class in the training rows (weighted by
        ``sample_weight``), the prior over which methods called without
        ``y`` marginalise.

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
        random_state=None,
        verbose=0,
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
            random_state=random_state,
            verbose=verbose,
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

    def _fit_condition(self, y, X, sample_weight, reset):
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is "
                "None: give the class of each row."
            )
        y = column_or_1d(y, warn=True)
        check_consistent_length(X, y)
        if reset:
            labels = _sorted_labels(y, check_targets=True)
            classes = self._partial_fit_classes
            self.classes_ = labels if classes is None else classes
        index = self._class_index(y)
        condition = np.zeros((len(y), len(self.classes_)), dtype=np.float32)
        condition[np.arange(len(y)), index] = 1.0
        weight = np.ones(len(y)) if sample_weight is None else sample_weight
        return condition, np.bincount(index, weights=weight, minlength=len(self.classes_))

    # Set by partial_fit for its first call.
    _partial_fit_classes = None

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
            if not hasattr(self, "net_"):
                self._partial_fit_classes = classes
            elif not np.array_equal(classes, self.classes_):
                raise ValueError(
                    f"classes={classes!r} is not the same as on the first call to "
                    f"partial_fit, {self.classes_!r}."
                )
        try:
            return self._fit(X, sample_weight, incremental=True, y=y)
        finally:
            self.__dict__.pop("_partial_fit_classes", None)

    # ------------------------------------------------------------ inference

    def _class_log_likelihoods(self, x, mask):
        """``log p(x_obs | k)`` of each row for every class ``k``, ``(n, n_classes)``."""
        module = self._module
        eps = self._importance_draws()
        n_classes = len(self.classes_)
        eye = torch.eye(n_classes, dtype=x.dtype, device=x.device)
        columns = []
        for k in range(n_classes):
            condition = eye[k].expand(len(x), n_classes)
            columns.append(module.importance_log_likelihood(x, eps, mask, condition))
        return torch.stack(columns, dim=-1)

    def _log_prior(self, like):
        return torch.log(torch.as_tensor(self.class_prior_, dtype=like.dtype, device=like.device))

    def _score_batch(self, x):
        # log p(x) = log Σ_k π_k p(x | k), marginal over the class prior.
        x, mask = self._module.observed(x)
        log_joint = self._class_log_likelihoods(x, mask) + self._log_prior(x)
        return torch.logsumexp(log_joint, dim=-1) + self._log_jacobian(mask)

    def _encode(self, x):
        # The posterior mean Σ_k p(k | x) μ(x, k).
        module = self._module
        x, mask = module.observed(x)
        log_joint = self._class_log_likelihoods(x, mask) + self._log_prior(x)
        posterior = torch.softmax(log_joint, dim=-1)  # (n, n_classes)
        n_classes = len(self.classes_)
        eye = torch.eye(n_classes, dtype=x.dtype, device=x.device)
        z = 0.0
        for k in range(n_classes):
            z_loc = module.encode(x, mask, eye[k].expand(len(x), n_classes))[0]
            z = z + posterior[:, k : k + 1] * z_loc
        return z

    # The classes are scored one after another: a batch holds the importance
    # draws of one class at a time.
    _score_draws = N_IMPORTANCE_SAMPLES

    def _with_labels(self, M, y, method):
        """Model-space rows ``M`` with the one-hot of ``y`` appended (float64)."""
        return np.hstack([M, self._one_hot(y, len(M), method)])

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
        M = self._check_input(X, ensure_all_finite=False)
        if y is None:
            # The marginal code scores every class: importance draws per row.
            encode, inputs, draws = self._encode, M, N_IMPORTANCE_SAMPLES
        else:
            width, module = M.shape[1], self._module

            def encode(xc):
                x, mask = module.observed(xc[:, :width])
                return module.encode(x, mask, xc[:, width:])[0]

            inputs, draws = self._with_labels(M, y, "transform"), 1
        return self._map_batches(
            encode,
            inputs,
            self.n_components_,
            M.dtype,
            draws=draws,
            check_finite=True,
            check_output="transform",
        )

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
        if y is None:
            return super().score_samples(X)
        M = self._check_input(X, ensure_all_finite=False)
        width = M.shape[1]
        module = self._module
        eps = self._importance_draws()

        def score(xc):
            x, mask = module.observed(xc[:, :width])
            log_likelihood = module.importance_log_likelihood(x, eps, mask, xc[:, width:])
            return log_likelihood + self._log_jacobian(mask)

        return self._map_batches(
            score,
            self._with_labels(M, y, "score_samples"),
            None,
            np.float64,
            draws=N_IMPORTANCE_SAMPLES,
            check_finite=True,
            check_output="score_samples",
            allow_inf=True,
        )

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
        check_is_fitted(self)
        Z = check_float32_range(check_array(X, dtype=[np.float64, np.float32]))
        if Z.shape[1] != self.n_components_:
            raise ValueError(
                f"X has {Z.shape[1]} features, but {type(self).__name__}.inverse_transform "
                f"is expecting {self.n_components_} features (n_components) as input."
            )
        k, module = self.n_components_, self._module
        n_classes = len(self.classes_)
        if y is None:

            def decode(z):
                eye = torch.eye(n_classes, dtype=z.dtype, device=z.device)
                prior = torch.exp(self._log_prior(z))
                return sum(
                    prior[c] * module.decode(z, eye[c].expand(len(z), n_classes))
                    for c in range(n_classes)
                )

            inputs = Z
        else:

            def decode(zc):
                return module.decode(zc[:, :k], zc[:, k:])

            inputs = np.hstack([Z, self._one_hot(y, len(Z), "inverse_transform")])
        X_original = self._map_batches(
            decode,
            inputs,
            self._n_model_features,
            Z.dtype,
            draws=1 if y is not None else n_classes,
            check_output="inverse_transform",
        )
        return self._to_table(X_original)

    def sample(self, n_samples=1, y=None, random_state=None):
        """Generate rows of given classes: ``z ~ N(0, I)``, ``x ~ p(x | z, y)``.

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

        Returns
        -------
        X : ndarray or DataFrame of shape (n_samples, n_features)
            Generated rows (float32), in a mixed table's schema if it was
            fitted on one.
        """
        check_is_fitted(self)
        if isinstance(n_samples, bool) or not isinstance(n_samples, Integral) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}.")
        rng = local_random_state(random_state)
        if y is None:
            y = self.classes_[rng.choice(len(self.classes_), size=n_samples, p=self.class_prior_)]
        elif np.ndim(y) == 0:
            y = np.full(n_samples, y)
        one_hot = self._one_hot(y, n_samples, "sample")
        z = rng.standard_normal((n_samples, self.n_components_))
        noise = self._sample_noise(n_samples, rng)
        k, c = self.n_components_, one_hot.shape[1]
        module = self._module
        inputs = np.hstack([z, one_hot, noise]).astype(np.float32)

        def draw(zcn):
            px = module.generative(zcn[:, :k], zcn[:, k : k + c])
            return px.sample(noise=zcn[:, k + c :])

        X = self._map_batches(draw, inputs, self._n_model_features, np.float32)
        return self._to_table(X)

    def _sample_near(self, M, label, n_samples, rng):
        """``n_samples`` rows of class ``label`` drawn near the model-space rows ``M``.

        Each row picks a row ``x_i`` of ``M`` uniformly, draws a code from its
        posterior ``q(z | x_i, label)`` and a row from ``p(x | z, label)``:
        new rows of the class that vary around its real ones as the model
        learned rows vary. ``M`` (float, no NaN) are rows of the class.
        """
        k, width = self.n_components_, M.shape[1]
        module = self._module
        pick = rng.randint(len(M), size=n_samples)
        one_hot = self._one_hot(np.full(n_samples, label), n_samples, "sample")
        eps = rng.standard_normal((n_samples, k))
        noise = self._sample_noise(n_samples, rng)
        c = one_hot.shape[1]
        inputs = np.hstack([M[pick], one_hot, eps, noise]).astype(np.float32)

        def draw(row):
            x, condition = row[:, :width], row[:, width : width + c]
            eps, noise = row[:, width + c : width + c + k], row[:, width + c + k :]
            z_loc, z_log_scale = module.encode(x, None, condition)
            z = z_loc + torch.exp(z_log_scale) * eps
            return module.generative(z, condition).sample(noise=noise)

        return self._map_batches(draw, inputs, self._n_model_features, np.float32)

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
