"""Per-sample loss terms (torch only).

Every term here returns one value per row, shape ``(n,)``. Training reduces it
over the batch, ``score_samples`` reports it per row, so a row's score does not
depend on the rows that come with it. Losses are called as ``loss(output,
batch)``: a module's output dictionary and the :class:`~skaevae.nn._batch.Batch`
it came from.
"""

import math

import torch
from torch import nn

from ._likelihoods import gaussian_log_prob, standard_normal_log_prob


def squared_error(x, x_hat, mask=None):
    """Mean squared reconstruction error of each row, shape ``(n,)``.

    With ``mask`` (1 where observed), missing entries count as zero error: the
    sum over the observed entries, divided by the number of features, so
    that every observed entry of the data weighs the same in training.
    """
    error = (x - x_hat).square()
    if mask is not None:
        error = error * mask
    return error.mean(dim=-1)


def kl_to_standard_normal(loc, log_scale):
    """KL(N(loc, scale²) || N(0, I)) of each row, in closed form.

    ``KL = ½ Σ_k (loc_k² + scale_k² - 1 - 2 log scale_k)``.
    """
    return 0.5 * (loc.square() + torch.exp(2.0 * log_scale) - 1.0 - 2.0 * log_scale).sum(dim=-1)


def code_activity(z):
    """Mean absolute value of each row's code, ``(n,)``: the sparse autoencoder's L1 term."""
    return z.abs().mean(dim=-1)


class ReconstructionLoss(nn.Module):
    """Per-sample mean squared error of an autoencoder's output.

    With ``sparsity > 0`` (a sparse autoencoder), ``sparsity`` times the
    row's mean absolute code value (:func:`code_activity`) is added: an L1
    activity penalty that drives code entries towards zero.
    """

    def __init__(self, sparsity=0.0):
        super().__init__()
        self.sparsity = sparsity

    def forward(self, output, batch):
        loss = squared_error(batch.x, output["x_loc"], batch.mask)
        if self.sparsity:
            loss = loss + self.sparsity * code_activity(output["z"])
        return loss

    def batch_mean(self, output, batch):
        """The mean of :meth:`forward` over the batch, in one reduction.

        Every row has the same number of features, so the mean of the rows'
        means is the mean over all entries.
        """
        if batch.mask is not None or self.sparsity:
            return self(output, batch).mean()
        x = batch.x
        # Under bf16 autocast x_loc is bf16; older torch's mse_loss backward
        # does not promote, so the output is cast to x's dtype (a no-op in float32).
        return nn.functional.mse_loss(output["x_loc"].to(x.dtype), x)


def column_reconstruction_errors(x, raw, layout):
    """Reconstruction error of each column of a mixed table's rows, ``(n, n_columns)``.

    ``raw`` is an autoencoder's output in the model space of ``layout`` (a
    :class:`~skaevae.utils._layout.ColumnLayout`): values for numeric columns,
    log-odds for binary ones, logits for each categorical block. Numeric
    columns give the squared error in standardised units; binary and
    categorical columns the cross-entropy, in nats.
    """
    n_numeric, n_binary = layout.n_numeric, layout.n_binary
    terms = [(x[:, :n_numeric] - raw[:, :n_numeric]).square()]
    if n_binary:
        binary = slice(n_numeric, n_numeric + n_binary)
        terms.append(
            nn.functional.binary_cross_entropy_with_logits(
                raw[:, binary], x[:, binary], reduction="none"
            )
        )
    for s in layout.category_slices():
        log_p = torch.log_softmax(raw[:, s], dim=-1)
        terms.append(-(log_p * x[:, s]).sum(dim=-1, keepdim=True))
    return torch.cat(terms, dim=-1)


def mixed_output_mean(raw, layout):
    """An autoencoder's output in model space as values and probabilities."""
    n_numeric, n_binary = layout.n_numeric, layout.n_binary
    parts = [raw[..., :n_numeric], torch.sigmoid(raw[..., n_numeric : n_numeric + n_binary])]
    parts += [torch.softmax(raw[..., s], dim=-1) for s in layout.category_slices()]
    return torch.cat(parts, dim=-1)


