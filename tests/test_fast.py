"""Speed-only code (skaevae.train._fast): each trick gives the plain path's results, and
applies only where it may.

The whole test suite also runs with ``SKAEVAE_FAST_PATHS=0``, which switches
every fast path off; the tests here that check a trick is taken are skipped
then.
"""

import contextlib
import functools
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

from skaevae import AutoencoderTransformer, VAETransformer
from skaevae.nn._batch import Batch
from skaevae.nn._modules import AutoencoderModule
from skaevae.nn._networks import make_mlp
from skaevae.train import _fast
from skaevae.train._fast import _chunked_step, _fused_loss, _onednn
from skaevae.train._fast._fused_loss import MIN_FUSED_TRAINING_ROWS, fused_reconstruction_loss
from skaevae.train._fast._threads import MIN_ROWS_PER_THREAD_SPLIT, limit_torch_threads, threads_for
from tests._testing import TWO_CODES_8_UNITS, needs_onednn

N_ROWS = 16484

needs_fast_paths = pytest.mark.skipif(
    not _fast.enabled(), reason="fast paths switched off (SKAEVAE_FAST_PATHS=0)"
)


def run_mlp(mlp, x):
    """``mlp(x)`` with the inference fast path's oneDNN linear."""
    with _onednn.OneDNNLinear():
        return mlp(x)


class ThreadRecorder(Callback):
    def initialize(self):
        self.threads = set()
        return self

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        self.threads.add(torch.get_num_threads())


@needs_onednn
@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "elu", "identity"])
@pytest.mark.parametrize("n_rows", [1, 2, 3, 17, 300])
def test_inference_path_equals_the_eager_stack_row_by_row(activation, n_rows):
    # The oneDNN path gives what nn.Sequential gives, and a row what the
    # whole batch gives it, however few rows come with it: bit for bit with
    # ReLU or no activation (torch's own sigmoid rounds a batch's tail rows
    # differently, so other activations are compared to a few ulps).
    torch.manual_seed(0)
    mlp = make_mlp([12, 32, 16, 3], activation, dropout=0.2).eval()
    x = torch.randn(300, 12) * 3
    with torch.inference_mode():
        whole = run_mlp(mlp, x)
        np.testing.assert_allclose(whole, mlp(x), rtol=1e-6, atol=1e-6)
        for start in (0, 5, 300 - n_rows):
            part = run_mlp(mlp, x[start : start + n_rows])
            np.testing.assert_allclose(part, whole[start : start + n_rows], rtol=1e-6, atol=1e-7)
            if activation in ("relu", "identity"):
                assert torch.equal(part, whole[start : start + n_rows])
        # Leading axes are kept (the VAE decodes (draws, rows, codes)), and a
        # strided input gives the same.
        assert torch.equal(run_mlp(mlp, x.reshape(3, 100, 12)), whole.reshape(3, 100, 3))
        assert torch.equal(run_mlp(mlp, x.t().contiguous().t()), whole)


@needs_onednn
@pytest.mark.parametrize("threads", [1, 2])
def test_inference_path_is_row_invariant_for_wide_layers(threads):
    # Wide inputs, few rows and two threads: where a kernel might split the
    # reduction over threads and round a small batch differently.
    torch.manual_seed(0)
    mlp = make_mlp([512, 256, 4], "relu").eval()
    x = torch.randn(64, 512)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.inference_mode():
            whole = run_mlp(mlp, x)
            np.testing.assert_allclose(whole, mlp(x), rtol=1e-5, atol=1e-5)
            for n_rows in (1, 2, 5):
                assert torch.equal(run_mlp(mlp, x[7 : 7 + n_rows]), whole[7 : 7 + n_rows])
    finally:
        torch.set_num_threads(before)


