"""Torch core: the autoencoder and the VAE as ``nn.Module``s.

These modules know nothing of scikit-learn or skorch. They take a
:class:`~skaevae.nn._batch.Batch` and return a dictionary of tensors (and, for
the VAE, the likelihood object ``px``). Shapes: ``x`` is ``(n, n_features)``,
``z`` is ``(n, n_components)``.

Missing entries: at inference ``x`` may hold NaN, which :meth:`observed`
replaces by the module's fill values (the training means) while returning
the mask of observed entries, one per table column; in training the batch
carries both. A module built with ``missing=True`` (trained on data with
holes) also reads which entries are missing: a bias-free linear map of the
missing indicators ``1 - mask`` is added to its first layer's output,
starting at zero, so a complete row goes through the network unchanged.

Options of the family: ``corruption`` (a denoising autoencoder: noise on
the encoder's input in training, the loss against the clean row), a
condition (the VAE's ``n_conditions``: a one-hot class appended to the
inputs of encoder and decoder), and user networks (``encoder`` and
``decoder`` classes, built as ``cls(n_inputs=..., n_outputs=...,
**params)``, in place of the MLPs).
"""

import math

import torch
from torch import nn

from ._likelihoods import (
    LIKELIHOODS,
    MixedLikelihood,
    gaussian_log_prob,
    standard_normal_log_prob,
)
from ._losses import kl_to_standard_normal, mixed_output_mean
from ._networks import (
    Corruption,
    ObservedEntries,
    ParamsSlice,
    as_tensor_like,
    check_pca_activation,
    embed_pca,
    linear_layers,
    make_mlp,
    make_user_network,
)


def make_corruption(kind, level, n_features, layout):
    """The training-time :class:`~skaevae.nn._networks.Corruption` of the input, or None."""
    if kind is None:
        return None
    if layout is None:
        return Corruption(kind, level, n_features)
    return Corruption(kind, level, layout.n_numeric, layout.model_columns())


def _with_condition(h, condition):
    """``h`` with ``condition`` (``(n, c)``) appended to its last axis (broadcast over the rest)."""
    if condition is None:
        return h
    condition = condition.to(h.dtype).expand(*h.shape[:-1], condition.shape[-1])
    return torch.cat([h, condition], dim=-1)


class RowInputModule(nn.Module):
    """How a core reads its input rows; subclasses set ``entries`` and ``corruption``.

    ``entries`` is the :class:`~skaevae.nn._networks.ObservedEntries` of the
    rows (holes filled, the mask of observed entries), ``corruption`` the
    training-time :class:`~skaevae.nn._networks.Corruption`, or None.
    """

    def corrupted(self, x, mask):
        """The encoder's training input: ``x`` and ``mask`` through the corruption, if any."""
        if self.training and self.corruption is not None:
            return self.corruption(x, mask, self.entries.fill)
        return x, mask

    def observed(self, x):
        """``x`` with NaN replaced by fill values, and the mask of observed entries."""
        return self.entries(x)


