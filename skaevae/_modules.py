"""Torch core: the encoder/decoder networks of the autoencoder and the VAE.

These modules know nothing of scikit-learn or skorch. Shapes: ``x`` is
``(n, n_features)``, ``z`` is ``(n, n_components)``.
"""

import math

import torch
from torch import nn

from ._losses import (
    gaussian_log_prob,
    kl_to_standard_normal,
    standard_normal_log_prob,
)

# Activation registry, in the spirit of sklearn.neural_network._base.ACTIVATIONS.
ACTIVATIONS = {
    "identity": nn.Identity,
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "gelu": nn.GELU,
    "logistic": nn.Sigmoid,
    "elu": nn.ELU,
    "silu": nn.SiLU,
}

# Floor of the decoder's output scale. Without it, the likelihood of a feature
# that is constant in the training data grows without bound as its scale
# shrinks; 1e-3 is small next to the unit scale of standardised features.
MIN_LOG_SCALE = math.log(1e-3)


def make_activation(name):
    """A new activation module for ``name``.

    ReLU runs in place: it follows a ``Linear`` layer whose output nothing else
    reads, so overwriting it saves one batch-sized allocation and one memory
    pass per layer and step (about 5% of a CPU training step at batch 4096,
    ``benchmarks/throughput.py``).
    """
    if name == "relu":
        return nn.ReLU(inplace=True)
    return ACTIVATIONS[name]()


def make_mlp(sizes, activation, dropout=0.0):
    """A stack of ``Linear`` layers with ``activation`` (and dropout) between them.

    ``sizes`` lists the widths from input to output; no activation follows
    the last layer.
    """
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(make_activation(activation))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class AutoencoderModule(nn.Module):
    """Deterministic autoencoder: ``x → z = f(x) → x̂ = g(z)``.

    The decoder mirrors the encoder's hidden widths. With no hidden layers the
    encoder and decoder are single affine maps, the linear autoencoder whose
    optimum spans the principal subspace.
    """

    def __init__(
        self, n_features, n_components, hidden_layer_sizes=(), activation="relu", dropout=0.0
    ):
        super().__init__()
        widths = [n_features, *hidden_layer_sizes, n_components]
        self.encoder = make_mlp(widths, activation, dropout)
        self.decoder = make_mlp(widths[::-1], activation, dropout)

    def encode(self, x):
        """The code of each row, ``(n, n_components)``."""
        return self.encoder(x)

    def decode(self, z):
        """The reconstruction of each code, ``(n, n_features)``."""
        return self.decoder(z)

    def forward(self, x):
        z = self.encode(x)
        return {"z": z, "x_loc": self.decode(z)}


class VAEModule(nn.Module):
    """Variational autoencoder with a diagonal Gaussian encoder and decoder.

    Encoder: ``q(z | x) = N(z_loc(x), diag(z_scale(x)²))``, one trunk and two
    linear heads. Prior: ``p(z) = N(0, I)``. Decoder:
    ``p(x | z) = N(x_loc(z), diag(x_scale²))`` with one learned output scale
    per feature (homoscedastic noise, as in probabilistic PCA, but per feature).
    """

    def __init__(
        self, n_features, n_components, hidden_layer_sizes=(), activation="relu", dropout=0.0
    ):
        super().__init__()
        hidden = list(hidden_layer_sizes)
        if hidden:
            self.trunk = make_mlp([n_features, *hidden], activation, dropout)
            # make_mlp leaves the last layer linear; the heads need it activated.
            self.trunk.append(make_activation(activation))
            if dropout > 0:
                self.trunk.append(nn.Dropout(dropout))
            width = hidden[-1]
        else:
            self.trunk = nn.Identity()
            width = n_features
        self.z_loc = nn.Linear(width, n_components)
        self.z_log_scale = nn.Linear(width, n_components)
        self.decoder = make_mlp([n_components, *hidden[::-1], n_features], activation, dropout)
        self.x_log_scale = nn.Parameter(torch.zeros(n_features))

    def encode(self, x):
        """Posterior parameters ``(z_loc, z_log_scale)``, each ``(n, n_components)``."""
        h = self.trunk(x)
        # Bounding log σ keeps exp() finite on inputs far from the training data.
        return self.z_loc(h), self.z_log_scale(h).clamp(-10.0, 5.0)

    def output_log_scale(self):
        """The decoder's per-feature log output scale, ``(n_features,)``."""
        return self.x_log_scale.clamp(min=MIN_LOG_SCALE)

    def decode(self, z):
        """The decoder's mean ``x_loc``, ``(n, n_features)``."""
        return self.decoder(z)

    def forward(self, x):
        z_loc, z_log_scale = self.encode(x)
        if self.training:
            # Reparameterisation trick: z = μ + σ·ε, ε ~ N(0, I), so the draw is
            # differentiable in μ and σ.
            z = z_loc + torch.exp(z_log_scale) * torch.randn_like(z_loc)
        else:
            z = z_loc
        return {
            "z": z,
            "z_loc": z_loc,
            "z_log_scale": z_log_scale,
            "x_loc": self.decode(z),
            "x_log_scale": self.output_log_scale(),
        }

    def importance_log_likelihood(self, x, eps):
        """Importance-weighted estimate of ``log p(x)`` for each row, in nats.

        With ``K`` fixed standard-normal draws ``eps`` of shape
        ``(K, n_components)``, ``z_k = μ(x) + σ(x)·ε_k`` and

            log p(x) ≈ logsumexp_k [log p(x | z_k) + log p(z_k) - log q(z_k | x)] - log K,

        the IWAE bound (Burda et al., 2016), which tightens the ELBO as ``K``
        grows. Fixed ``eps`` make the estimate a deterministic function of the
        row. Returns ``(n,)``.
        """
        z_loc, z_log_scale = self.encode(x)
        n_draws = eps.shape[0]
        # z: (K, n, n_components)
        z = z_loc + torch.exp(z_log_scale) * eps[:, None, :]
        log_px_z = gaussian_log_prob(x, self.decode(z), self.output_log_scale())
        log_pz = standard_normal_log_prob(z)
        log_qz_x = gaussian_log_prob(z, z_loc, z_log_scale)
        log_w = log_px_z + log_pz - log_qz_x  # (K, n)
        return torch.logsumexp(log_w, dim=0) - math.log(n_draws)

    def kl(self, x):
        """KL(q(z | x) || p(z)) of each row, ``(n,)``."""
        return kl_to_standard_normal(*self.encode(x))
