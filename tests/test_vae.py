"""VAETransformer on real data (digits, held-out split): latent space, likelihood, samples."""

import numpy as np
import pandas as pd
import pytest
import sklearn
import torch
from sklearn.base import clone
from sklearn.datasets import load_wine
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler

from skaevae import VAETransformer
from tests._testing import assert_same_rows


def test_latent_codes_are_close_to_the_prior(default_vae, digits_split):
    # The KL term pulls the codes of the training data towards N(0, I).
    # A VAE's code of a row is a draw z ~ q(z | x); over the training data
    # these draws (the aggregate posterior) have mean ~0 and std ~1 per dimension.
    X_train = digits_split[0]
    with torch.no_grad():
        loc, log_scale = default_vae.net_.module_.encode(torch.tensor(X_train, dtype=torch.float32))
        eps = torch.randn(loc.shape, generator=torch.Generator().manual_seed(0))
        z = (loc + log_scale.exp() * eps).numpy()
    assert np.abs(z.mean(axis=0)).max() < 0.2
    assert np.all((z.std(axis=0) > 0.8) & (z.std(axis=0) < 1.25))

    # The posterior means (transform) are centred too, and never spread wider
    # than the prior; a dimension the decoder barely uses has mu ~ 0, sigma ~ 1.
    Z = default_vae.transform(X_train)
    np.testing.assert_allclose(Z, loc.numpy(), rtol=1e-5, atol=1e-5)
    assert np.abs(Z.mean(axis=0)).max() < 0.2
    assert Z.std(axis=0).max() < 1.25


def test_held_out_log_likelihood_beats_pca(default_vae, digits_split):
    # The score is the mean log-likelihood per row, as PCA.score gives it, and
    # on held-out rows the VAE's is the higher.
    X_train, X_test, *_ = digits_split
    pca_score = PCA(n_components=8).fit(X_train).score(X_test)
    assert default_vae.score(X_test) > pca_score


def test_score_samples_is_deterministic_and_row_wise(default_vae, digits_split):
    X_test = digits_split[1]
    scores = default_vae.score_samples(X_test)
    np.testing.assert_array_equal(scores, default_vae.score_samples(X_test))
    # The same row gets the same score whatever rows come with it.
    np.testing.assert_allclose(default_vae.score_samples(X_test[5:6]), scores[5:6], rtol=1e-5)
    np.testing.assert_allclose(default_vae.score_samples(X_test[::-1]), scores[::-1], rtol=1e-5)
    assert scores.dtype == np.float64 and np.isfinite(scores).all()


def test_log_likelihood_ranks_held_out_rows_above_noise(default_vae, digits_split):
    # A density model must give real digits more likelihood than shuffled pixels
    # with the same per-feature marginals.
    X_test = digits_split[1]
    rng = np.random.RandomState(0)
    shuffled = np.column_stack([rng.permutation(col) for col in X_test.T])
    assert np.median(default_vae.score_samples(X_test)) > np.median(
        default_vae.score_samples(shuffled)
    )


def test_samples_follow_the_data_better_than_the_autoencoder(default_vae, default_ae, digits_split):
    # Samples from the prior have the data's shape, are finite and
    # reproducible, and match the data's mean and covariance, more closely than
    # the autoencoder's two-stage samples.
    X_train = digits_split[0]
    samples = default_vae.sample(2000, random_state=0)
    assert samples.shape == (2000, X_train.shape[1])
    assert np.isfinite(samples).all()
    np.testing.assert_array_equal(samples, default_vae.sample(2000, random_state=0))

    cov = np.cov(X_train, rowvar=False)
    rel_error = np.linalg.norm(np.cov(samples, rowvar=False) - cov) / np.linalg.norm(cov)
    ae_samples = default_ae.sample(2000, random_state=0)
    ae_rel_error = np.linalg.norm(np.cov(ae_samples, rowvar=False) - cov) / np.linalg.norm(cov)
    assert rel_error < 0.5
    assert rel_error < ae_rel_error
    assert np.abs(samples.mean(axis=0) - X_train.mean(axis=0)).max() < 0.5


def test_beta_trades_reconstruction_for_a_tighter_prior_fit(digits_split):
    # A larger beta weighs the KL term more: lower KL to the prior, worse
    # reconstruction (the beta-VAE trade-off).
    X_train = digits_split[0][:600]
    kls, errors = [], []
    for beta in (0.5, 4.0):
        vae = VAETransformer(
            n_components=4, beta=beta, max_iter=60, random_state=0, device="cpu"
        ).fit(X_train)
        with torch.no_grad():
            kl = vae.net_.module_.kl(torch.tensor(X_train, dtype=torch.float32)).mean().item()
        kls.append(kl)
        errors.append(np.mean((vae.inverse_transform(vae.transform(X_train)) - X_train) ** 2))
    assert kls[1] < kls[0]
    assert errors[1] > errors[0]


