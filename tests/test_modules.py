"""Torch core: shapes, the linear autoencoder, the reparameterisation and the IWAE estimate."""

import math

import numpy as np
import pytest
import torch

from skaevae.nn._batch import Batch
from skaevae.nn._likelihoods import gaussian_log_prob
from skaevae.nn._modules import AutoencoderModule, VAEModule


def test_linear_autoencoder_is_two_affine_maps():
    module = AutoencoderModule(10, 3, hidden_layer_sizes=(), activation="identity")
    linear = [m for m in module.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linear] == [(10, 3), (3, 10)]


def test_decoder_mirrors_encoder():
    module = AutoencoderModule(20, 4, hidden_layer_sizes=(16, 8))
    widths = [m.out_features for m in module.decoder if isinstance(m, torch.nn.Linear)]
    assert widths == [8, 16, 20]


def test_vae_reparameterisation_is_differentiable_and_stochastic_in_training():
    torch.manual_seed(0)
    module = VAEModule(6, 2, hidden_layer_sizes=(8,))
    x = torch.randn(32, 6)
    module.train()
    out1, out2 = module(Batch(x)), module(Batch(x))
    assert not torch.equal(out1["z"], out2["z"])  # a fresh draw each time
    out1["z"].sum().backward()
    assert module.z_log_scale.weight.grad is not None  # gradient flows through sigma
    module.eval()
    torch.testing.assert_close(module(Batch(x))["z"], module.encode(x)[0])  # eval: z = mu


def test_iwae_with_one_draw_is_the_elbo_of_that_draw():
    torch.manual_seed(0)
    module = VAEModule(5, 2, hidden_layer_sizes=(8,)).eval()
    x = torch.randn(7, 5)
    eps = torch.randn(1, 2)
    with torch.no_grad():
        loc, log_scale = module.encode(x)
        z = loc + log_scale.exp() * eps
        log_px_z = gaussian_log_prob(x, module.decode(z), module.likelihood.output_log_scale())
        # With one draw, the estimate is the log importance weight of that draw.
        log_pz = -0.5 * (z**2).sum(1) - math.log(2 * math.pi)
        log_qz = gaussian_log_prob(z, loc, log_scale)
        expected = log_px_z + log_pz - log_qz
        torch.testing.assert_close(module.importance_log_likelihood(x, eps), expected)


def test_iwae_tightens_with_more_draws_on_average():
    torch.manual_seed(0)
    module = VAEModule(5, 2, hidden_layer_sizes=(8,)).eval()
    x = torch.randn(200, 5)
    with torch.no_grad():
        few = module.importance_log_likelihood(x, torch.randn(1, 2)).mean()
        many = module.importance_log_likelihood(x, torch.randn(256, 2)).mean()
    # E[log mean of K weights] grows with K towards log p(x) (Burda et al., 2016).
    assert many > few


def test_output_scale_has_a_floor():
    module = VAEModule(3, 1)
    with torch.no_grad():
        module.likelihood.log_scale.fill_(-50.0)
    assert module.likelihood.output_log_scale().min().item() > -7.0


def _pca_of_digits(n_components):
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    X = StandardScaler().fit_transform(load_digits().data).astype("float32")
    return X, PCA(n_components).fit(X)


@pytest.mark.parametrize("cls", [AutoencoderModule, VAEModule], ids=["ae", "vae"])
@pytest.mark.parametrize(
    "hidden, activation",
    [((), "relu"), ((32,), "relu"), ((32, 16), "relu"), ((16,), "identity")],
)
def test_init_pca_reconstructs_exactly_as_pca(cls, hidden, activation):
    X, pca = _pca_of_digits(6)
    module = cls(64, 6, hidden, activation).eval()
    module.init_pca(
        pca.mean_, pca.components_, pca.explained_variance_, np.full(64, 0.5), activation
    )
    with torch.no_grad():
        code = module.encode(torch.from_numpy(X))
        code = code[0] if isinstance(code, tuple) else code
        recon = module.decode(code).numpy()
    np.testing.assert_allclose(recon, pca.inverse_transform(pca.transform(X)), atol=1e-4)
    scores = pca.transform(X)
    if cls is VAEModule:
        # The VAE's posterior mean is the whitened scores, as the prior expects.
        scores = scores / np.sqrt(pca.explained_variance_)
    np.testing.assert_allclose(code.numpy(), scores, atol=1e-4)


def test_init_pca_carries_half_the_width_of_a_narrow_relu_layer():
    # A ReLU layer of width 6 carries 3 scores as (relu(s), relu(-s)) pairs.
    X, pca6 = _pca_of_digits(6)
    _, pca3 = _pca_of_digits(3)
    module = AutoencoderModule(64, 6, (6,), "relu").eval()
    module.init_pca(pca6.mean_, pca6.components_, pca6.explained_variance_, None, "relu")
    with torch.no_grad():
        recon = module.decode(module.encode(torch.from_numpy(X))).numpy()
    np.testing.assert_allclose(recon, pca3.inverse_transform(pca3.transform(X)), atol=1e-4)


def test_init_pca_needs_relu_or_identity():
    module = AutoencoderModule(4, 2, (8,), "tanh")
    with pytest.raises(ValueError, match="init='pca' needs activation='relu' or 'identity'"):
        module.init_pca(np.zeros(4), np.eye(4)[:2], np.ones(2), None, "tanh")