@needs_onednn
def test_inference_path_is_taken_only_where_it_applies(monkeypatch):
    calls = []
    fused = _onednn._linear_pointwise
    monkeypatch.setattr(_onednn, "_linear_pointwise", lambda *a: calls.append(1) or fused(*a))
    torch.manual_seed(0)
    mlp = make_mlp([6, 8, 2], "relu").eval()
    x = torch.randn(10, 6)
    with torch.inference_mode():
        run_mlp(mlp, x)
    assert len(calls) == 2
    calls.clear()
    run_mlp(mlp, x.requires_grad_()).sum().backward()  # training: autograd's own path
    x = x.detach()
    with torch.no_grad():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            run_mlp(mlp, x)
        run_mlp(mlp.double(), x.double())
        mlp.float()
    assert calls == []
    with torch.no_grad():
        # Only the matmuls change: dropout, hooks and a layer that mixes rows
        # run as they are, whatever the mode.
        mc_dropout = make_mlp([6, 8, 2], "relu", dropout=0.5).eval()
        mc_dropout[2].train()  # Monte Carlo dropout: live in an evaluated stack
        assert not torch.equal(run_mlp(mc_dropout, x), run_mlp(mc_dropout, x))
        own_layer = torch.nn.Sequential(torch.nn.Linear(6, 4), torch.nn.Softmax(dim=0)).eval()
        np.testing.assert_allclose(run_mlp(own_layer, x[:1]), 1.0)  # a lone row is not padded
        seen = []
        handle = mlp[1].register_forward_hook(lambda *args: seen.append(1))
        run_mlp(mlp, x)
        handle.remove()
    assert seen == [1] and len(calls) > 0


@needs_onednn
def test_inference_path_leaves_other_linear_calls_to_torch():
    # Keyword arguments, a 1-D weight, no bias, a mismatched bias: F.linear's
    # own result (or its own error), never a oneDNN error.
    x, w, b = torch.randn(5, 4), torch.randn(3, 4), torch.randn(3)
    with torch.inference_mode():
        expected = torch.nn.functional.linear(x, w, b)
        with _onednn.OneDNNLinear():
            out = torch.nn.functional.linear(input=x, weight=w, bias=b)
            torch.testing.assert_close(out, expected)
            torch.testing.assert_close(torch.nn.functional.linear(x, w[0]), torch.mv(x, w[0]))
            torch.testing.assert_close(torch.nn.functional.linear(x, w), x @ w.T)
            torch.testing.assert_close(torch.nn.functional.linear(x, w, b[:1]), x @ w.T + b[:1])
            with pytest.raises(RuntimeError, match="shapes cannot be multiplied"):
                torch.nn.functional.linear(x[:, :3], w, b)


@needs_onednn
def test_inference_path_keeps_nan_rows_nan():
    # oneDNN's own ReLU maps NaN to 0, so activations are not fused into it:
    # a NaN row must stay NaN for the estimators' output checks to see it.
    torch.manual_seed(0)
    mlp = make_mlp([6, 8, 8, 2], "relu").eval()
    x = torch.randn(4, 6)
    x[1, 2] = torch.nan
    with torch.inference_mode():
        out = run_mlp(mlp, x)
    assert torch.isnan(out[1]).all() and torch.isfinite(out[[0, 2, 3]]).all()


@pytest.mark.parametrize("estimator", [AutoencoderTransformer, VAETransformer])
@pytest.mark.parametrize("weighted", [False, True])
def test_cpu_chunks_give_the_whole_batch_gradient(estimator, weighted, monkeypatch):
    # A batch of 4096 rows through a 256-wide layer runs forward and backward
    # in 1024-row chunks; the summed chunk gradients and the loss are the
    # whole batch's. (The autoencoder's fused loss, which takes whole batches,
    # is switched off here.)
    monkeypatch.setattr(_fused_loss, "MIN_FUSED_TRAINING_ROWS", 10**9)
    rng = np.random.RandomState(0)
    X = rng.normal(size=(4096, 12)).astype(np.float32)
    net = (
        estimator(
            n_components=3, hidden_layer_sizes=(256,), batch_size=4096, max_iter=1, random_state=0
        )
        .fit(X)
        .net_
    )
    assert _chunked_step.cache_chunk_rows(net.module_) == 1024
    x = torch.from_numpy(X)
    weight = torch.from_numpy(rng.uniform(0.0, 2.0, size=4096).astype(np.float32))
    batch = Batch(x, weight if weighted else None)
    if estimator is VAETransformer:
        # The reparameterised draws must be the same in both passes: in
        # evaluation mode the code is the posterior mean (no draws), so the
        # comparison covers the loss terms but not the sampling.
        net.module_.eval()
        net._set_training = lambda training=True: None

    def step(chunk_rows):
        net.module_.zero_grad(set_to_none=True)
        if chunk_rows is None:
            result = net.train_step_single((batch, None))
        else:
            result = _chunked_step.chunked_step(net, batch, chunk_rows)
        # Only the whole-batch path returns the batch's predictions.
        assert (result["y_pred"] is None) == (chunk_rows is not None)
        return result["loss"].item(), [p.grad.clone() for p in net.module_.parameters()]

    loss_chunked, grads_chunked = step(1024)
    loss_whole, grads_whole = step(None)
    assert loss_chunked == pytest.approx(loss_whole, rel=1e-5)
    for a, b in zip(grads_chunked, grads_whole, strict=True):
        assert b.abs().max() > 0
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6 * b.abs().max().item())