class AutoencoderModule(RowInputModule):
    """Deterministic autoencoder: ``x → z = f(x) → x̂ = g(z)``.

    The decoder mirrors the encoder's hidden widths. With no hidden layers the
    encoder and decoder are single affine maps, the linear autoencoder whose
    optimum spans the principal subspace.
    """

    def __init__(
        self,
        n_features,
        n_components,
        hidden_layer_sizes=(),
        activation="relu",
        dropout=0.0,
        layout=None,
        missing=False,
        fill=None,
        corruption=None,
        corruption_level=0.0,
        encoder=None,
        encoder_params=None,
        decoder=None,
        decoder_params=None,
    ):
        super().__init__()
        widths = [n_features, *hidden_layer_sizes, n_components]
        if encoder is None:
            self.encoder = make_mlp(widths, activation, dropout)
        else:
            self.encoder = make_user_network(
                encoder, encoder_params, n_features, n_components, "encoder"
            )
            # A user's encoder reads the filled values only.
            missing = False
        if decoder is None:
            self.decoder = make_mlp(widths[::-1], activation, dropout)
        else:
            self.decoder = make_user_network(
                decoder, decoder_params, n_components, n_features, "decoder"
            )
        self.user_networks = encoder is not None or decoder is not None
        # A mixed table's ColumnLayout: the decoder's output is then values,
        # log-odds and logits, and decode() turns them into values and
        # probabilities.
        self.layout = layout
        self.entries = ObservedEntries(n_features, layout, fill, missing, widths[1])
        self.corruption = make_corruption(corruption, corruption_level, n_features, layout)

    def init_pca(self, mean, components, variances, noise_variance, activation):
        """Start from PCA: the network's reconstruction is PCA's, exactly.

        ``components`` (``(n_components, n_features)``, rows orthonormal) and
        ``mean`` come from the training data; the code is the principal
        scores ``(x - mean) @ components.T``. Hidden units beyond those that
        carry the scores keep their random weights, with no effect on the
        output until training gives them one. ``variances`` and
        ``noise_variance`` are unused here (see :meth:`VAEModule.init_pca`).
        """
        paired = check_pca_activation(activation)
        ref = linear_layers(self.encoder)[0].weight
        mean, components = as_tensor_like(mean, ref), as_tensor_like(components, ref)
        unit = torch.ones(components.shape[0], dtype=ref.dtype, device=ref.device)
        embed_pca(
            linear_layers(self.encoder), linear_layers(self.decoder), mean, components, unit, paired
        )

    def encode(self, x, mask=None):
        """The code of each row (holes filled, ``mask`` as in the batch), ``(n, n_components)``."""
        return self.entries.first_layer_then(self.encoder, x, mask)

    def decode(self, z):
        """The reconstruction of each code, ``(n, n_features)``."""
        if self.layout is not None:
            return mixed_output_mean(self.decoder(z), self.layout)
        return self.decoder(z)

    def forward(self, batch):
        z = self.encode(*self.corrupted(batch.x, batch.mask))
        return {"z": z, "x_loc": self.decoder(z)}


