"""Tests of the training glue: epochs, validation, weights, callbacks, threads, precision and
compilation."""

import functools
import io
import os
import pickle
import re
from contextlib import redirect_stdout

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError
from skorch.callbacks import Callback

from skaevae import AutoencoderTransformer, VAETransformer
from skaevae.train import _data
from skaevae.train._fast._threads import MIN_ROWS_PER_THREAD_SPLIT as MIN_ROWS_PER_THREADED_BATCH
from tests._testing import THREE_EPOCHS_16_UNITS, TWO_CODES_8_UNITS


@pytest.fixture
def X():
    return np.random.default_rng(0).standard_normal((300, 5)).astype(np.float32)


class EpochRecorder(Callback):
    """Overrides the epoch hooks only, so the per-batch notifications stay off."""

    def initialize(self):
        self.events = []
        return self

    def on_epoch_begin(self, net, **kwargs):
        self.events.append("epoch_begin")

    def on_epoch_end(self, net, **kwargs):
        self.events.append("epoch_end")


class BatchRecorder(Callback):
    """Records every batch and gradient notification with what it is given."""

    def initialize(self):
        self.batches = []
        self.grads = 0
        self.threads = set()
        self.modes = set()
        self.dtypes = set()
        return self

    def on_batch_begin(self, net, batch=None, training=None, **kwargs):
        self.threads.add(torch.get_num_threads())

    def on_batch_end(self, net, batch=None, training=None, **kwargs):
        # The step sets the mode, after on_batch_begin (as in skorch).
        self.modes.add((training, net.module_.training))
        self.batches.append((training, len(batch[0])))
        out = kwargs["y_pred"]
        # The decoder's output: the autoencoder's x_loc, the VAE's likelihood mean.
        self.dtypes.add((out["x_loc"] if "x_loc" in out else out["px"].mean).dtype)

    def on_grad_computed(self, net, named_parameters, **kwargs):
        assert all(p.grad is not None for _, p in named_parameters)
        self.grads += 1


def test_epoch_callbacks_fire_without_batch_notifications(X):
    recorder = EpochRecorder()
    est = AutoencoderTransformer(**TWO_CODES_8_UNITS, max_iter=3, callbacks=[recorder]).fit(X)
    cb = dict(est.net_.callbacks_)["EpochRecorder"]
    assert cb.events == ["epoch_begin", "epoch_end"] * 3
    assert not est.net_.notifies_batches_
    assert not est.net_.notifies_grads_
    assert list(est.net_.history[:, "train_batch_count"]) == [2, 2, 2]


@pytest.mark.parametrize("Estimator", [AutoencoderTransformer, VAETransformer])
def test_batch_and_grad_callbacks_fire_per_batch(Estimator, X):
    est = Estimator(
        **TWO_CODES_8_UNITS, max_iter=2, batch_size=128, callbacks=[("rec", BatchRecorder())]
    )
    est.fit(X)
    cb = dict(est.net_.callbacks_)["rec"]
    assert est.net_.notifies_batches_ and est.net_.notifies_grads_
    assert cb.batches == [(True, 128), (True, 128), (True, 44)] * 2
    assert cb.grads == 6
    # Training batches see the module in training mode.
    assert cb.modes == {(True, True)}


def test_validation_batches_run_in_eval_mode(X):
    est = AutoencoderTransformer(
        **TWO_CODES_8_UNITS,
        max_iter=2,
        batch_size=100,
        early_stopping=True,
        dropout=0.2,
        callbacks=[("rec", BatchRecorder())],
    ).fit(X)
    cb = dict(est.net_.callbacks_)["rec"]
    assert cb.modes == {(True, True), (False, False)}
    assert {training for training, _ in cb.batches} == {True, False}
    assert len(est.validation_loss_curve_) == 2


class ThreadProbe(Callback):
    def on_train_begin(self, net, **kwargs):
        self.threads = torch.get_num_threads()


def _threads_seen(est, X, y=None):
    return dict(est.net_.callbacks_)["probe"].threads


def test_grid_search_workers_do_not_oversubscribe():
    # joblib's loky workers start with OMP_NUM_THREADS = cpu_count // n_jobs,
    # which torch honours; a batch of MIN_ROWS_PER_THREADED_BATCH rows is not
    # capped by skaevae, so this checks joblib's mechanism alone.
    n_jobs = 2
    X = np.random.default_rng(0).standard_normal((MIN_ROWS_PER_THREADED_BATCH, 4))
    est = AutoencoderTransformer(
        **TWO_CODES_8_UNITS,
        max_iter=1,
        batch_size=MIN_ROWS_PER_THREADED_BATCH,
        callbacks=[("probe", ThreadProbe())],
    )
    search = GridSearchCV(est, {"alpha": [1e-4]}, cv=2, n_jobs=n_jobs, scoring=_threads_seen).fit(X)
    threads = search.cv_results_["mean_test_score"]
    assert np.all(threads * n_jobs <= max(os.cpu_count(), n_jobs))