def _eager_loss(module, x):
    return torch.nn.functional.mse_loss(module(Batch(x))["x_loc"], x)


@pytest.mark.parametrize("hidden, code_relu", [((32, 16), False), ((), False), ((24,), True)])
@pytest.mark.parametrize("upstream", [1.0, 3.0])
def test_fused_reconstruction_loss_is_autograds_bit_for_bit(hidden, code_relu, upstream):
    # One autograd node for the whole ReLU autoencoder and its loss, run with
    # the kernels the layer-by-layer graph runs: the same loss and gradients,
    # also with a ReLU on the code and a gradient other than 1 from above.
    torch.manual_seed(0)
    module = AutoencoderModule(12, 3, hidden, "relu" if hidden else "identity")
    if code_relu:
        module.encoder.append(torch.nn.ReLU())
    x = torch.randn(1500, 12) * 2
    data = x.clone()
    results = []
    for loss_fn in (
        functools.partial(fused_reconstruction_loss, module),
        functools.partial(_eager_loss, module),
    ):
        module.zero_grad(set_to_none=True)
        loss = loss_fn(x)
        assert loss is not None and loss.requires_grad
        (loss * upstream).backward()
        results.append([loss.detach(), *(p.grad for p in module.parameters())])
    assert all(p.grad.abs().max() > 0 for p in module.parameters())
    for fused, eager in zip(*results, strict=True):
        assert torch.equal(fused, eager)
    assert torch.equal(x, data)  # the forward pass works in place, but not on the data


def test_fused_reconstruction_loss_skips_frozen_parameters():
    torch.manual_seed(0)
    module = AutoencoderModule(12, 3, (16,))
    module.encoder[0].requires_grad_(False)
    x = torch.randn(1024, 12)
    fused_reconstruction_loss(module, x).backward()
    fused = [p.grad for p in module.parameters()]
    module.zero_grad(set_to_none=True)
    _eager_loss(module, x).backward()
    for a, b in zip(fused, (p.grad for p in module.parameters()), strict=True):
        assert (a is None and b is None) or torch.equal(a, b)
    assert fused[0] is None and fused[2] is not None


def test_fused_reconstruction_loss_can_run_backward_twice():
    # Saved tensors are not overwritten: a retained graph gives the same
    # gradients again, as autograd's does.
    torch.manual_seed(0)
    module = AutoencoderModule(12, 3, (16,))
    x = torch.randn(1024, 12)
    grads = []
    for loss in (fused_reconstruction_loss(module, x), _eager_loss(module, x)):
        module.zero_grad(set_to_none=True)
        loss.backward(retain_graph=True)
        loss.backward()
        grads.append([p.grad for p in module.parameters()])
    for a, b in zip(*grads, strict=True):
        assert torch.equal(a, b)


