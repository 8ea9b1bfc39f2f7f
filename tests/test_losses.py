"""Per-sample loss terms against torch.distributions."""

import torch
from torch.distributions import Independent, Normal, kl_divergence

from skaevae.nn._batch import Batch
from skaevae.nn._likelihoods import Gaussian
from skaevae.nn._losses import ELBOLoss, kl_to_standard_normal, squared_error


def _rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def test_kl_matches_torch_distributions():
    loc, log_scale = _rand(6, 4, seed=3), 0.5 * _rand(6, 4, seed=4)
    q = Independent(Normal(loc, log_scale.exp()), 1)
    p = Independent(Normal(torch.zeros(4), torch.ones(4)), 1)
    torch.testing.assert_close(kl_to_standard_normal(loc, log_scale), kl_divergence(q, p))


def test_squared_error_is_per_row_mean():
    x, x_hat = _rand(3, 5, seed=5), _rand(3, 5, seed=6)
    out = squared_error(x, x_hat)
    assert out.shape == (3,)
    torch.testing.assert_close(out, ((x - x_hat) ** 2).mean(dim=1))


def test_elbo_loss_applies_the_warmup_weight_in_training_only():
    batch = Batch(_rand(4, 3, seed=7))
    output = {
        "px": Gaussian(_rand(4, 3, seed=8), torch.zeros(3)),
        "z_loc": _rand(4, 2, seed=9),
        "z_log_scale": 0.1 * _rand(4, 2, seed=10),
    }
    loss = ELBOLoss(beta=2.0)
    nll, kl = loss.terms(output, batch)
    torch.testing.assert_close(nll, -output["px"].log_prob(batch.x))
    loss.kl_weight = 0.25
    loss.train()
    torch.testing.assert_close(loss(output, batch), nll + 0.25 * 2.0 * kl)
    loss.eval()
    torch.testing.assert_close(loss(output, batch), nll + 2.0 * kl)
