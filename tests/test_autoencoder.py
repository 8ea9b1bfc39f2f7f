"""AutoencoderTransformer on real data (digits, held-out split) against PCA."""

import numpy as np
import pytest
from sklearn.decomposition import PCA

from skaevae import AutoencoderTransformer


def held_out_error(model, X):
    """Mean squared reconstruction error of X through ``model``."""
    return float(np.mean((model.inverse_transform(model.transform(X)) - X) ** 2))


def fit_linear_autoencoder(X, n_components):
    """An affine encoder and decoder, trained long enough to reach PCA's optimum."""
    return AutoencoderTransformer(
        n_components=n_components,
        hidden_layer_sizes=(),
        activation="identity",
        alpha=0.0,
        learning_rate_init=1e-2,
        max_iter=300,
        random_state=0,
        device="cpu",
    ).fit(X)


def test_linear_autoencoder_matches_pca(digits_split):
    # A linear AE spans PCA's subspace, so at its optimum its held-out
    # reconstruction error equals PCA's at the same n_components.
    X_train, X_test, *_ = digits_split
    pca = PCA(n_components=8).fit(X_train)
    linear = fit_linear_autoencoder(X_train, n_components=8)
    ratio = held_out_error(linear, X_test) / held_out_error(pca, X_test)
    assert ratio == pytest.approx(1.0, abs=0.02)


def test_linear_autoencoder_decoder_spans_principal_subspace(digits_split):
    # The decoder's column space is PCA's subspace: the principal angles between
    # them are close to zero (cosines close to one).
    X_train, *_ = digits_split
    pca = PCA(n_components=4).fit(X_train)
    linear = fit_linear_autoencoder(X_train, n_components=4)
    decoder = linear.net_.module_.decoder[0].weight.detach().numpy()  # (64, 4)
    q_ae, _ = np.linalg.qr(decoder)
    cosines = np.linalg.svd(pca.components_ @ q_ae, compute_uv=False)
    assert cosines.min() > 0.95


def test_default_autoencoder_beats_pca(default_ae, digits_split):
    # The non-linear default reaches at most 0.6x PCA's held-out error.
    X_train, X_test, *_ = digits_split
    pca = PCA(n_components=8).fit(X_train)
    assert held_out_error(default_ae, X_test) <= 0.6 * held_out_error(pca, X_test)


def test_score_is_negative_reconstruction_error(default_ae, digits_split):
    X_test = digits_split[1]
    scores = default_ae.score_samples(X_test)
    reconstruction = default_ae.inverse_transform(default_ae.transform(X_test))
    np.testing.assert_allclose(scores, -np.mean((reconstruction - X_test) ** 2, axis=1), rtol=1e-4)
    assert default_ae.score(X_test) == pytest.approx(scores.mean())


def test_autoencoder_codes_are_not_standardised(default_ae, digits_split):
    # Unlike a VAE's (tests/test_vae.py), nothing pulls an autoencoder's codes
    # towards N(0, I), and on digits they are far from it.
    Z = default_ae.transform(digits_split[0])
    far_from_standard = (np.abs(Z.mean(axis=0)) > 0.5) | (np.abs(Z.std(axis=0) - 1) > 0.5)
    assert far_from_standard.any()


def test_samples_follow_the_data(default_ae, digits_split):
    # The two-stage sampler's rows have the data's shape, are
    # finite and reproducible, and their moments are closer to the data's than
    # those of a Gaussian with independent features.
    X_train = digits_split[0]
    samples = default_ae.sample(2000, random_state=0)
    assert samples.shape == (2000, X_train.shape[1])
    assert np.isfinite(samples).all()
    np.testing.assert_array_equal(samples, default_ae.sample(2000, random_state=0))
    assert not np.array_equal(samples, default_ae.sample(2000, random_state=1))

    cov = np.cov(X_train, rowvar=False)
    independent_error = np.linalg.norm(np.diag(np.diag(cov)) - cov)
    assert np.linalg.norm(np.cov(samples, rowvar=False) - cov) < independent_error
    assert np.abs(samples.mean(axis=0) - X_train.mean(axis=0)).max() < 0.5


def test_latent_gaussian_is_fitted_to_training_codes(default_ae, digits_split):
    Z = default_ae.transform(digits_split[0])
    np.testing.assert_allclose(default_ae.latent_mean_, Z.mean(axis=0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        default_ae.latent_covariance_, np.cov(Z, rowvar=False), rtol=1e-4, atol=1e-4
    )


def test_pca_init_starts_from_pca_and_depends_less_on_the_seed(digits_split):
    # After 3 epochs on held-out digits: from PCA, the autoencoder is already
    # better than PCA with as many components; from a random start it is far
    # behind, and its error varies several times more from seed to seed.
    X_train, X_test = digits_split[:2]
    pca = PCA(n_components=8).fit(X_train)
    pca_error = np.mean(np.square(X_test - pca.inverse_transform(pca.transform(X_test))))
    errors = {}
    for init in ("random", "pca"):
        errors[init] = np.array(
            [
                _held_out_mse(
                    AutoencoderTransformer(
                        n_components=8, init=init, max_iter=3, random_state=seed, device="cpu"
                    ).fit(X_train),
                    X_test,
                )
                for seed in range(3)
            ]
        )
    assert errors["pca"].max() < pca_error < errors["random"].min()
    assert errors["pca"].std() < errors["random"].std() / 3


def test_pca_init_needs_relu_or_identity(small_X):
    ae = AutoencoderTransformer(init="pca", activation="tanh", max_iter=1)
    with pytest.raises(ValueError, match="init='pca' needs activation='relu' or 'identity'"):
        ae.fit(small_X)


def _held_out_mse(model, X):
    return np.mean(np.square(X - model.inverse_transform(model.transform(X))))


def test_pca_init_codes_are_the_principal_scores(digits_split):
    # A negligible step size leaves the network at its start: codes are PCA's
    # scores, up to the sign of each component.
    X_train = digits_split[0]
    ae = AutoencoderTransformer(
        n_components=4, init="pca", max_iter=1, learning_rate_init=1e-12, device="cpu"
    ).fit(X_train)
    scores = PCA(n_components=4).fit(X_train).transform(X_train)
    codes = ae.transform(X_train)
    signs = np.sign((codes * scores).sum(axis=0))
    np.testing.assert_allclose(codes * signs, scores, atol=1e-3)