def test_fused_reconstruction_loss_applies_only_where_it_may():
    class Noisy(AutoencoderModule):  # a subclass may change what forward does
        def encode(self, x):
            return super().encode(x + 0.1)

    torch.manual_seed(0)
    module = AutoencoderModule(6, 2, (8,))
    x = torch.randn(MIN_FUSED_TRAINING_ROWS, 6)
    assert fused_reconstruction_loss(module, x) is not None
    trailing_relu = AutoencoderModule(6, 2, (8,))
    trailing_relu.decoder.append(torch.nn.ReLU())
    skipped = [
        fused_reconstruction_loss(Noisy(6, 2, (8,)), x),
        fused_reconstruction_loss(trailing_relu, x),
        fused_reconstruction_loss(module, x[:-1]),  # too few rows to pay
        fused_reconstruction_loss(module, x.double()),
        fused_reconstruction_loss(module, x.clone().requires_grad_()),
        fused_reconstruction_loss(module, x.unsqueeze(1)),
        fused_reconstruction_loss(AutoencoderModule(6, 2, (8,), "tanh"), x),
        fused_reconstruction_loss(AutoencoderModule(6, 2, (8,), dropout=0.1), x),
        fused_reconstruction_loss(AutoencoderModule(6, 2, (8,)).double(), x),
    ]
    with torch.no_grad():
        skipped.append(fused_reconstruction_loss(module, x))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        skipped.append(fused_reconstruction_loss(module, x))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Anomaly Detection has been enabled")
        with torch.autograd.detect_anomaly(check_nan=False):
            skipped.append(fused_reconstruction_loss(module, x))
    for target, register in [
        (module, "register_forward_hook"),
        (module.encoder, "register_forward_pre_hook"),
        (module.decoder[1], "register_full_backward_hook"),
    ]:
        handle = getattr(target, register)(lambda *args: None)
        skipped.append(fused_reconstruction_loss(module, x))
        handle.remove()
    for register in [
        torch.nn.modules.module.register_module_forward_hook,
        torch.nn.modules.module.register_module_full_backward_hook,
    ]:
        handle = register(lambda *args: None)
        skipped.append(fused_reconstruction_loss(module, x))
        handle.remove()
    assert skipped == [None] * 17
    assert fused_reconstruction_loss(module, x) is not None


def test_fused_reconstruction_loss_is_once_differentiable():
    # A second derivative raises rather than silently missing terms.
    torch.manual_seed(0)
    module = AutoencoderModule(6, 2, (8,))
    loss = fused_reconstruction_loss(module, torch.randn(1024, 6))
    (grad,) = torch.autograd.grad(loss, module.encoder[0].weight, create_graph=True)
    with pytest.raises(RuntimeError, match="does not require grad|once_differentiable"):
        grad.sum().backward()


@pytest.fixture
def fused_calls(monkeypatch):
    """A list that gains an entry each time the fused loss node runs."""
    calls = []
    apply = _fused_loss._ReLUStackMSE.apply
    monkeypatch.setattr(
        _fused_loss._ReLUStackMSE, "apply", lambda *args: calls.append(1) or apply(*args)
    )
    return calls


@needs_fast_paths
@pytest.mark.parametrize(
    "params",
    [
        {"batch_size": 2048},
        {"batch_size": 3000, "hidden_layer_sizes": (32,)},
        {"batch_size": 2048, "early_stopping": True, "max_iter": 4},
        {"batch_size": 2048, "init": "pca"},
    ],
)
def test_fit_with_the_fused_loss_is_the_layer_by_layer_fit(params, fused_calls, monkeypatch):
    # Whole fits, last short batches included (which take the eager path):
    # the same loss curve and codes, bit for bit, and the fused path ran.
    X = np.random.RandomState(0).normal(size=(5000, 16)).astype(np.float32)
    results, n_calls = [], []
    for min_rows in (MIN_FUSED_TRAINING_ROWS, 10**9):
        monkeypatch.setattr(_fused_loss, "MIN_FUSED_TRAINING_ROWS", min_rows)
        fused_calls.clear()
        est = AutoencoderTransformer(
            **{"n_components": 4, "max_iter": 3, "random_state": 0, **params}
        ).fit(X)
        results.append((est.loss_curve_, est.transform(X)))
        n_calls.append(len(fused_calls))
    assert n_calls[0] >= 2 * est.n_iter_ and n_calls[1] == 0
    assert results[0][0] == results[1][0]
    np.testing.assert_array_equal(results[0][1], results[1][1])


