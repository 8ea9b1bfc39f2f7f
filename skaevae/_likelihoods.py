"""Output models ``p(x | z)`` of the VAE's decoder (torch only).

A likelihood is an ``nn.Module`` that owns its parameter head (the last layer
of the decoder, from the decoder's width to the parameters it needs) and any
parameter of its own (the Gaussian's learned scale). Called on the decoder's
hidden output it returns a distribution object, ``px``, as scvi-tools' modules
do: the ELBO, the importance-weighted log-likelihood and ``sample`` all use
``px.log_prob``, ``px.mean`` and ``px.sample``, so a new output model is one
class here and one entry in :data:`LIKELIHOODS`.

``log_prob(x, mask=None)`` returns one value per row, summed over features,
in nats; ``mask`` (1 where a value is observed, 0 where it is not) leaves
unobserved values out of the sum. ``sample`` turns standard noise of the kind
the class names in ``noise`` (``"normal"`` or ``"uniform"``) into draws, so a
caller can draw the noise for all rows at once, from its own generator, and
get the same rows however it batches them.
"""

import math

import torch
from torch import nn

_LOG_2PI = math.log(2.0 * math.pi)

# Floor of the Gaussian's output scale. Without it, the likelihood of a
# feature that is constant in the training data grows without bound as its
# scale shrinks; 1e-3 is small next to the unit scale of standardised features.
MIN_LOG_SCALE = math.log(1e-3)


def _sum_features(terms, mask):
    if mask is not None:
        terms = terms * mask
    return terms.sum(dim=-1)


def gaussian_log_prob(x, loc, log_scale, mask=None):
    """Log-density of ``x`` under a diagonal Gaussian, summed over the last axis.

    ``log N(x; loc, scale²) = -½ Σ_j [((x_j - loc_j) / scale_j)² + 2 log scale_j + log 2π]``.
    ``loc`` and ``log_scale`` broadcast against ``x``.
    """
    standardized = (x - loc) * torch.exp(-log_scale)
    return -0.5 * _sum_features(standardized.square() + 2.0 * log_scale + _LOG_2PI, mask)


def standard_normal_log_prob(z):
    """Log-density of ``z`` under N(0, I), summed over the last axis."""
    return -0.5 * (z.square() + _LOG_2PI).sum(dim=-1)


def _standard_noise(kind, shape, generator, like):
    draw = torch.randn if kind == "normal" else torch.rand
    return draw(shape, generator=generator, dtype=like.dtype, device=like.device)


class Gaussian:
    """Diagonal Gaussian ``N(loc, diag(exp(log_scale)²))``; ``log_scale`` broadcasts."""

    noise = "normal"

    def __init__(self, loc, log_scale):
        self.loc = loc
        self.log_scale = log_scale

    @property
    def mean(self):
        return self.loc

    def log_prob(self, x, mask=None):
        """Log-density of each row of ``x``, shape ``x.shape[:-1]`` (broadcast with ``loc``)."""
        return gaussian_log_prob(x, self.loc, self.log_scale, mask)

    def sample(self, generator=None, noise=None):
        """One draw of each row, ``loc + scale · ε``, with ``ε ~ N(0, I)`` given as ``noise``."""
        if noise is None:
            noise = _standard_noise(self.noise, self.loc.shape, generator, self.loc)
        return self.loc + torch.exp(self.log_scale) * noise


class Bernoulli:
    """Independent Bernoulli variables with log-odds ``logits``."""

    noise = "uniform"

    def __init__(self, logits):
        self.logits = logits

    @property
    def mean(self):
        return torch.sigmoid(self.logits)

    def log_prob(self, x, mask=None):
        """Log-probability of each row of binary ``x``, shape ``x.shape[:-1]``."""
        x, logits = torch.broadcast_tensors(x, self.logits)
        terms = -nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none")
        return _sum_features(terms, mask)

    def sample(self, generator=None, noise=None):
        """One draw of each row, 0 or 1: ``u < mean``, with ``u ~ U(0, 1)`` given as ``noise``."""
        mean = self.mean
        if noise is None:
            noise = _standard_noise(self.noise, mean.shape, generator, mean)
        return (noise < mean).to(mean.dtype)


class GaussianLikelihood(nn.Module):
    """``p(x | h) = N(head(h), diag(s²))`` with one learned scale ``s_j`` per feature.

    The noise is homoscedastic, as in probabilistic PCA, but per feature. The
    scale is floored at ``exp(MIN_LOG_SCALE)``.
    """

    noise = Gaussian.noise

    def __init__(self, n_in, n_features):
        super().__init__()
        self.head = nn.Linear(n_in, n_features)
        self.log_scale = nn.Parameter(torch.zeros(n_features))

    def output_log_scale(self):
        """The floored log scale of each feature, ``(n_features,)``."""
        return self.log_scale.clamp(min=MIN_LOG_SCALE)

    def forward(self, h):
        return Gaussian(self.head(h), self.output_log_scale())

    @torch.no_grad()
    def init_pca(self, noise_variance):
        """Start each feature's scale at the root of its PCA residual variance."""
        noise = torch.as_tensor(noise_variance, dtype=self.log_scale.dtype)
        self.log_scale.copy_(0.5 * torch.log(noise).clamp(min=MIN_LOG_SCALE))


class BernoulliLikelihood(nn.Module):
    """``p(x | h) = Bernoulli(sigmoid(head(h)))`` for binary features (0 or 1)."""

    noise = Bernoulli.noise

    def __init__(self, n_in, n_features):
        super().__init__()
        self.head = nn.Linear(n_in, n_features)

    def forward(self, h):
        return Bernoulli(self.head(h))

    def init_pca(self, noise_variance):
        """Nothing to set: the Bernoulli's spread follows from its mean."""


# Likelihood registry, by name, in the spirit of sklearn.neural_network._base's.
LIKELIHOODS = {"gaussian": GaussianLikelihood, "bernoulli": BernoulliLikelihood}
