"""VAETransformer: a variational autoencoder as a scikit-learn transformer."""

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from ..nn._losses import ELBOLoss
from ..nn._modules import VAEModule
from ..train._callbacks import KLWarmup
from ..utils._validation import check_positive_count, local_random_state
from ._base import BaseAutoencoder
from ._params import constraints, fill_parameter_docs

# Importance samples per row in ``score_samples``, and the seed of their fixed
# standard-normal draws: the same draws for every row and every call, so the
# score is a deterministic function of the row.
N_IMPORTANCE_SAMPLES = 64
_IMPORTANCE_SEED = 0


@fill_parameter_docs
class VAETransformer(BaseAutoencoder):
    """Variational autoencoder (β-VAE) for dimensionality reduction and density estimation.

    The encoder maps each row to a Gaussian ``q(z | x) = N(μ(x), diag σ(x)²)``
    rather than a point; training draws ``z = μ + σ·ε`` (the
    reparameterisation trick) and maximises the evidence lower bound

        ELBO(x) = E_q[log p(x | z)] - beta · KL(q(z | x) || N(0, I)),

    with a Gaussian decoder ``p(x | z) = N(x̂(z), diag s²)`` whose per-feature
    output scale ``s`` is learned. The KL term pulls the codes towards the
    prior N(0, I), which makes the latent space smooth and lets :meth:`sample`
    generate new rows.

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
        Weight of the KL term. ``1`` is the standard VAE (the ELBO is a bound
        on the log-likelihood); larger values give a smoother, more
        disentangled latent space at the cost of reconstruction.

    kl_warmup : int, default=10
        Epochs over which the KL weight rises linearly to ``beta``, so the
        decoder learns to use the code before the KL term can pull every
        posterior onto the prior (posterior collapse). ``0`` disables it.
        Early stopping and the convergence check start after the warm-up.
        Each :meth:`partial_fit` call counts as one epoch (one step, as
        ``dask_ml.wrappers.Incremental`` counts calls), so with small chunks
        set it to the number of calls the warm-up should span.

    [[n_train_draws]]

    prior : {"normal", "mixture"} or estimator, default="normal"
        The distribution of the codes :meth:`sample` draws from.
        ``"normal"`` is the training prior N(0, I). ``"mixture"`` fits a
        :class:`~sklearn.mixture.GaussianMixture` of up to 10
        full-covariance components (at most one per 50 rows) to codes drawn
        from the posteriors ``q(z | x)`` of the training rows (up to 20,000
        of them) once the network is trained, the two-stage recipe of Dai &
        Wipf (2019): the codes of real rows rarely fill N(0, I) evenly, and
        decoded codes from its empty parts give unrealistic rows. Any
        estimator with ``fit`` and ``sample`` (another ``GaussianMixture``,
        :class:`~sklearn.neighbors.KernelDensity`) is cloned and fitted
        instead. It changes :meth:`sample` only (``sample_near`` draws from
        the rows' own posteriors); a mixture adds one EM fit on the codes to
        :meth:`fit` (and to each :meth:`partial_fit` call, on that call's
        rows).

    init : {"random", "pca"}, default="random"
        How the weights start: torch's random initialisation, or, with
        ``"pca"``, close to probabilistic PCA of the (weighted) training rows
        (with ``early_stopping``, without the validation rows). The
        posterior mean then starts as the whitened principal scores, the
        posterior scale as PPCA's, the output scale of each feature as its
        residual scale, and the decoder mean reconstructs each row as
        :class:`~sklearn.decomposition.PCA` with ``n_components`` does, so
        fits depend much less on ``random_state``. A ReLU hidden layer of
        width ``h`` carries ``h // 2`` scores; its other units keep random
        weights. Needs ``activation="relu"`` or ``"identity"``.

    [[max_iter]]

    [[batch_size]]

    [[learning_rate_init]]

    alpha : float, default=1e-4
        Strength of the L2 penalty, applied as Adam's ``weight_decay`` to every
        trainable parameter (biases, and the VAE's output scale, included).

    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows and stop when their
        negative ELBO stops improving; the best epoch's parameters are
        restored. Without it, training stops when the training loss stops
        improving.

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
        draws and the validation split, through local generators: global
        numpy and torch RNG states are left untouched.

    verbose : int, default=0
        ``1`` prints a line per epoch (training loss, validation loss, KL
        weight, time).

    [[progress_bar]]

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The trained net; ``net_.module_`` is the :class:`torch.nn.Module`.

    n_components_ : int
        Width of the latent code.

    n_iter_ : int
        Number of epochs run.

    loss_curve_ : list of float
        Mean training loss per epoch: the negative ELBO in nats per row, with
        the KL weight of that epoch's warm-up.

    validation_loss_curve_ : list of float or None
        Mean validation negative ELBO (full ``beta``) per epoch when
        ``early_stopping=True``.

    best_loss_ : float or None
        Lowest training loss, when ``early_stopping=False``.

    prior_ : estimator or None
        The prior fitted to the training codes (a
        :class:`~sklearn.mixture.GaussianMixture` for ``prior="mixture"``),
        or None for ``prior="normal"``.

    best_validation_loss_ : float or None
        Lowest validation loss, when ``early_stopping=True``.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`, when X has string column
        names.

    column_types_ : dict or None
        The type of each column of a mixed table (``"continuous"``,
        ``"integer"``, ``"binary"`` or ``"categorical"``), by name; ``None``
        when X was one float matrix. See ``column_types``.

    See Also
    --------
    AutoencoderTransformer : Deterministic autoencoder.
    sklearn.decomposition.PCA : Linear baseline; ``PCA.score`` is the same
        quantity as :meth:`score` here (mean log-likelihood per row).

    References
    ----------
    .. [1] D. P. Kingma and M. Welling, "Auto-Encoding Variational Bayes", ICLR 2014.
    .. [2] I. Higgins et al., "β-VAE: Learning Basic Visual Concepts with a
       Constrained Variational Framework", ICLR 2017.
    .. [3] Y. Burda, R. Grosse and R. Salakhutdinov, "Importance Weighted
       Autoencoders", ICLR 2016.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skaevae import VAETransformer
    >>> X = StandardScaler().fit_transform(load_digits().data)
    >>> vae = VAETransformer(n_components=8, max_iter=20, random_state=0)
    >>> Z = vae.fit_transform(X)
    >>> Z.shape
    (1797, 8)
    >>> vae.sample(5, random_state=0).shape
    (5, 64)
    >>> vae.score_samples(X[:3]).shape
    (3,)
    """

    _parameter_constraints: dict = {
        **BaseAutoencoder._parameter_constraints,
        **constraints("beta", "kl_warmup", "n_train_draws"),
    }

    _module_cls = VAEModule
    _criterion_cls = ELBOLoss
    # The output model p(x | z), a key of skaevae.nn._likelihoods.LIKELIHOODS.
    _likelihood = "gaussian"
    # Each row is decoded N_IMPORTANCE_SAMPLES times when scoring.

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
        init="random",
        beta=1.0,
        kl_warmup=10,
        n_train_draws=1,
        prior="normal",
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
        self.n_components = n_components
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.dropout = dropout
        self.encoder = encoder
        self.encoder_params = encoder_params
        self.decoder = decoder
        self.decoder_params = decoder_params
        self.corruption = corruption
        self.corruption_level = corruption_level
        self.init = init
        self.beta = beta
        self.kl_warmup = kl_warmup
        self.n_train_draws = n_train_draws
        self.prior = prior
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.alpha = alpha
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.warm_start = warm_start
        self.device = device
        self.precision = precision
        self.compile = compile
        self.callbacks = callbacks
        self.column_types = column_types
        self.handle_unknown = handle_unknown
        self.random_state = random_state
        self.verbose = verbose
        self.progress_bar = progress_bar

    # The network is built with these; partial_fit and a warm start keep them.
    _structural_params = (*BaseAutoencoder._structural_params, "n_train_draws")

    def _module_params(self, n_features):
        return {
            **super()._module_params(n_features),
            "likelihood": self._likelihood,
            "n_train_draws": self.n_train_draws,
        }

    def _criterion_params(self):
        return {"beta": self.beta}

    def _model_callbacks(self):
        return [("kl_warmup", KLWarmup(self.kl_warmup))]

    def _warmup_epochs(self):
        return self.kl_warmup

    def _resume_model(self, net):
        net.criterion_.beta = self.beta
        dict(net.callbacks_)["kl_warmup"].n_epochs = self.kl_warmup

    def _encode(self, x):
        # The posterior mean μ(x): deterministic, unlike a draw from q(z | x).
        return self._module.encode(*self._observed(x))[0]

    def _importance_draws(self):
        generator = torch.Generator().manual_seed(_IMPORTANCE_SEED)
        eps = torch.randn(N_IMPORTANCE_SAMPLES, self.n_components_, generator=generator)
        return eps.to(self._device())

    def _log_jacobian(self, mask):
        """Each row's log-Jacobian from model space to X's units, ``(n,)`` or 0.

        A mixed table's densities of continuous columns are in X's units, not
        standardised ones: the sum of each observed column's log-Jacobian.
        """
        if self._table is None:
            return 0.0
        jacobian = torch.as_tensor(self._table.column_log_jacobians_, device=mask.device)
        return (mask * jacobian.to(mask.dtype)).sum(dim=-1)

    def _score_batch(self, x):
        x, mask = self._module.observed(x)
        log_likelihood = self._module.importance_log_likelihood(x, self._importance_draws(), mask)
        return log_likelihood + self._log_jacobian(mask)

    def _inference_draws(self, method, side):
        # Each row is decoded N_IMPORTANCE_SAMPLES times when scoring.
        return N_IMPORTANCE_SAMPLES if method == "score_samples" else 1

    def _impute(self, X, n_draws, sample_posterior, random_state, y=None):
        check_is_fitted(self)
        check_positive_count(n_draws, "n_draws")
        if not isinstance(sample_posterior, (bool, np.bool_)):
            raise ValueError(f"sample_posterior must be a bool, got {sample_posterior!r}.")
        M = self._check_input(X)
        side = self._side_inputs(y, len(M), "impute")
        module, k = self._module, self.n_components_
        inputs = {"x": M, **side}
        if not sample_posterior:
            generator = torch.Generator().manual_seed(_IMPORTANCE_SEED)
            eps = torch.randn(n_draws, k, generator=generator)
        else:
            rng = local_random_state(random_state)
            eps = torch.from_numpy(rng.standard_normal((n_draws, k)))
            inputs["pick"] = rng.uniform(size=(len(M), 1))
            inputs["noise"] = self._sample_noise(len(M), rng)
        eps = eps.float().to(self._device())

        def impute(x, pick=None, noise=None, **side):
            x, mask = module.observed(x)
            log_w, _, px = module.importance_log_weights(x, eps, mask, **side)
            weight = torch.softmax(log_w, dim=0)  # (K, n)
            if pick is None:
                return (weight[..., None] * px.mean).sum(dim=0)
            # Sampling importance resampling: one code per row, by weight.
            chosen = (torch.cumsum(weight, dim=0) < pick[:, 0]).sum(dim=0)
            chosen = chosen.clamp(max=n_draws - 1)
            draws = px.sample(noise=noise)  # (K, n, width)
            index = chosen[None, :, None].expand(1, *draws.shape[1:])
            return draws.gather(0, index)[0]

        M_pred = self._map_batches(
            impute, inputs, self._n_model_features, np.float64, draws=n_draws
        )
        return self._to_table(M_pred)

    def impute(self, X, *, n_draws=N_IMPORTANCE_SAMPLES, sample_posterior=False, random_state=None):
        """Predict every entry of X from the observed entries of its row.

        ``n_draws`` codes per row are drawn from ``q(z | x_obs)`` and weighted
        by ``w_k ∝ p(x_obs | z_k) p(z_k) / q(z_k | x_obs)``, as MIWAE does
        (Mattei & Frellsen, 2019). :class:`~skaevae.VAEImputer` keeps the
        observed entries and takes the predictions of the missing ones.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Rows with missing entries (NaN), in the form the model was
            fitted on.

        n_draws : int, default=64
            Importance draws per row.

        sample_posterior : bool, default=False
            ``False`` gives the weighted mean of the decoder's means, an
            estimate of ``E[x | x_obs]`` (for a category, the most likely
            one), with fixed draws: deterministic. ``True`` gives one draw
            from ``p(x | x_obs)`` by sampling importance resampling (a code
            picked with probability ``w_k``, then a draw from ``p(x |
            z_k)``), for multiple imputation.

        random_state : int, RandomState instance or None, default=None
            Seed of the draws with ``sample_posterior=True``; unused
            otherwise. Global RNG states are never used.

        Returns
        -------
        X_pred : ndarray or DataFrame of shape (n_samples, n_features)
            Every entry predicted, observed ones included (float64 for a
            float matrix; a mixed table's schema for a mixed table, as
            :meth:`inverse_transform` returns it).
        """
        return self._impute(X, n_draws, sample_posterior, random_state)

    def _sample_near(self, X, n_samples, random_state, y=None):
        check_is_fitted(self)
        check_positive_count(n_samples, "n_samples")
        M = self._check_input(X)
        rng = local_random_state(random_state)
        pick = rng.randint(len(M), size=n_samples)
        side = {name: v[pick] for name, v in self._side_inputs(y, len(M), "sample_near").items()}
        inputs = {"x": M[pick], **side, "eps": rng.standard_normal((n_samples, self.n_components_))}
        inputs["noise"] = self._sample_noise(n_samples, rng)
        module = self._module

        def draw(x, eps, noise, **side):
            z = module.posterior_draw(*module.observed(x), eps, **side)
            return module.generative(z, **side).sample(noise=noise)

        M = self._map_batches(draw, inputs, self._n_model_features, np.float32)
        return self._to_table(M, generated=True)

    def sample_near(self, X, *, n_samples=1, random_state=None):
        """Generate rows near the rows of X, from their posteriors.

        Each new row picks a row ``x_i`` of X uniformly, draws a code from
        ``q(z | x_i)`` and a row from ``p(x | z)``: new rows that vary around
        the given ones as the model learned rows vary (what
        :class:`~skaevae.VAEOverSampler` does for a minority class).

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_rows, n_features)
            The rows to draw near, in the form the model was fitted on.

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
        return self._sample_near(X, n_samples, random_state)

    def _default_codes(self, n_samples, rng):
        return rng.standard_normal((n_samples, self.n_components_))

    def _prior_fit_codes(self, M, side, rng):
        # One draw z = μ + σ·ε from each row's posterior: together, draws
        # from the aggregate posterior, the distribution the decoder saw.
        module = self._module
        eps = rng.standard_normal((len(M), self.n_components_))

        def draw(x, eps, **side):
            return module.posterior_draw(*module.observed(x), eps, **side)

        return self._map_batches(draw, {"x": M, "eps": eps, **side}, self.n_components_, np.float64)

    def _sample_noise(self, n_samples, rng):
        likelihood = self._module.likelihood
        shape = (n_samples, getattr(likelihood, "n_noise", self._n_model_features))
        if likelihood.noise == "normal":
            return rng.standard_normal(shape)
        return rng.uniform(size=shape)

    def _decode_sample(self, z, noise=None, **side):
        return self._module.generative(z, **side).sample(noise=noise)

    def transform(self, X):
        """Encode X as the posterior mean μ(x) of each row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to encode; a row with missing entries (NaN) is encoded from
            its observed ones.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components)
            Posterior means, in X's floating dtype; deterministic.
        """
        return super().transform(X)

    def score_samples(self, X):
        """Log-likelihood of each row under the model, in nats.

        An importance-weighted estimate of ``log p(x)`` with
        64 fixed draws per row (the IWAE bound of Burda et al., 2016), which
        is at least as tight as the ELBO in expectation. The draws are the
        same for every row and call, so the score is deterministic. Higher
        means more normal; the mean over rows (:meth:`score`) is comparable to
        :meth:`sklearn.decomposition.PCA.score` on the same data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data.

        Returns
        -------
        log_likelihood : ndarray of shape (n_samples,)
            Estimated ``log p(x)`` of each row. For a mixed table, the
            log-density of the continuous columns in their own units (not
            standardised ones) plus the log-probability of the integer,
            binary and categorical values. With missing entries (NaN), the
            marginal log-likelihood of the observed entries, ``log
            p(x_obs)``: a row with more holes has fewer terms, so its score
            is usually higher and is not comparable with a complete row's
            (divide by the number of observed entries for a per-entry
            figure; :class:`OutlierDetector` does so). A row with nothing
            observed scores about 0.
        """
        return super().score_samples(X)

    def sample(self, n_samples=1, random_state=None, *, conditions=None):
        """Generate rows from the model: ``z ~ p(z)``, ``x ~ p(x | z)``.

        ``p(z)`` is the prior, N(0, I) or the learned ``prior_`` (see
        ``prior``). With ``conditions``, the rows are drawn given the values
        of some columns, ``x ~ p(x | x_S)``: the codes by sampling importance
        resampling (a pool of 32 prior codes per row, each weighted by the
        likelihood of the given values under its decoded distribution,
        ``p(x_S | z)``, resampled by weight), so the other columns follow the
        given values as the model learned; no row is rejected, however rare
        the values. The given values are then written into every row.

        Parameters
        ----------
        n_samples : int, default=1
            Number of rows to generate.

        random_state : int, RandomState instance or None, default=None
            Seed of the draws. ``None`` seeds from fresh OS entropy; numpy's
            and torch's global RNG states are never used.

        conditions : dict, default=None
            Values to generate rows for, ``{column: value}``: columns by name
            for a table fitted with column names, else by position. A
            categorical or binary column's value must be one of its
            categories seen in fit; a numeric column's a number.

        Returns
        -------
        X : ndarray or DataFrame of shape (n_samples, n_features)
            Generated rows (float32): decoded prior draws plus the decoder's
            Gaussian output noise. ``inverse_transform`` of prior draws gives
            the noise-free decoder means. For a mixed table, a draw from
            each column's likelihood, in the table's schema (a DataFrame
            with the fitted columns and dtypes if it was fitted on one); a
            numeric column whose values repeat in fit (at most half as many
            distinct values as entries) takes the nearest of them, so values
            the column takes often (round numbers, codes stored as numbers)
            come out exactly.
        """
        return self._sample(n_samples, random_state=random_state, conditions=conditions)