def test_kl_warmup_schedule_is_recorded():
    X = np.random.RandomState(0).normal(size=(64, 5))
    vae = VAETransformer(
        n_components=2,
        kl_warmup=4,
        max_iter=6,
        hidden_layer_sizes=(8,),
        random_state=0,
        device="cpu",
        n_iter_no_change=100,
    ).fit(X)
    weights = list(vae.net_.history[:, "kl_weight"])
    np.testing.assert_allclose(weights, [0.25, 0.5, 0.75, 1.0, 1.0, 1.0])
    assert vae.net_.criterion_.kl_weight == 1.0
    # The warm-up changes training: the first epochs optimise a smaller KL term.
    no_warmup = clone(vae).set_params(kl_warmup=0).fit(X)
    assert vae.loss_curve_[0] < no_warmup.loss_curve_[0]
    assert vae.loss_curve_ != no_warmup.loss_curve_


def test_pca_init_starts_from_probabilistic_pca(digits_split):
    # From PPCA's solution, 3 epochs already give a better held-out
    # log-likelihood than PCA's own (PCA.score); from a random start, not yet.
    X_train, X_test = digits_split[:2]
    pca_score = PCA(n_components=8).fit(X_train).score(X_test)
    scores = {
        init: VAETransformer(n_components=8, init=init, max_iter=3, random_state=0, device="cpu")
        .fit(X_train)
        .score(X_test)
        for init in ("random", "pca")
    }
    assert scores["random"] < pca_score < scores["pca"]


def test_pca_init_fits_constant_data():
    # No variance to whiten by: the start must stay finite, not divide by zero.
    X = np.ones((40, 3))
    vae = VAETransformer(init="pca", hidden_layer_sizes=(4,), max_iter=2, random_state=0)
    vae.fit(X)
    assert np.isfinite(vae.transform(X)).all()
    assert np.isfinite(vae.score_samples(X)).all()


def test_sample_does_not_depend_on_how_inference_batches_it(default_vae):
    # Every draw is made up front from random_state, so the rows are the same
    # whatever batch size working_memory gives inference.
    rows = default_vae.sample(300, random_state=0)
    with sklearn.config_context(working_memory=0.01):
        np.testing.assert_array_equal(default_vae.sample(300, random_state=0), rows)
    assert not np.array_equal(default_vae.sample(300, random_state=1), rows)


def test_pca_start_on_constant_data_gives_finite_moderate_codes():
    # The variance floor follows the data's magnitude: constant data has no
    # direction to whiten, and other rows then get codes of their own scale.
    X = np.full((50, 4), 3.7)
    Y = np.random.default_rng(0).normal(size=(20, 4))
    vae = VAETransformer(2, init="pca", max_iter=2, random_state=0, device="cpu").fit(X)
    assert np.abs(vae.transform(Y)).max() < 100
    assert np.abs(vae.transform(X)).max() < 1


@pytest.mark.parametrize("fast_paths", ["1", "0"])
def test_a_rows_score_does_not_depend_on_the_rows_with_it(fast_paths, monkeypatch, digits_split):
    # To float32 rounding, as the docstring states: kernels pick their code
    # path by the number of rows.
    monkeypatch.setenv("SKAEVAE_FAST_PATHS", fast_paths)
    X = digits_split[0]
    vae = VAETransformer(8, max_iter=20, random_state=0, device="cpu").fit(X)
    together = vae.score_samples(X[:50])
    alone = np.array([vae.score_samples(X[i : i + 1])[0] for i in range(50)])
    assert_same_rows(alone, together)
    assert_same_rows(vae.score_samples(X[:700])[:50], together)


def test_pca_start_on_huge_constant_data_raises_no_overflow_warning():
    # Found by the property tests: the variance floor overflowed float32.
    X = np.full((2, 1), 1.84467438e19)
    vae = VAETransformer(1, hidden_layer_sizes=(), init="pca", max_iter=1, random_state=0)
    assert np.isfinite(vae.fit(X).transform(X)).all()


# ----------------------------------------------------- the VAE's public helpers


@pytest.fixture(scope="module")
def wine_with_holes():
    X = StandardScaler().fit_transform(load_wine().data)
    holes = np.random.default_rng(0).random(X.shape) < 0.2
    return X, np.where(holes, np.nan, X), holes


@pytest.fixture(scope="module")
def vae_with_holes(wine_with_holes):
    _, X_missing, _ = wine_with_holes
    return VAETransformer(4, max_iter=60, random_state=0, device="cpu").fit(X_missing)