@pytest.mark.parametrize("Estimator", [AutoencoderTransformer, VAETransformer])
def test_bfloat16_autocast(Estimator, X):
    rec = BatchRecorder()
    est = Estimator(
        **TWO_CODES_8_UNITS, max_iter=2, precision="bfloat16", callbacks=[("rec", rec)]
    ).fit(X)
    assert dict(est.net_.callbacks_)["rec"].dtypes == {torch.bfloat16}
    assert np.all(np.isfinite(est.loss_curve_))
    assert next(est.net_.module_.parameters()).dtype == torch.float32
    assert est.transform(X).dtype == np.float32
    assert est.transform(X.astype(np.float64)).dtype == np.float64
    assert est.score_samples(X).dtype == np.float64
    # bf16 forward passes approximate the float32 ones.
    est_fp32 = pickle.loads(pickle.dumps(est))
    est_fp32.precision = "float32"
    np.testing.assert_allclose(est.transform(X), est_fp32.transform(X), rtol=0.1, atol=0.1)


def test_float32_by_default(X):
    rec = BatchRecorder()
    est = AutoencoderTransformer(**TWO_CODES_8_UNITS, max_iter=1, callbacks=[("rec", rec)]).fit(X)
    assert est.precision == "float32" and est.compile is False
    assert dict(est.net_.callbacks_)["rec"].dtypes == {torch.float32}
    assert est.net_.compile is False


@pytest.mark.parametrize("params", [{"precision": "float16"}, {"compile": "yes"}])
def test_invalid_performance_params(params, X):
    with pytest.raises(InvalidParameterError):
        AutoencoderTransformer(**TWO_CODES_8_UNITS, **params).fit(X)


@pytest.mark.parametrize("Estimator", [AutoencoderTransformer, VAETransformer])
def test_compile_wiring_and_pickle(Estimator, monkeypatch, X):
    # The eager backend exercises torch.compile's wrapping without the seconds
    # of code generation that inductor needs.
    calls = []
    compile_ = torch.compile

    @functools.wraps(compile_)
    def eager_compile(module, **kwargs):
        calls.append(kwargs)
        return compile_(module, backend="eager", **kwargs)

    monkeypatch.setattr(torch, "compile", eager_compile)
    est = Estimator(**TWO_CODES_8_UNITS, max_iter=2, compile=True).fit(X)
    # The network only; the criterion stays eager.
    assert calls == [{"dynamic": False}]
    # The fitted net holds the eager modules again, so it pickles.
    assert not isinstance(est.net_.module_, torch._dynamo.eval_frame.OptimizedModule)
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_allclose(restored.transform(X), est.transform(X))


def test_fit_leaves_float32_input_untouched_and_accepts_read_only(X):
    X_ro = X.copy()
    X_ro.setflags(write=False)
    est_ro = AutoencoderTransformer(**TWO_CODES_8_UNITS, max_iter=2).fit(X_ro)
    X_before = X.copy()
    est = AutoencoderTransformer(**TWO_CODES_8_UNITS, max_iter=2).fit(X)
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_allclose(est.transform(X), est_ro.transform(X))


def test_early_stopping_with_weightless_validation_rows_counts_them_equally(digits_split):
    from skaevae.train._data import split_rows
    from skaevae.utils._validation import draw_seed, local_random_state

    X = digits_split[0]
    # Weight 0 on exactly the rows this seed's split holds out.
    seed = draw_seed(local_random_state(0))
    weight = np.ones(len(X))
    weight[split_rows(len(X), 0.1, seed)[1].numpy()] = 0.0
    ae = AutoencoderTransformer(8, early_stopping=True, max_iter=30, random_state=0)
    with pytest.warns(UserWarning, match="every row held out for validation"):
        ae.fit(X, sample_weight=weight)
    assert min(ae.validation_loss_curve_) > 0.1
    assert ae.n_iter_ == 30


# ------------------------------------------ epochs, validation and weights


