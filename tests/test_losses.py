"""Per-sample loss terms against torch.distributions."""

import torch
from torch.distributions import Independent, Normal, kl_divergence

from skaevae._losses import (
    gaussian_log_prob,
    kl_to_standard_normal,
    squared_error,
    standard_normal_log_prob,
)


def _rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def test_gaussian_log_prob_matches_torch_distributions():
    x, loc, log_scale = _rand(5, 7, seed=0), _rand(5, 7, seed=1), 0.3 * _rand(7, seed=2)
    expected = Independent(Normal(loc, log_scale.exp()), 1).log_prob(x)
    torch.testing.assert_close(gaussian_log_prob(x, loc, log_scale), expected)


def test_standard_normal_log_prob_matches_torch_distributions():
    z = _rand(4, 3)
    expected = Independent(Normal(torch.zeros(3), torch.ones(3)), 1).log_prob(z)
    torch.testing.assert_close(standard_normal_log_prob(z), expected)


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
