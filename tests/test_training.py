"""Tests of the training glue: callbacks, threads, precision and compilation."""

import functools
import os
import pickle

import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV
from sklearn.utils._param_validation import InvalidParameterError
from skorch.callbacks import Callback

from skaevae import AutoencoderTransformer, VAETransformer
from skaevae.train._fast._threads import MIN_ROWS_PER_THREAD_SPLIT as MIN_ROWS_PER_THREADED_BATCH

FAST = {"hidden_layer_sizes": (8,), "n_components": 2, "device": "cpu", "random_state": 0}


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
    est = AutoencoderTransformer(**FAST, max_iter=3, callbacks=[recorder]).fit(X)
    cb = dict(est.net_.callbacks_)["EpochRecorder"]
    assert cb.events == ["epoch_begin", "epoch_end"] * 3
    assert not est.net_.notifies_batches_
    assert not est.net_.notifies_grads_
    assert list(est.net_.history[:, "train_batch_count"]) == [2, 2, 2]


@pytest.mark.parametrize("Estimator", [AutoencoderTransformer, VAETransformer])
def test_batch_and_grad_callbacks_fire_per_batch(Estimator, X):
    est = Estimator(**FAST, max_iter=2, batch_size=128, callbacks=[("rec", BatchRecorder())])
    est.fit(X)
    cb = dict(est.net_.callbacks_)["rec"]
    assert est.net_.notifies_batches_ and est.net_.notifies_grads_
    assert cb.batches == [(True, 128), (True, 128), (True, 44)] * 2
    assert cb.grads == 6
    # Training batches see the module in training mode.
    assert cb.modes == {(True, True)}


def test_validation_batches_run_in_eval_mode(X):
    est = AutoencoderTransformer(
        **FAST,
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
        **FAST,
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
    est = Estimator(**FAST, max_iter=2, precision="bfloat16", callbacks=[("rec", rec)]).fit(X)
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
    est = AutoencoderTransformer(**FAST, max_iter=1, callbacks=[("rec", rec)]).fit(X)
    assert est.precision == "float32" and est.compile is False
    assert dict(est.net_.callbacks_)["rec"].dtypes == {torch.float32}
    assert est.net_.compile is False


@pytest.mark.parametrize("params", [{"precision": "float16"}, {"compile": "yes"}])
def test_invalid_performance_params(params, X):
    with pytest.raises(InvalidParameterError):
        AutoencoderTransformer(**FAST, **params).fit(X)


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
    est = Estimator(**FAST, max_iter=2, compile=True).fit(X)
    # The network only; the criterion stays eager.
    assert calls == [{"dynamic": False}]
    # The fitted net holds the eager modules again, so it pickles.
    assert not isinstance(est.net_.module_, torch._dynamo.eval_frame.OptimizedModule)
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_allclose(restored.transform(X), est.transform(X))


def test_fit_leaves_float32_input_untouched_and_accepts_read_only(X):
    X_ro = X.copy()
    X_ro.setflags(write=False)
    est_ro = AutoencoderTransformer(**FAST, max_iter=2).fit(X_ro)
    X_before = X.copy()
    est = AutoencoderTransformer(**FAST, max_iter=2).fit(X)
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