class _BatchEnd(Callback):
    def on_batch_end(self, net, **kwargs):
        pass


@needs_fast_paths
@pytest.mark.parametrize(
    "params, fit_params",
    [
        ({}, {"sample_weight": np.linspace(0.5, 1.5, 4096)}),
        ({"precision": "bfloat16"}, {}),
        ({"callbacks": [_BatchEnd()]}, {}),
        ({"activation": "tanh"}, {}),
        ({"dropout": 0.1}, {}),
    ],
)
def test_fit_takes_the_fused_loss_only_where_it_applies(params, fit_params, fused_calls):
    X = np.random.RandomState(0).normal(size=(4096, 12)).astype(np.float32)
    base = {"n_components": 3, "batch_size": 2048, "max_iter": 1, "random_state": 0}
    AutoencoderTransformer(**base).fit(X)
    assert len(fused_calls) == 2
    fused_calls.clear()
    AutoencoderTransformer(**base, **params).fit(X, **fit_params)
    assert fused_calls == []


def test_batch_callbacks_see_whole_batches():
    class Sizes(Callback):
        def initialize(self):
            self.sizes = []
            return self

        def on_batch_end(self, net, batch=None, y_pred=None, training=False, **kwargs):
            if training:
                rows = {len(v) for v in y_pred.values()}
                self.sizes.append((len(batch[0]), rows))

    X = np.random.RandomState(0).normal(size=(4096, 12)).astype(np.float32)
    est = AutoencoderTransformer(
        n_components=3,
        hidden_layer_sizes=(256,),
        batch_size=4096,
        max_iter=1,
        random_state=0,
        callbacks=[("sizes", Sizes())],
    ).fit(X)
    assert dict(est.net_.callbacks_)["sizes"].sizes == [(4096, {4096})]


def test_chunk_rows_follow_the_widest_layer():
    X = np.random.RandomState(0).normal(size=(64, 12)).astype(np.float32)

    def chunk_rows(hidden):
        est = AutoencoderTransformer(
            n_components=3, hidden_layer_sizes=hidden, max_iter=1, random_state=0
        )
        return _chunked_step.cache_chunk_rows(est.fit(X).net_.module_)

    # 1 MiB of float32 activations at the widest layer.
    assert chunk_rows((128, 64)) == 2048
    assert chunk_rows((100,)) == 2**20 // 400
    # Too wide for a chunk of 1024 rows: whole batches.
    assert chunk_rows((512,)) is None


@pytest.fixture(scope="module")
def X_large():
    return np.random.default_rng(1).standard_normal((N_ROWS, 16)).astype(np.float32)


@needs_fast_paths
@needs_onednn
@pytest.mark.parametrize("cls", [AutoencoderTransformer, VAETransformer])
def test_a_lone_row_gets_exactly_what_a_batch_gives_it(cls, X_large):
    # CPU inference runs oneDNN's linear, whose results do not depend on the
    # number of rows (a single row is computed as one of two).
    est = cls(**TWO_CODES_8_UNITS, max_iter=1).fit(X_large[:300])
    Z, scores = est.transform(X_large), est.score_samples(X_large)
    for i in (0, 1, 777, N_ROWS - 1):
        np.testing.assert_array_equal(est.transform(X_large[i : i + 1]), Z[i : i + 1])
        np.testing.assert_array_equal(est.score_samples(X_large[i : i + 1]), scores[i : i + 1])
        np.testing.assert_array_equal(est.transform(X_large[i : i + 3]), Z[i : i + 3])


def test_limit_torch_threads_restores_setting(two_threads):
    with limit_torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2
    with pytest.raises(RuntimeError), limit_torch_threads(1):
        raise RuntimeError
    assert torch.get_num_threads() == 2
    # Never raised above the current setting, and None leaves it alone.
    with limit_torch_threads(4):
        assert torch.get_num_threads() == 2
    with limit_torch_threads(None):
        assert torch.get_num_threads() == 2


