"""partial_fit and warm_start: training continued over calls, chunk by chunk."""

import copy

import numpy as np
import pandas as pd
import pytest
import torch

from skaevae import AutoencoderTransformer, VAETransformer
from tests._testing import THREE_EPOCHS_16_UNITS

ESTIMATORS = [AutoencoderTransformer, VAETransformer]


def _chunks(X, n):
    return np.array_split(X, n)


def _held_out_mse(model, X):
    return float(np.mean((X - model.inverse_transform(model.transform(X))) ** 2))


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_each_call_is_one_pass(cls, small_X):
    model = cls(n_components=2, **THREE_EPOCHS_16_UNITS)
    for i, chunk in enumerate(_chunks(small_X, 4), start=1):
        model.partial_fit(chunk)
        assert model.n_iter_ == i
        assert len(model.loss_curve_) == i
    # One optimiser step per batch of every chunk: the state carried over.
    batch = model.net_.batch_size
    steps = sum(-(-len(c) // batch) for c in _chunks(small_X, 4))
    state = next(iter(model.net_.optimizer_.state.values()))
    assert int(state["step"]) == steps
    assert model.transform(small_X).shape == (len(small_X), 2)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_a_sequence_of_calls_is_reproducible(cls, small_X):
    def run():
        model = cls(n_components=2, **THREE_EPOCHS_16_UNITS)
        for _ in range(2):
            for chunk in _chunks(small_X, 3):
                model.partial_fit(chunk)
        return model.transform(small_X)

    torch_state = torch.get_rng_state()
    numpy_state = np.random.get_state()[1].copy()
    first = run()
    np.testing.assert_array_equal(first, run())
    assert torch.equal(torch_state, torch.get_rng_state())
    np.testing.assert_array_equal(numpy_state, np.random.get_state()[1])


def test_partial_fit_learns_about_as_well_as_fit(digits_split):
    # Twenty passes in four chunks against fit's twenty epochs, on held-out rows.
    X_train, X_test = digits_split[:2]
    params = {
        **THREE_EPOCHS_16_UNITS,
        "hidden_layer_sizes": (64,),
        "max_iter": 20,
        "n_iter_no_change": 20,
    }
    fitted = AutoencoderTransformer(n_components=8, **params).fit(X_train)
    streamed = AutoencoderTransformer(n_components=8, **params)
    for _ in range(20):
        for chunk in _chunks(X_train, 4):
            streamed.partial_fit(chunk)
    streamed_mse, fit_mse = _held_out_mse(streamed, X_test), _held_out_mse(fitted, X_test)
    assert streamed_mse < 0.7
    assert streamed_mse < 1.1 * fit_mse


def test_code_statistics_are_running_sums(small_X):
    # Each chunk's codes enter the mean and covariance under the network of its call.
    model = AutoencoderTransformer(n_components=3, **THREE_EPOCHS_16_UNITS)
    first, second = small_X[:120], small_X[120:]
    model.partial_fit(first)
    codes_first = copy.deepcopy(model).transform(first)
    model.partial_fit(second)
    codes = np.vstack([codes_first, model.transform(second)])
    np.testing.assert_allclose(model.latent_mean_, codes.mean(axis=0), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(model.latent_covariance_, np.cov(codes.T), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_fill_of_missing_entries_is_the_running_mean(cls, small_X):
    X = small_X.copy()
    X[np.random.default_rng(0).random(X.shape) < 0.2] = np.nan
    X[:, 0] = np.where(np.arange(len(X)) < 100, np.nan, X[:, 0])
    X[0, 0] = 1.0  # the first chunk observes column 0 once
    model = cls(n_components=2, **THREE_EPOCHS_16_UNITS)
    for chunk in _chunks(X, 2):
        model.partial_fit(chunk)
    with np.errstate(invalid="ignore"):
        expected = np.nanmean(X, axis=0)
    expected = np.where(np.isnan(expected), 0.0, expected)
    np.testing.assert_allclose(model._fill_values, expected, rtol=1e-6)
    np.testing.assert_allclose(model.net_.module_.entries.fill.numpy(), expected, rtol=1e-6)
    # A later chunk may leave a column, or a row, without observed values.
    chunk = small_X[:5].copy()
    chunk[:, 3] = np.nan
    chunk[1] = np.nan
    model.partial_fit(chunk)
    assert np.isfinite(model.loss_curve_[-1])


def test_kl_warmup_counts_calls(small_X):
    model = VAETransformer(n_components=2, kl_warmup=4, **THREE_EPOCHS_16_UNITS)
    for chunk in _chunks(small_X, 6):
        model.partial_fit(chunk)
    weights = list(model.net_.history[:, "kl_weight"])
    assert weights == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    # The weight left on the criterion between calls is the full one.
    assert model.net_.criterion_.kl_weight == 1.0


def test_first_call_needs_two_rows_later_ones_one(small_X):
    model = AutoencoderTransformer(n_components=2, **THREE_EPOCHS_16_UNITS)
    with pytest.raises(ValueError, match="minimum of 2 is required"):
        model.partial_fit(small_X[:1])
    model.partial_fit(small_X[:10]).partial_fit(small_X[10:11])
    assert model.n_iter_ == 2


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_bad_chunks_are_refused(cls, small_X):
    model = cls(n_components=2, **THREE_EPOCHS_16_UNITS).partial_fit(small_X)
    with pytest.raises(ValueError, match="X has 63 features, but .* is expecting 64"):
        model.partial_fit(small_X[:, 1:])
    with pytest.raises(ValueError, match="no observed value"):
        model.partial_fit(np.full((4, 64), np.nan))
    with pytest.raises(ValueError, match="Input X contains infinity"):
        model.partial_fit(np.where(np.eye(10, 64) > 0, np.inf, small_X[:10]))
    # Refused calls leave the fitted model as it was.
    assert model.n_iter_ == 1

    frame = pd.DataFrame(small_X[:, :4], columns=list("abcd"))
    named = cls(n_components=2, **THREE_EPOCHS_16_UNITS).partial_fit(frame)
    with pytest.raises(ValueError, match="feature names"):
        named.partial_fit(frame.rename(columns={"a": "z"}))


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_structural_parameters_cannot_change(cls, small_X):
    model = cls(n_components=2, **THREE_EPOCHS_16_UNITS).partial_fit(small_X)
    model.set_params(n_components=3)
    with pytest.raises(ValueError, match="built with n_components=2; got n_components=3"):
        model.partial_fit(small_X)
    model.set_params(n_components=2, hidden_layer_sizes=(8,))
    with pytest.raises(ValueError, match="hidden_layer_sizes=\\(16,\\)"):
        model.partial_fit(small_X)
    # The same widths written differently are the same network.
    model.set_params(hidden_layer_sizes=[16]).partial_fit(small_X)
    # The step size and weight decay are the next call's.
    model.set_params(learning_rate_init=0.01, alpha=0.5).partial_fit(small_X)
    group = model.net_.optimizer_.param_groups[0]
    assert (group["lr"], group["weight_decay"]) == (0.01, 0.5)
    # fit without warm_start builds a new network with the new parameters.
    model.set_params(n_components=3).fit(small_X)
    assert model.n_iter_ <= model.max_iter and model.transform(small_X).shape[1] == 3


def test_partial_fit_after_early_stopping_fit(small_X):
    model = AutoencoderTransformer(
        n_components=2, early_stopping=True, **THREE_EPOCHS_16_UNITS
    ).fit(small_X)
    n_iter = model.n_iter_
    model.partial_fit(small_X)
    # No rows held out and no restore of an earlier epoch's weights.
    assert model.n_iter_ == n_iter + 1
    assert model.net_.history[-1, "train_batch_count"] == -(-len(small_X) // 256)
    assert model.validation_loss_curve_ is None


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_warm_start_continues_training(cls, small_X):
    params = {**THREE_EPOCHS_16_UNITS, "max_iter": 4, "n_iter_no_change": 4}
    model = cls(n_components=2, warm_start=True, **params).fit(small_X)
    weights = copy.deepcopy(model.net_.module_.state_dict())
    loss = model.loss_curve_[-1]
    model.fit(small_X)
    assert model.n_iter_ == 8 and len(model.loss_curve_) == 8
    # It started from the fitted weights: its first epoch beats a new network's.
    assert model.loss_curve_[4] < model.loss_curve_[0]
    assert model.loss_curve_[4] < 1.2 * loss
    assert any(not torch.equal(weights[k], v) for k, v in model.net_.module_.state_dict().items())
    # Without warm_start, fit starts again.
    model.set_params(warm_start=False).fit(small_X)
    assert model.n_iter_ == 4


def test_warm_start_with_early_stopping_judges_its_own_epochs(small_X):
    params = {**THREE_EPOCHS_16_UNITS, "max_iter": 3}
    model = AutoencoderTransformer(n_components=2, early_stopping=True, warm_start=True, **params)
    model.fit(small_X).fit(small_X)
    assert model.n_iter_ == 6
    assert len(model.validation_loss_curve_) == 3
    assert model.best_validation_loss_ in model.validation_loss_curve_


def test_mixed_table_in_chunks():
    rng = np.random.default_rng(0)
    n = 300
    colour = pd.Categorical(rng.choice(["red", "green", "blue"], n))
    frame = pd.DataFrame({"x": rng.normal(size=n), "colour": colour})
    frame["y"] = frame["x"] * 2 + (frame["colour"] == "red") + rng.normal(0, 0.1, n)
    model = VAETransformer(n_components=2, **THREE_EPOCHS_16_UNITS)
    # The first chunk lacks "blue"; its dtype declares it.
    first = frame[frame["colour"] != "blue"].iloc[:100]
    model.partial_fit(first)
    model.partial_fit(frame.iloc[100:])
    assert list(model.sample(5, random_state=0).columns) == ["x", "colour", "y"]
    plain = VAETransformer(n_components=2, **THREE_EPOCHS_16_UNITS)
    plain.partial_fit(first.astype({"colour": str}))
    with pytest.raises(ValueError, match="unknown categories \\['blue'\\]"):
        plain.partial_fit(frame.astype({"colour": str}))


def test_sample_weight_is_used(small_X):
    weight = np.r_[np.ones(100), np.zeros(100)]
    model = AutoencoderTransformer(n_components=2, **THREE_EPOCHS_16_UNITS).partial_fit(small_X)
    other = copy.deepcopy(model)
    model.partial_fit(small_X, sample_weight=weight)
    other.partial_fit(small_X)
    assert not np.allclose(model.transform(small_X), other.transform(small_X))


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_a_pickled_model_continues_as_the_original(cls, small_X):
    import pickle

    model = cls(n_components=2, **THREE_EPOCHS_16_UNITS).partial_fit(small_X[:100])
    copy_ = pickle.loads(pickle.dumps(model))
    model.partial_fit(small_X[100:])
    copy_.partial_fit(small_X[100:])
    np.testing.assert_array_equal(model.transform(small_X), copy_.transform(small_X))


def test_a_failed_or_refused_call_changes_nothing(small_X):
    def model():
        return AutoencoderTransformer(n_components=2, **THREE_EPOCHS_16_UNITS).partial_fit(
            small_X[:100]
        )

    failed = model()
    with pytest.raises(ValueError, match="non-finite"):
        failed.partial_fit(small_X[100:] * 1e18)  # diverges in training
    with pytest.raises(ValueError, match="sample_weight"):
        failed.partial_fit(small_X[100:], sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="batch_size"):
        failed.set_params(batch_size=0).partial_fit(small_X)
    failed.set_params(batch_size="auto").partial_fit(small_X[100:])
    assert failed.n_iter_ == len(failed.loss_curve_) == 2
    clean = model().partial_fit(small_X[100:])
    # Equal up to float32 rounding (the failed step may change which kernels run).
    np.testing.assert_allclose(failed.transform(small_X), clean.transform(small_X), atol=1e-6)


def test_small_chunks_with_early_stopping_set(small_X):
    model = AutoencoderTransformer(
        n_components=2, early_stopping=True, **THREE_EPOCHS_16_UNITS
    ).fit(small_X)
    model.partial_fit(small_X[:2])
    assert model.n_iter_ >= 2
    # fit with warm_start still needs two rows.
    with pytest.raises(ValueError, match="minimum of 2 is required"):
        model.set_params(warm_start=True, early_stopping=False).fit(small_X[:1])


@pytest.mark.parametrize("cls", [AutoencoderTransformer, VAETransformer])
def test_incremental_fit_continues_the_network(cls, small_X):
    # _fit(incremental=True) is MLPRegressor.partial_fit's step: one epoch of
    # the fitted network on new rows; a plain fit starts again.
    est = cls(n_components=2, **THREE_EPOCHS_16_UNITS, early_stopping=True)
    est._fit(small_X[:50], incremental=True)
    net, first = est.net_, [p.detach().clone() for p in est.net_.module_.parameters()]
    assert est.n_iter_ == 1 and net.batch_size == 50
    est._fit(small_X[50:], incremental=True)
    assert est.net_ is net and est.n_iter_ == 2 and len(est.loss_curve_) == 2
    # Each pass trains on all its rows (no validation split) in batches of its size.
    assert net.history[-1, "train_batch_count"] == 1 and net.batch_size == 150
    assert est.validation_loss_curve_ is None
    assert any(not torch.equal(a, b) for a, b in zip(first, net.module_.parameters(), strict=True))
    with pytest.raises(ValueError, match="features"):
        est._fit(small_X[:, :10], incremental=True)
    est.fit(small_X)
    assert est.net_ is not net and est.n_iter_ == THREE_EPOCHS_16_UNITS["max_iter"]


def test_incremental_fits_keep_running_moments_of_the_codes(small_X):
    # The code mean and covariance cover every row seen, each encoded by the
    # network of the pass that saw it, as IncrementalPCA's running statistics.
    est = AutoencoderTransformer(n_components=2, **THREE_EPOCHS_16_UNITS)
    est._fit(small_X[:120], incremental=True)
    Z_first = est.transform(small_X[:120])
    est._fit(small_X[120:], incremental=True)
    Z = np.vstack([Z_first, est.transform(small_X[120:])])
    np.testing.assert_allclose(est.latent_mean_, Z.mean(axis=0), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(est.latent_covariance_, np.cov(Z.T), rtol=1e-8, atol=1e-12)
