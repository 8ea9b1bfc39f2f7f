"""Output models ``p(x | z)`` of the VAE's decoder (torch only).

A likelihood is an ``nn.Module`` that owns its parameter head (the last layer
of the decoder, from the decoder's width to the ``n_params`` parameters it
needs; none when a user's decoder outputs them) and any parameter of its own
(the Gaussian's learned scale). Called on the decoder's hidden output it
returns a distribution object, ``px``, as scvi-tools' modules do: the ELBO,
the importance-weighted log-likelihood and ``sample`` all use
``px.log_prob``, ``px.mean`` and ``px.sample``, so a new output model is one
class here and one entry in :data:`LIKELIHOODS`.

``log_prob(x, mask=None)`` returns one value per row, summed over features,
in nats; ``mask`` (1 where a value is observed, 0 where it is not) leaves
unobserved values out of the sum. ``sample`` turns standard noise of the kind
the class names in ``noise`` (``"normal"`` or ``"uniform"``) into draws, so a
caller can draw the noise for all rows at once, from its own generator, and
get the same rows however it batches them.

A mixed table's rows have one distribution per column (:class:`Mixed`, made
by :class:`MixedLikelihood` from a :class:`~skaevae.utils._layout.ColumnLayout`);
its ``mask`` has one entry per table column, and its ``sample`` takes
``n_noise`` uniform numbers per row.
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


def _head(n_in, n_params):
    """The linear head from the decoder's width to the parameters, or none.

    ``n_in=None``: the decoder (a user's network) outputs the parameters
    itself.
    """
    return nn.Identity() if n_in is None else nn.Linear(n_in, n_params)


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
        self.n_params = n_features
        self.head = _head(n_in, n_features)
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
        self.n_params = n_features
        self.head = _head(n_in, n_features)

    def forward(self, h):
        return Bernoulli(self.head(h))

    def init_pca(self, noise_variance):
        """Nothing to set: the Bernoulli's spread follows from its mean."""


# Likelihood registry, by name, in the spirit of sklearn.neural_network._base's.
LIKELIHOODS = {"gaussian": GaussianLikelihood, "bernoulli": BernoulliLikelihood}


# ---------------------------------------------------------------- mixed tables

# Mixture components of each numeric column's likelihood.
N_MODES = 5

# Stand-in for ±∞ at the open ends of an integer column's range, in model
# units: finite, so that no gradient is NaN, and far beyond standardised data.
_OPEN_END = 1e4

# Below this width (in units of a component's scale) an integer's bin is
# scored as density × width: Φ(b) - Φ(a) loses its digits in float32 there.
_NARROW_BIN = 1e-3


def _log_normal_cdf_difference(alpha, beta):
    """``log(Φ(beta) - Φ(alpha))`` for ``alpha < beta``, stable in both tails.

    Both ends are clipped to ±30 standard deviations, beyond which
    ``log_ndtr``'s gradient is not finite in float32: a bin that far from a
    mixture component gets a mass of about ``e^-450`` from it, and no gradient.
    """
    alpha, beta = alpha.clamp(-30.0, 30.0), beta.clamp(-30.0, 30.0)
    # Mass in the right tail is computed as Φ(-alpha) - Φ(-beta).
    flip = alpha > 0
    lo = torch.where(flip, -beta, alpha)
    hi = torch.where(flip, -alpha, beta)
    log_hi = torch.special.log_ndtr(hi)
    gap = (torch.special.log_ndtr(lo) - log_hi).clamp(max=-1e-12)
    return log_hi + torch.log(-torch.expm1(gap))


def _uniform_to_normal(u):
    eps = torch.finfo(u.dtype).eps
    return torch.special.ndtri(u.clamp(eps, 1.0 - eps))


class Mixed:
    """Independent per-column distributions of a mixed table's row.

    Numeric columns have a mixture of ``N_MODES`` Gaussians each (integer
    columns the same mixture, discretised to the integers seen in training,
    with the tails beyond the lowest and highest integer folded onto them);
    binary columns a Bernoulli; categorical columns a categorical
    distribution. ``x`` is in the model space of
    :class:`~skaevae.utils._layout.ColumnLayout`.
    """

    noise = "uniform"

    def __init__(self, layout, params, integer_bounds):
        self.layout = layout
        n_numeric, n_binary = layout.n_numeric, layout.n_binary
        lead = params.shape[:-1]
        numeric = params[..., : 3 * N_MODES * n_numeric].reshape(*lead, n_numeric, 3, N_MODES)
        self.mode_logits = numeric[..., 0, :]
        self.loc = numeric[..., 1, :]
        self.log_scale = numeric[..., 2, :].clamp(min=MIN_LOG_SCALE)
        start = 3 * N_MODES * n_numeric
        self.binary_logits = params[..., start : start + n_binary]
        self.category_logits = params[..., start + n_binary :]
        self.integer_bounds = integer_bounds  # (n_integer, 3): low, high, half step

    def _category_blocks(self, tensor):
        offset = self.layout.n_numeric + self.layout.n_binary
        for s in self.layout.category_slices():
            yield tensor[..., s.start - offset : s.stop - offset]

    def column_log_prob(self, x):
        """Log-likelihood of each column of each row, ``(..., n_columns)``, in nats."""
        layout = self.layout
        n_numeric, n_binary = layout.n_numeric, layout.n_binary
        log_weights = torch.log_softmax(self.mode_logits, dim=-1)
        value = x[..., :n_numeric, None]
        scale_inv = torch.exp(-self.log_scale)
        standardized = (value - self.loc) * scale_inv
        density = -0.5 * (standardized.square() + _LOG_2PI) - self.log_scale
        n_continuous = layout.n_continuous
        terms = [
            torch.logsumexp(
                log_weights[..., :n_continuous, :] + density[..., :n_continuous, :], dim=-1
            )
        ]
        if layout.n_integer:
            low, high, half = self.integer_bounds.unbind(dim=-1)
            v = x[..., n_continuous:n_numeric]
            # A value beyond the training range by more than half a step is
            # not one of the column's integers: it is scored by the next rule
            # below, its bin's density × width, and its ends are left plain
            # (an open end would be on the wrong side of a value past it).
            outside = ((v < low - half) | (v > high + half))[..., None]
            at_low = (v <= low + 0.5 * half)[..., None] & ~outside
            at_high = (v >= high - 0.5 * half)[..., None] & ~outside
            loc = self.loc[..., n_continuous:, :]
            inv = scale_inv[..., n_continuous:, :]
            # The bin's ends in units of each component's scale, as the value
            # ± half a step: a column whose integers are far apart next to its
            # spread (a tiny half step in model units) keeps its bin width,
            # which v ± half would round away in float32.
            centre = standardized[..., n_continuous:, :]
            step = half[..., None] * inv
            alpha = torch.where(at_low, (-_OPEN_END - loc) * inv, centre - step)
            beta = torch.where(at_high, (_OPEN_END - loc) * inv, centre + step)
            bin_width = torch.where(at_low | at_high, beta - alpha, 2.0 * step)
            narrow = bin_width < _NARROW_BIN
            exact = _log_normal_cdf_difference(alpha, beta)
            width = torch.where(narrow, bin_width, torch.ones_like(beta))
            approx = density[..., n_continuous:, :] + self.log_scale[..., n_continuous:, :]
            approx = approx + torch.log(width)
            mass = torch.where(narrow, approx, exact)
            # Beyond the range, the mass of the value's own bin as density ×
            # width: it falls like the Gaussian's tail however far out the
            # value is (down to -inf), where the exact difference of Φ stops
            # falling at its clipping, 30 scales out.
            tail = density[..., n_continuous:, :] + self.log_scale[..., n_continuous:, :]
            tail = tail + torch.log(2.0 * step)
            mass = torch.where(outside, tail, mass)
            terms.append(torch.logsumexp(log_weights[..., n_continuous:, :] + mass, dim=-1))
        if n_binary:
            binary = x[..., n_numeric : n_numeric + n_binary]
            logits, binary = torch.broadcast_tensors(self.binary_logits, binary)
            terms.append(
                -nn.functional.binary_cross_entropy_with_logits(logits, binary, reduction="none")
            )
        onehots = [x[..., s] for s in layout.category_slices()]
        for logits, onehot in zip(
            self._category_blocks(self.category_logits), onehots, strict=True
        ):
            terms.append((torch.log_softmax(logits, dim=-1) * onehot).sum(dim=-1, keepdim=True))
        lead = torch.broadcast_shapes(*(t.shape[:-1] for t in terms))
        return torch.cat([t.expand(*lead, t.shape[-1]) for t in terms], dim=-1)

    def log_prob(self, x, mask=None):
        """Log-likelihood of each row, summed over columns; ``mask`` is ``(..., n_columns)``."""
        return _sum_features(self.column_log_prob(x), mask)

    def _integer_grid(self, values):
        # Nearest integer seen in training, in model units.
        low, high, half = self.integer_bounds.unbind(dim=-1)
        steps = torch.round((values - low) / (2.0 * half))
        steps = torch.minimum(steps.clamp(min=0.0), torch.round((high - low) / (2.0 * half)))
        return low + steps * 2.0 * half

    @property
    def mean(self):
        """Expected value of each model column: mixture means, probabilities."""
        layout = self.layout
        numeric = (torch.softmax(self.mode_logits, dim=-1) * self.loc).sum(dim=-1)
        if layout.n_integer:
            low, high, _ = self.integer_bounds.unbind(dim=-1)
            integer = numeric[..., layout.n_continuous :]
            integer = torch.minimum(torch.maximum(integer, low), high)
            numeric = torch.cat([numeric[..., : layout.n_continuous], integer], dim=-1)
        parts = [numeric, torch.sigmoid(self.binary_logits)]
        parts += [torch.softmax(b, dim=-1) for b in self._category_blocks(self.category_logits)]
        return torch.cat(parts, dim=-1)

    @property
    def n_noise(self):
        layout = self.layout
        return 2 * layout.n_numeric + layout.n_binary + len(layout.categories)

    def sample(self, generator=None, noise=None):
        """One draw of each row, from ``n_noise`` uniform numbers per row given as ``noise``."""
        layout = self.layout
        n_numeric, n_binary = layout.n_numeric, layout.n_binary
        lead = self.loc.shape[:-2]
        if noise is None:
            noise = torch.rand(
                (*lead, self.n_noise),
                generator=generator,
                dtype=self.loc.dtype,
                device=self.loc.device,
            )
        pick, value, rest = noise.split([n_numeric, n_numeric, noise.shape[-1] - 2 * n_numeric], -1)
        cumulative = torch.cumsum(torch.softmax(self.mode_logits, dim=-1), dim=-1)
        mode = (cumulative < pick[..., None]).sum(dim=-1, keepdim=True).clamp(max=N_MODES - 1)
        loc = torch.gather(self.loc, -1, mode)[..., 0]
        scale = torch.exp(torch.gather(self.log_scale, -1, mode)[..., 0])
        numeric = loc + scale * _uniform_to_normal(value)
        if layout.n_integer:
            integer = self._integer_grid(numeric[..., layout.n_continuous :])
            numeric = torch.cat([numeric[..., : layout.n_continuous], integer], dim=-1)
        parts = [
            numeric,
            (rest[..., :n_binary] < torch.sigmoid(self.binary_logits)).to(numeric.dtype),
        ]
        for i, logits in enumerate(self._category_blocks(self.category_logits)):
            u = rest[..., n_binary + i, None]
            cumulative = torch.cumsum(torch.softmax(logits, dim=-1), dim=-1)
            index = (cumulative < u).sum(dim=-1, keepdim=True).clamp(max=logits.shape[-1] - 1)
            parts.append(torch.zeros_like(logits).scatter_(-1, index, 1.0))
        return torch.cat(parts, dim=-1)


class MixedLikelihood(nn.Module):
    """``p(x | h)`` of a mixed table's row: one distribution per column (:class:`Mixed`).

    ``layout`` (a :class:`~skaevae.utils._layout.ColumnLayout`) says where each
    column sits in the model space. One linear head gives every column's
    parameters.
    """

    noise = Mixed.noise

    def __init__(self, n_in, layout):
        super().__init__()
        self.layout = layout
        n_params = 3 * N_MODES * layout.n_numeric + layout.n_binary + sum(layout.categories)
        self.n_params = n_params
        self.head = _head(n_in, n_params)
        bounds = torch.tensor(layout.integer_bounds, dtype=torch.float32).reshape(-1, 3)
        self.register_buffer("integer_bounds", bounds)
        self.n_noise = 2 * layout.n_numeric + layout.n_binary + len(layout.categories)
        if n_in is None:
            return
        with torch.no_grad():
            # Spread the modes' starting means over the standardised range,
            # so that they do not all learn the same thing.
            numeric = self.head.bias[: 3 * N_MODES * layout.n_numeric].view(-1, 3, N_MODES)
            numeric[:, 1, :] = torch.linspace(-1.5, 1.5, N_MODES)
            numeric[:, 2, :] = math.log(0.5)

    def forward(self, h):
        return Mixed(self.layout, self.head(h), self.integer_bounds.to(h.dtype))