def test_user_callbacks_fire(small_X):
    class Counter(Callback):
        def initialize(self):
            self.epochs, self.batches = 0, 0
            return self

        def on_epoch_end(self, net, **kwargs):
            self.epochs += 1

        def on_batch_end(self, net, **kwargs):
            self.batches += 1

    counter = Counter()
    est = AutoencoderTransformer(
        **{**THREE_EPOCHS_16_UNITS, "batch_size": 50}, callbacks=[counter]
    ).fit(small_X)
    fitted_counter = dict(est.net_.callbacks_)["Counter"]
    assert fitted_counter.epochs == est.n_iter_ == 3
    assert fitted_counter.batches == 3 * 4


def test_no_validation_split_unless_early_stopping(small_X):
    est = AutoencoderTransformer(**THREE_EPOCHS_16_UNITS).fit(small_X)
    assert est.net_.train_split is None
    assert est.validation_loss_curve_ is None and est.best_loss_ == min(est.loss_curve_)
    assert "valid_loss" not in est.net_.history[-1]


def test_early_stopping_holds_out_and_stops(small_X):
    est = VAETransformer(
        n_components=2,
        hidden_layer_sizes=(16,),
        early_stopping=True,
        n_iter_no_change=2,
        tol=1e6,
        kl_warmup=0,
        max_iter=50,
        random_state=0,
        device="cpu",
    ).fit(small_X)
    # tol is so large that no epoch counts as an improvement after the first,
    # so the first epoch's parameters are restored and reported.
    assert est.n_iter_ == 3
    assert len(est.validation_loss_curve_) == est.n_iter_
    assert est.best_validation_loss_ == est.validation_loss_curve_[0]


def test_convergence_warning_when_max_iter_is_reached(small_X):
    with pytest.warns(ConvergenceWarning, match=r"maximum iterations \(3\)"):
        AutoencoderTransformer(**THREE_EPOCHS_16_UNITS).fit(small_X)


def test_sample_weight(small_X):
    est = AutoencoderTransformer(**THREE_EPOCHS_16_UNITS)
    np.testing.assert_array_equal(
        clone(est).fit(small_X).transform(small_X),
        clone(est).fit(small_X, sample_weight=np.ones(len(small_X))).transform(small_X),
    )
    with pytest.raises(ValueError, match="Negative values in data passed to `?sample_weight"):
        clone(est).fit(small_X, sample_weight=-np.ones(len(small_X)))


@pytest.mark.parametrize("verbose", [0, 1])
def test_verbose_prints_per_epoch_progress(small_X, verbose):
    est = VAETransformer(
        n_components=2,
        hidden_layer_sizes=(16,),
        max_iter=3,
        early_stopping=True,
        random_state=0,
        device="cpu",
        verbose=verbose,
    )
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        est.fit(small_X)
    text = buffer.getvalue()
    # Without verbose no log is even formatted (it would cost a table per epoch).
    assert ("print_log" in dict(est.net_.callbacks_)) == bool(verbose)
    if verbose:
        for column in ("epoch", "train_loss", "valid_loss", "dur"):
            assert column in text
        assert len(re.findall(r"^\s+[123]\s", text, flags=re.MULTILINE)) == 3
    else:
        assert text == ""


def test_training_never_fetches_single_rows(small_X, monkeypatch):
    # The data path slices one device tensor; a per-row __getitem__ (skorch's
    # stock Dataset + DataLoader path) would be an order of magnitude slower.
    def fail(self, i):
        raise AssertionError("per-row __getitem__ called during training")

    monkeypatch.setattr(_data.TensorData, "__getitem__", fail)
    est = VAETransformer(**{**THREE_EPOCHS_16_UNITS, "early_stopping": True}).fit(small_X)
    assert est.n_iter_ == 3


def test_sample_weight_focuses_the_fit_and_tolerates_zero_weight_batches():
    # Two kinds of rows (digits 0 and 1). Weight only the zeros: the model must
    # reconstruct them better than an unweighted one does, even though most
    # batches of the shuffled data are mostly (or wholly) weight-zero rows.
    X, y = load_digits(return_X_y=True)
    mask = np.isin(y, [0, 1])
    X = StandardScaler().fit_transform(X[mask])
    zeros = y[mask] == 0
    weights = np.where(zeros, 1.0, 0.0)
    weights[np.flatnonzero(zeros)[20:]] = 0.0  # 20 weighted rows among ~360
    params = {
        **THREE_EPOCHS_16_UNITS,
        "hidden_layer_sizes": (32,),
        "max_iter": 40,
        "batch_size": 16,
    }
    weighted = AutoencoderTransformer(n_components=2, **params).fit(X, sample_weight=weights)
    plain = AutoencoderTransformer(n_components=2, **params).fit(X)
    focus = weights > 0
    assert np.isfinite(weighted.loss_curve_).all()
    assert -weighted.score(X[focus]) < -plain.score(X[focus])