# Least probability a category's cross-entropy counts (its error is at most
# -log(1e-7), about 16.1 nats); also the probability of a category never seen
# in training, scored as very unlikely but finite.
PROBABILITY_FLOOR = 1e-7


def column_errors_from_mean(x, mean, layout, eps=PROBABILITY_FLOOR):
    """Per-column error of a reconstruction given as values and probabilities, ``(n, n_columns)``.

    Like :func:`column_reconstruction_errors`, for the output of a decoder's
    ``decode`` (probabilities, not logits): squared error of numeric columns,
    cross-entropy of binary and categorical ones, with probabilities clipped
    to ``[eps, 1]``.
    """
    n_numeric, n_binary = layout.n_numeric, layout.n_binary
    terms = [(x[:, :n_numeric] - mean[:, :n_numeric]).square()]
    if n_binary:
        binary = slice(n_numeric, n_numeric + n_binary)
        p = mean[:, binary].clamp(eps, 1.0 - eps)
        terms.append(-(x[:, binary] * torch.log(p) + (1.0 - x[:, binary]) * torch.log1p(-p)))
    for s in layout.category_slices():
        observed = (mean[:, s] * x[:, s]).sum(dim=-1, keepdim=True)
        terms.append(-torch.log(observed.clamp(min=eps)))
    return torch.cat(terms, dim=-1)


class MixedReconstructionLoss(nn.Module):
    """Per-sample reconstruction error of a mixed table's row: the mean over its columns.

    See :func:`column_reconstruction_errors`; ``sparsity`` is as in
    :class:`ReconstructionLoss`.
    """

    def __init__(self, layout, sparsity=0.0):
        super().__init__()
        self.layout = layout
        self.sparsity = sparsity

    def forward(self, output, batch):
        errors = column_reconstruction_errors(batch.x, output["x_loc"], self.layout)
        if batch.mask is not None:
            errors = errors * batch.mask
        loss = errors.mean(dim=-1)
        if self.sparsity:
            loss = loss + self.sparsity * code_activity(output["z"])
        return loss


class ELBOLoss(nn.Module):
    """Per-sample negative evidence lower bound of a VAE, in nats.

    ``-ELBO(x) = -E_q[log p(x | z)] + beta · KL(q(z | x) || p(z))``, with the
    expectation estimated by the one reparameterised draw made in the forward
    pass, and ``log p(x | z)`` the module's likelihood object, ``output["px"]``.
    In training mode ``kl_weight`` (set by the KL warm-up) multiplies
    ``beta``; in evaluation mode the full ``beta`` is used.
    """

    def __init__(self, beta=1.0):
        super().__init__()
        self.beta = beta
        self.kl_weight = 1.0

    def terms(self, output, batch):
        """Negative log-likelihood and KL term of each row, two ``(n,)`` tensors."""
        nll = -output["px"].log_prob(batch.x, batch.mask)
        kl = kl_to_standard_normal(output["z_loc"], output["z_log_scale"])
        return nll, kl

    def importance_weighted(self, output, batch, weight):
        """Minus the importance-weighted bound of each row, from K draws ``output["z"]``.

        ``-log (1/K) Σ_k p(x | z_k) p(z_k)^w / q(z_k | x)^w`` with ``w`` the
        KL weight: the IWAE bound (Burda et al., 2016), which MIWAE trains
        on, tighter than the ELBO for K > 1.
        """
        z, loc, log_scale = output["z"], output["z_loc"], output["z_log_scale"]
        log_ratio = standard_normal_log_prob(z) - gaussian_log_prob(z, loc, log_scale)
        log_w = output["px"].log_prob(batch.x, batch.mask) + weight * log_ratio
        return -(torch.logsumexp(log_w, dim=0) - math.log(z.shape[0]))

    def forward(self, output, batch):
        weight = self.kl_weight if self.training else 1.0
        if "z_draws" in output:
            return self.importance_weighted(output, batch, weight * self.beta)
        nll, kl = self.terms(output, batch)
        # In training mode the warm-up weight scales the KL term; evaluation
        # (validation, monitoring) always uses the full objective.
        weight = self.kl_weight if self.training else 1.0
        return nll + weight * self.beta * kl