def test_limit_torch_threads_overlapping_callers_in_two_threads(two_threads):
    # Two fits in two Python threads (joblib's threading backend) enter and
    # leave in an interleaved order; each thread must end with its own setting.
    import threading

    entered, main_left = threading.Event(), threading.Event()
    seen = {}

    def other():
        before = torch.get_num_threads()
        with limit_torch_threads(1):
            entered.set()
            main_left.wait(timeout=10)
        seen["other"] = (before, torch.get_num_threads())

    worker = threading.Thread(target=other)
    with limit_torch_threads(1):
        worker.start()
        entered.wait(timeout=10)
    main_left.set()
    worker.join(timeout=10)
    assert torch.get_num_threads() == 2
    assert seen["other"][1] == seen["other"][0]


def test_threads_rule():
    assert threads_for(256, "cpu") == 1
    assert threads_for(MIN_ROWS_PER_THREAD_SPLIT, "cpu") is None
    assert threads_for(256, "cuda") is None


@needs_fast_paths
@pytest.mark.parametrize("batch_size, expected", [(128, 1), (MIN_ROWS_PER_THREAD_SPLIT, 2)])
def test_fit_caps_threads_for_small_batches_and_restores(two_threads, batch_size, expected):
    X = np.random.default_rng(0).standard_normal((2 * MIN_ROWS_PER_THREAD_SPLIT, 4))
    est = AutoencoderTransformer(
        **TWO_CODES_8_UNITS,
        max_iter=1,
        batch_size=batch_size,
        callbacks=[("rec", ThreadRecorder())],
    ).fit(X)
    assert dict(est.net_.callbacks_)["rec"].threads == {expected}
    assert torch.get_num_threads() == 2
    est.transform(X)
    assert torch.get_num_threads() == 2


@needs_fast_paths
@pytest.mark.parametrize("n_rows, expected", [(100, 1), (MIN_ROWS_PER_THREAD_SPLIT, 2)])
def test_inference_caps_threads_for_few_rows_and_restores(two_threads, n_rows, expected):
    X = np.random.default_rng(0).standard_normal((n_rows, 4))
    est = AutoencoderTransformer(**TWO_CODES_8_UNITS, max_iter=1).fit(X)
    seen = []
    handle = est.net_.module_.encoder.register_forward_pre_hook(
        lambda *args: seen.append(torch.get_num_threads())
    )
    est.transform(X)
    handle.remove()
    assert set(seen) == {expected} and torch.get_num_threads() == 2


@contextlib.contextmanager
def _fast_paths(on, monkeypatch):
    with monkeypatch.context() as m:
        m.setenv("SKAEVAE_FAST_PATHS", "1" if on else "0")
        yield


@needs_fast_paths
@pytest.mark.parametrize("cls", [AutoencoderTransformer, VAETransformer])
@pytest.mark.parametrize("batch_size", [256, 2048])
def test_switching_the_fast_paths_off_changes_no_result(cls, batch_size, monkeypatch):
    # The plain path alone (skorch's step, eager layers, torch's threads)
    # trains and infers the same model: the fused loss is autograd's bit for
    # bit; chunks and kernels round differently, at float32 precision.
    X = np.random.RandomState(0).normal(size=(4096, 12)).astype(np.float32)
    params = {"n_components": 3, "batch_size": batch_size, "max_iter": 2, "random_state": 0}
    results = []
    for on in (True, False):
        with _fast_paths(on, monkeypatch):
            assert _fast.enabled() is on
            est = cls(**params).fit(X)
            results.append((est.loss_curve_, est.transform(X), est.score_samples(X[:50])))
    (loss_on, Z_on, s_on), (loss_off, Z_off, s_off) = results
    np.testing.assert_allclose(loss_on, loss_off, rtol=1e-5)
    np.testing.assert_allclose(Z_on, Z_off, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(s_on, s_off, rtol=1e-4, atol=1e-4)


@needs_fast_paths
def test_switching_the_fast_paths_off_leaves_chunked_fits_alone(monkeypatch):
    # Weighted fits with large batches and a wide layer run in cache-sized
    # chunks: the same fit as whole batches, to float32 rounding.
    X = np.random.RandomState(0).normal(size=(4096, 12)).astype(np.float32)
    weight = np.random.RandomState(1).uniform(0.5, 1.5, size=4096)
    params = {"n_components": 3, "hidden_layer_sizes": (256,), "batch_size": 4096}
    results, chunked = [], []
    step = _chunked_step.chunked_step
    monkeypatch.setattr(_fast, "chunked_step", lambda *a, **k: chunked.append(1) or step(*a, **k))
    for on in (True, False):
        with _fast_paths(on, monkeypatch):
            est = AutoencoderTransformer(**params, max_iter=3, random_state=0)
            est.fit(X, sample_weight=weight)
            results.append((est.loss_curve_, est.transform(X)))
    assert len(chunked) == 3
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-5)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-4, atol=1e-5)