class VAEModule(RowInputModule):
    """Variational autoencoder with a diagonal Gaussian encoder.

    Encoder: ``q(z | x) = N(z_loc(x), diag(z_scale(x)²))``, one trunk and two
    linear heads. Prior: ``p(z) = N(0, I)``. Decoder: an MLP trunk whose
    output feeds the likelihood ``p(x | z)`` named by ``likelihood`` (a key
    of :data:`~skaevae.nn._likelihoods.LIKELIHOODS`; by default a Gaussian with
    one learned output scale per feature), or, given a mixed table's
    ``layout`` (a :class:`~skaevae.utils._layout.ColumnLayout`), a
    :class:`~skaevae.nn._likelihoods.MixedLikelihood` with one distribution per
    column.

    With ``n_conditions`` (a conditional VAE, Sohn et al., 2015), each row
    comes with a condition ``c`` (``batch.condition``, ``(n,
    n_conditions)``) appended to the encoder's input and to the code:
    ``q(z | x, c)`` and ``p(x | z, c)``, with the prior still N(0, I).

    A user ``encoder`` outputs ``2 * n_components`` values per row, the
    posterior means then the log scales; a user ``decoder`` outputs the
    likelihood's parameters (``likelihood.n_params``: the means of a
    Gaussian, the log-odds of a Bernoulli).
    """

    def __init__(
        self,
        n_features,
        n_components,
        hidden_layer_sizes=(),
        activation="relu",
        dropout=0.0,
        likelihood="gaussian",
        layout=None,
        missing=False,
        fill=None,
        n_train_draws=1,
        n_conditions=0,
        corruption=None,
        corruption_level=0.0,
        encoder=None,
        encoder_params=None,
        decoder=None,
        decoder_params=None,
    ):
        super().__init__()
        # Codes drawn per row in training: more than one trains on the
        # importance-weighted bound (IWAE) instead of the ELBO.
        self.n_train_draws = n_train_draws
        self.n_conditions = n_conditions
        hidden = list(hidden_layer_sizes)
        n_inputs, k = n_features + n_conditions, n_components
        if encoder is None:
            self.trunk = make_mlp([n_inputs, *hidden], activation, dropout, activate_last=True)
            width = hidden[-1] if hidden else n_inputs
            self.z_loc = nn.Linear(width, k)
            self.z_log_scale = nn.Linear(width, k)
        else:
            self.trunk = make_user_network(encoder, encoder_params, n_inputs, 2 * k, "encoder")
            self.z_loc, self.z_log_scale = ParamsSlice(0, k), ParamsSlice(k, 2 * k)
            # A user's encoder reads the filled values only.
            missing = False
        if decoder is None:
            self.decoder = make_mlp(
                [k + n_conditions, *hidden[::-1]], activation, dropout, activate_last=True
            )
            n_in = hidden[0] if hidden else k + n_conditions
        else:
            # The decoder outputs the likelihood's parameters: no head.
            n_in = None
        if layout is not None:
            # A mixed table: one distribution per column (``likelihood`` is unused).
            self.likelihood = MixedLikelihood(n_in, layout)
        else:
            self.likelihood = LIKELIHOODS[likelihood](n_in, n_features)
        if decoder is not None:
            self.decoder = make_user_network(
                decoder, decoder_params, k + n_conditions, self.likelihood.n_params, "decoder"
            )
        self.user_networks = encoder is not None or decoder is not None
        # Without a hidden layer the encoder is linear and reads the filled
        # values only.
        self.entries = ObservedEntries(
            n_features, layout, fill, missing and bool(hidden), hidden[0] if hidden else None
        )
        self.corruption = make_corruption(corruption, corruption_level, n_features, layout)

    def encode(self, x, mask=None, condition=None):
        """Posterior parameters ``(z_loc, z_log_scale)``, each ``(n, n_components)``.

        ``x`` has its holes filled and ``mask`` marks the observed entries (see
        :meth:`observed`); ``None`` means every entry is observed.
        ``condition`` is each row's condition (conditional models only).
        """
        h = self.entries.first_layer_then(self.trunk, _with_condition(x, condition), mask)
        # Bounding log σ keeps exp() finite on inputs far from the training data.
        return self.z_loc(h), self.z_log_scale(h).clamp(-10.0, 5.0)

    def init_pca(self, mean, components, variances, noise_variance, activation):
        """Start close to probabilistic PCA (Tipping & Bishop, 1999).

        The posterior mean is the whitened principal scores
        ``(x - mean) @ components.T / sqrt(variances)``, so the codes of the
        training data start with unit variance, as the prior N(0, I) asks; the
        posterior scale of component ``i`` is ``sqrt(mean(noise_variance) /
        variances[i])``, PPCA's form; the decoder maps a code back through
        ``components.T * sqrt(variances)``; and the likelihood starts from
        each feature's residual variance, ``noise_variance`` (a
        ``(n_features,)`` array). It differs from the PPCA solution in two
        details: PPCA's noise is one variance (the discarded variance over
        ``n_features - n_components``, not a mean over all features), and its
        decoder uses ``sqrt(variances - noise)``, so that the decoder mean
        reconstructs exactly as PCA does here.
        """
        paired = check_pca_activation(activation)
        if self.n_conditions or self.user_networks:
            raise ValueError("init='pca' needs the built-in networks of an unconditional model.")
        ref = self.likelihood.head.weight
        mean, components = as_tensor_like(mean, ref), as_tensor_like(components, ref)
        scale = torch.sqrt(as_tensor_like(variances, ref))
        noise = as_tensor_like(noise_variance, ref)
        embed_pca(
            [*linear_layers(self.trunk), self.z_loc],
            [*linear_layers(self.decoder), self.likelihood.head],
            mean,
            components,
            scale,
            paired,
        )
        with torch.no_grad():
            self.z_log_scale.weight.zero_()
            self.z_log_scale.bias.copy_(0.5 * torch.log(noise.mean() / scale.square()))
        self.likelihood.init_pca(noise)

    def posterior_draw(self, x, mask, eps, condition=None):
        """Codes ``z = μ(x) + σ(x)·ε`` drawn from ``q(z | x)`` with the standard noise ``eps``."""
        z_loc, z_log_scale = self.encode(x, mask, condition)
        return z_loc + torch.exp(z_log_scale) * eps

    def generative(self, z, condition=None):
        """The likelihood object ``px = p(x | z)`` of each code (codes may have leading axes)."""
        h = _with_condition(z, condition)
        if self.user_networks and h.dim() > 2:
            # A user's decoder sees rows only, (n, n_inputs): importance
            # draws (K, n, n_inputs) go through it as K·n rows.
            return self.likelihood(
                self.decoder(h.reshape(-1, h.shape[-1])).unflatten(0, h.shape[:-1])
            )
        return self.likelihood(self.decoder(h))

    def decode(self, z, condition=None):
        """The mean of ``p(x | z)`` for each code, ``(n, n_features)``."""
        return self.generative(z, condition).mean

    def forward(self, batch):
        condition = batch.condition
        z_loc, z_log_scale = self.encode(*self.corrupted(batch.x, batch.mask), condition)
        output = {"z_loc": z_loc, "z_log_scale": z_log_scale}
        if self.training and self.n_train_draws > 1:
            # K reparameterised draws per row, for the importance-weighted bound.
            shape = (self.n_train_draws, *z_loc.shape)
            eps = torch.randn(shape, dtype=z_loc.dtype, device=z_loc.device)
            z = z_loc + torch.exp(z_log_scale) * eps
            return {**output, "z": z, "z_draws": True, "px": self.generative(z, condition)}
        if self.training:
            # Reparameterisation trick: z = μ + σ·ε, ε ~ N(0, I), so the draw is
            # differentiable in μ and σ.
            z = z_loc + torch.exp(z_log_scale) * torch.randn_like(z_loc)
        else:
            z = z_loc
        return {**output, "z": z, "px": self.generative(z, condition)}

    def importance_log_weights(self, x, eps, mask=None, condition=None):
        """Log importance weights and codes of ``K`` draws per row.

        ``log w_k = log p(x_obs | z_k) + log p(z_k) - log q(z_k | x_obs)`` with
        ``z_k = μ(x) + σ(x)·ε_k``; returns ``log_w`` of shape ``(K, n)``,
        the draws ``z`` of shape ``(K, n, n_components)`` and each draw's
        likelihood object ``px``.
        """
        z_loc, z_log_scale = self.encode(x, mask, condition)
        z = z_loc + torch.exp(z_log_scale) * eps[:, None, :]
        px = self.generative(z, condition)
        log_w = px.log_prob(x, mask) + standard_normal_log_prob(z)
        return log_w - gaussian_log_prob(z, z_loc, z_log_scale), z, px

    def importance_log_likelihood(self, x, eps, mask=None, condition=None):
        """Importance-weighted estimate of ``log p(x)`` for each row, in nats.

        With ``K`` fixed standard-normal draws ``eps`` of shape
        ``(K, n_components)``, ``z_k = μ(x) + σ(x)·ε_k`` and

            log p(x) ≈ logsumexp_k [log p(x | z_k) + log p(z_k) - log q(z_k | x)] - log K,

        the IWAE bound (Burda et al., 2016), which tightens the ELBO as ``K``
        grows. Fixed ``eps`` make the estimate a deterministic function of the
        row. With ``mask``, the estimate is of ``log p(x_obs)``, the observed
        entries' marginal likelihood. Returns ``(n,)``.
        """
        log_w = self.importance_log_weights(x, eps, mask, condition)[0]  # (K, n)
        return torch.logsumexp(log_w, dim=0) - math.log(eps.shape[0])

    def kl(self, x):
        """KL(q(z | x) || p(z)) of each row, ``(n,)``."""
        return kl_to_standard_normal(*self.encode(x))
