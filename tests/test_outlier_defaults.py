"""Tests of the outlier detector's default networks and their PCA screen."""

import math

import numpy as np
import pytest
import sklearn
from sklearn.decomposition import PCA
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skaevae import AutoencoderTransformer, OutlierDetector, VAETransformer
from skaevae.outlier._defaults import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_N_STEPS,
    MAX_N_COMPONENTS,
    _WeightedPCA,
    default_fit_params,
    make_default_network,
    make_default_screen,
)


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    return rng.normal(size=(200, 6)) @ rng.normal(size=(6, 6))


@pytest.mark.parametrize("n_samples", [3, 200, 5000, 50_000])
def test_default_network_trains_for_the_step_budget_whatever_the_rows(n_samples):
    network = make_default_network("autoencoder", n_samples, n_features=12, seed=0)[-1]
    assert isinstance(network, AutoencoderTransformer)
    assert network.batch_size == min(DEFAULT_BATCH_SIZE, n_samples)
    steps_per_epoch = math.ceil(n_samples / network.batch_size)
    n_steps = network.max_iter * steps_per_epoch
    assert DEFAULT_N_STEPS <= n_steps < DEFAULT_N_STEPS + steps_per_epoch
    assert network.n_iter_no_change == network.max_iter
    assert (network.n_components, network.hidden_layer_sizes) == (3, (6,))
    assert network.init == "pca"
    vae = make_default_network("vae", n_samples, n_features=12, seed=0)[-1]
    assert isinstance(vae, VAETransformer)
    assert vae.kl_warmup == max(1, network.max_iter // 4)


def test_default_screen_is_pca_of_the_code_width(data):
    assert make_default_screen(200, 6, weighted=False)[-1].n_components == 1
    assert isinstance(make_default_screen(200, 6, weighted=True)[-1], _WeightedPCA)
    # Never more components than rows.
    assert make_default_screen(2, 40, weighted=False)[-1].n_components == 2


def test_wide_table_gets_a_capped_code_and_the_leading_axes_screen():
    # 300 features: a code of 32 units (not 75) and a hidden layer of 64; the
    # screen computes the leading axes only, and its components are PCA's.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(400, 8)) @ rng.normal(size=(8, 300)) + 0.1 * rng.normal(size=(400, 300))
    network = make_default_network("autoencoder", 400, n_features=300, seed=0)[-1]
    assert (network.n_components, network.hidden_layer_sizes) == (MAX_N_COMPONENTS, (64,))
    screen = make_default_screen(400, 300, weighted=False)
    assert isinstance(screen[-1], _WeightedPCA)
    components = screen.fit(X)[-1].components_
    reference = make_pipeline(StandardScaler(), PCA(MAX_N_COMPONENTS)).fit(X)[-1].components_
    # The 8 directions of the signal, up to sign.
    overlap = np.abs(np.sum(components[:8] * reference[:8], axis=1))
    np.testing.assert_allclose(overlap, 1.0, atol=1e-6)
    detector = OutlierDetector(random_state=0).fit(X)
    assert detector.estimator_[-1].n_components == MAX_N_COMPONENTS
    assert np.isfinite(detector.score_samples(X[:5])).all()


def test_weighted_pca_is_pca_of_repeated_rows(data):
    # Integer weights act as repeated rows, zero weights as absent ones.
    weight = np.r_[np.zeros(50), np.full(100, 2.0), np.ones(50)]
    repeated = np.concatenate([data[50:150], data[50:150], data[150:]])
    screen = _WeightedPCA(3).fit(data, sample_weight=weight)
    pca = PCA(n_components=3).fit(repeated)
    signs = np.sign((screen.components_ * pca.components_).sum(axis=1))
    np.testing.assert_allclose(screen.components_ * signs[:, None], pca.components_, atol=1e-10)
    np.testing.assert_allclose(screen.mean_, pca.mean_)
    codes = screen.transform(data)
    np.testing.assert_allclose(codes * signs, pca.transform(data), atol=1e-10)
    np.testing.assert_allclose(
        screen.inverse_transform(codes), pca.inverse_transform(codes * signs)
    )


@pytest.mark.parametrize("routing", [False, True])
def test_default_fit_params_weigh_every_step(data, routing):
    weight = np.r_[np.zeros(100), np.ones(100)]
    with sklearn.config_context(enable_metadata_routing=routing):
        screen = make_default_screen(200, 6, weighted=True)
        params = default_fit_params(screen, weight)
        if routing:
            assert list(params) == ["sample_weight"]
        else:
            assert sorted(params) == [
                "_weightedpca__sample_weight",
                "standardscaler__sample_weight",
            ]
        screen.fit(data, **params)
        assert default_fit_params(screen, None) == {}
    scaler, pca = screen
    np.testing.assert_allclose(scaler.mean_, data[100:].mean(axis=0))
    np.testing.assert_allclose(pca.mean_, scaler.transform(data[100:]).mean(axis=0), atol=1e-12)