def test_cache_chunks_only_for_the_core_modules(monkeypatch):
    class Shifted(AutoencoderModule):  # a subclass may depend on the whole batch
        pass

    X = np.random.RandomState(0).normal(size=(4096, 12)).astype(np.float32)
    params = {"n_components": 3, "hidden_layer_sizes": (256,), "batch_size": 4096}
    est = AutoencoderTransformer(**params, max_iter=1, random_state=0)
    est.fit(X, sample_weight=np.ones(4096))
    step = _fast.TrainingStep(est.net_)
    step._prepare()
    assert step.chunk == 1024
    est.net_.module_ = Shifted(12, 3, (256,))
    step = _fast.TrainingStep(est.net_)
    # Neither chunks nor the fused loss: the plain step runs.
    assert step(Batch(torch.from_numpy(X))) is None and step.chunk is None


@needs_fast_paths
def test_fast_paths_off_take_no_fast_step(fused_calls, monkeypatch):
    X = np.random.RandomState(0).normal(size=(4096, 12)).astype(np.float32)
    calls = []
    linear = _onednn._linear_pointwise
    if linear is not None:
        monkeypatch.setattr(_onednn, "_linear_pointwise", lambda *a: calls.append(1) or linear(*a))
    params = {"n_components": 3, "batch_size": 2048, "max_iter": 1, "random_state": 0}
    with _fast_paths(False, monkeypatch):
        AutoencoderTransformer(**params).fit(X).transform(X)
    assert fused_calls == [] and calls == []
    AutoencoderTransformer(**params).fit(X).transform(X)
    assert len(fused_calls) == 2 and (linear is None or len(calls) > 0)


def test_the_package_works_without_the_fast_paths_package(tmp_path, monkeypatch):
    # As if skaevae/train/_fast were deleted: the import fails, training and
    # inference take the plain path, and the results are those of the
    # fast-paths-off run.
    code = """
import sys, warnings
import numpy as np
warnings.simplefilter("ignore")
sys.modules["skaevae.train._fast"] = None  # any import of it now fails
import skaevae.train._net as training
from skaevae import AutoencoderTransformer, OutlierDetector, VAETransformer
assert training._fast is None
X = np.random.RandomState(0).normal(size=(300, 6))
for cls in (AutoencoderTransformer, VAETransformer):
    est = cls(n_components=2, hidden_layer_sizes=(8,), max_iter=3, random_state=0, device="cpu")
    np.save(sys.argv[1] + cls.__name__, est.fit(X).transform(X))
OutlierDetector(random_state=0).fit(X).predict(X)
"""
    env = {**os.environ, "SKAEVAE_FAST_PATHS": "1"}
    subprocess.run([sys.executable, "-c", code, f"{tmp_path}/"], check=True, env=env)
    X = np.random.RandomState(0).normal(size=(300, 6))
    for cls in (AutoencoderTransformer, VAETransformer):
        with _fast_paths(False, monkeypatch):
            est = cls(n_components=2, hidden_layer_sizes=(8,), max_iter=3, random_state=0)
            expected = est.set_params(device="cpu").fit(X).transform(X)
        np.testing.assert_allclose(np.load(tmp_path / f"{cls.__name__}.npy"), expected, rtol=1e-6)