def test_n_train_draws_is_a_parameter_that_clone_keeps():
    vae = VAETransformer(n_train_draws=4)
    assert vae.get_params()["n_train_draws"] == 4
    assert clone(vae).n_train_draws == 4


def test_n_train_draws_builds_the_importance_weighted_bound(wine_with_holes):
    X, _, _ = wine_with_holes
    settings = {"max_iter": 2, "random_state": 0, "device": "cpu"}
    elbo = VAETransformer(2, **settings).fit(X)
    vae = VAETransformer(2, n_train_draws=3, **settings).fit(X)
    assert vae.net_.module_.n_train_draws == 3
    # The same seed trains on another objective: the importance-weighted bound
    # of three draws is at least the ELBO, so its loss starts lower.
    assert vae.loss_curve_[0] < elbo.loss_curve_[0]
    vae.set_params(n_train_draws=1)
    with pytest.raises(ValueError, match="n_train_draws"):
        vae.partial_fit(X)


def test_impute_beats_the_column_means_on_the_holes(wine_with_holes, vae_with_holes):
    X, X_missing, holes = wine_with_holes
    predicted = vae_with_holes.impute(X_missing)
    assert predicted.shape == X.shape and predicted.dtype == np.float64
    assert np.isfinite(predicted).all()
    mean_rmse = np.sqrt(np.mean(X[holes] ** 2))  # standardised: the column means are 0
    vae_rmse = np.sqrt(np.mean((predicted[holes] - X[holes]) ** 2))
    assert vae_rmse < 0.9 * mean_rmse
    np.testing.assert_array_equal(vae_with_holes.impute(X_missing), predicted)


def test_impute_with_sample_posterior_draws_reproducibly(wine_with_holes, vae_with_holes):
    _, X_missing, holes = wine_with_holes
    first = vae_with_holes.impute(X_missing, sample_posterior=True, random_state=0)
    again = vae_with_holes.impute(X_missing, sample_posterior=True, random_state=0)
    other = vae_with_holes.impute(X_missing, sample_posterior=True, random_state=1)
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first[holes], other[holes])
    mean = vae_with_holes.impute(X_missing)
    # Draws spread around the conditional mean.
    assert np.std(first[holes] - mean[holes]) > 0.05


def test_sample_near_stays_closer_to_the_rows_than_prior_samples(wine_with_holes):
    X, _, _ = wine_with_holes
    vae = VAETransformer(4, max_iter=60, random_state=0, device="cpu").fit(X)
    rows = X[:5]

    def nearest(samples):
        return np.min(((samples[:, None, :] - rows[None]) ** 2).sum(-1), axis=1).mean()

    near = vae.sample_near(rows, n_samples=200, random_state=0)
    prior = vae.sample(200, random_state=0)
    assert near.shape == (200, X.shape[1])
    assert nearest(near) < nearest(prior)
    np.testing.assert_array_equal(vae.sample_near(rows, n_samples=200, random_state=0), near)


def test_reconstruction_errors_of_a_matrix_are_squared_residuals(wine_with_holes, vae_with_holes):
    _, X_missing, holes = wine_with_holes
    errors = vae_with_holes.reconstruction_errors(X_missing)
    X_hat = vae_with_holes.inverse_transform(vae_with_holes.transform(X_missing))
    assert errors.shape == X_missing.shape
    np.testing.assert_array_equal(np.isnan(errors), holes)
    np.testing.assert_allclose(errors[~holes], ((X_missing - X_hat) ** 2)[~holes], rtol=1e-5)


def test_reconstruction_errors_of_a_table_follow_its_columns():
    rng = np.random.default_rng(0)
    n = 300
    table = pd.DataFrame(
        {
            "colour": pd.Categorical(rng.choice(["red", "blue", "green"], n)),
            "size": rng.normal(size=n),
            "constant": 1.0,
            "flag": rng.random(n) < 0.3,
        }
    )
    table.loc[:9, "size"] = np.nan
    vae = VAETransformer(2, max_iter=5, random_state=0, device="cpu").fit(table)
    errors = vae.reconstruction_errors(table)
    assert errors.shape == (n, 4)
    # The constant column is left out of the model; the holes have no error.
    assert np.isnan(errors[:, 2]).all()
    assert np.isnan(errors[:10, 1]).all() and np.isfinite(errors[10:, 1]).all()
    # The categorical and binary columns' errors are cross-entropies: at least 0,
    # and on average no better than a perfect guess, no worse than far off.
    assert (errors[:, [0, 3]] >= 0).all() and errors[:, 0].mean() < np.log(3) + 1
