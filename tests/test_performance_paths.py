"""Fast paths: inference batches, copies and checks; training chunks and the fused loss."""

import functools
import tracemalloc
import warnings

import numpy as np
import pytest
import sklearn
import torch
from skorch.callbacks import Callback

from skaevae import AutoencoderTransformer, VAETransformer, _base, _modules
from skaevae._base import INFERENCE_BATCH_SIZE, tensor_batches
from skaevae._modules import AutoencoderModule

from .conftest import needs_onednn

FAST = {"hidden_layer_sizes": (8,), "n_components": 2, "device": "cpu", "random_state": 0}
N_ROWS = 2 * INFERENCE_BATCH_SIZE + 100  # three batches, the last one partial


@pytest.fixture(scope="module")
def fitted():
    X = np.random.default_rng(0).standard_normal((300, 16)).astype(np.float32)
    return AutoencoderTransformer(**FAST, max_iter=2).fit(X)


@pytest.fixture(scope="module")
def X_large():
    return np.random.default_rng(1).standard_normal((N_ROWS, 16)).astype(np.float32)


def _batch_rows(module, call):
    """Row counts of every batch that reaches ``module``'s forward during ``call()``."""
    rows = []
    handle = module.register_forward_pre_hook(lambda m, args: rows.append(len(args[0])))
    try:
        call()
    finally:
        handle.remove()
    return rows


def test_inference_batches_are_bounded(fitted, X_large):
    module = fitted.net_.module_
    expected = [INFERENCE_BATCH_SIZE, INFERENCE_BATCH_SIZE, 100]
    assert _batch_rows(module.encoder, lambda: fitted.transform(X_large)) == expected
    assert _batch_rows(module.encoder, lambda: fitted.score_samples(X_large)) == expected
    Z = np.zeros((N_ROWS, 2), dtype=np.float32)
    assert _batch_rows(module.decoder, lambda: fitted.inverse_transform(Z)) == expected


def test_sample_batches_are_bounded():
    X = np.random.default_rng(0).standard_normal((300, 4)).astype(np.float32)
    vae = VAETransformer(**FAST, max_iter=1, kl_warmup=0).fit(X)
    rows = _batch_rows(vae.net_.module_.decoder, lambda: vae.sample(N_ROWS, random_state=0))
    assert rows == [INFERENCE_BATCH_SIZE, INFERENCE_BATCH_SIZE, 100]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_transform_makes_no_full_size_copy(fitted, X_large, dtype):
    # numpy reports its allocations to tracemalloc; a converted copy of X, or
    # an intermediate array of all rows, would show in the peak.
    X = X_large.astype(dtype)
    out_bytes = N_ROWS * 2 * np.dtype(dtype).itemsize
    batch_bytes = INFERENCE_BATCH_SIZE * X.shape[1] * 4  # one float32 batch
    fitted.transform(X[:10])
    tracemalloc.start()
    try:
        Z = fitted.transform(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert Z.shape == (N_ROWS, 2) and Z.dtype == dtype
    allowed = out_bytes + (batch_bytes if dtype == np.float64 else 0) + 256 * 1024
    assert peak <= allowed, (peak, allowed, X.nbytes)


def test_float32_batches_share_memory_with_input(X_large):
    batches = list(tensor_batches(X_large, INFERENCE_BATCH_SIZE, "cpu"))
    assert [(start, stop) for start, stop, _ in batches] == [
        (0, INFERENCE_BATCH_SIZE),
        (INFERENCE_BATCH_SIZE, 2 * INFERENCE_BATCH_SIZE),
        (2 * INFERENCE_BATCH_SIZE, N_ROWS),
    ]
    for start, _, x in batches:
        assert x.data_ptr() == X_large[start:].ctypes.data
    # Other dtypes and read-only arrays are converted one batch at a time.
    X_ro = X_large.copy()
    X_ro.setflags(write=False)
    for X in (X_large.astype(np.float64), X_ro):
        for start, stop, x in tensor_batches(X, INFERENCE_BATCH_SIZE, "cpu"):
            assert x.dtype == torch.float32
            np.testing.assert_array_equal(x.numpy(), X[start:stop].astype(np.float32))


@pytest.mark.parametrize("method", ["transform", "score_samples"])
@pytest.mark.parametrize("value, message", [(np.nan, "NaN"), (np.inf, "infinity")])
def test_non_finite_rows_in_a_later_batch_raise(fitted, X_large, method, value, message):
    X = X_large.copy()
    X[-1, 3] = value
    with pytest.raises(ValueError, match=f"Input X contains {message}"):
        getattr(fitted, method)(X)


@pytest.mark.parametrize("method", ["transform", "score_samples"])
def test_assume_finite_skips_the_input_check_not_the_output_check(
    fitted, X_large, method, monkeypatch
):
    # scikit-learn's assume_finite=True skips check_array's NaN/inf pass; the
    # per-batch pass over a float32 X follows it, and NaN still never reaches
    # the user.
    passes = []
    isfinite = torch.isfinite
    monkeypatch.setattr(torch, "isfinite", lambda t: passes.append(t.shape) or isfinite(t))
    X = X_large.copy()
    X[-1, 3] = np.nan
    expected = getattr(fitted, method)(X_large)
    assert (INFERENCE_BATCH_SIZE, X_large.shape[1]) not in passes  # summed, then checked
    n_batches = -(-len(X_large) // INFERENCE_BATCH_SIZE)
    checked_passes = len(passes)
    assert checked_passes >= n_batches
    passes.clear()
    with sklearn.config_context(assume_finite=True):
        np.testing.assert_array_equal(getattr(fitted, method)(X_large), expected)
        # No input check left; the output's stays (one test of the sum of the
        # batches' sums; score_samples tests that sum for NaN alone).
        assert len(passes) == checked_passes - n_batches
        assert passes == ([torch.Size([])] if method == "transform" else [])
        message = f"{method} produced non-finite values for 1 rows: .*unchecked under"
        with pytest.raises(ValueError, match=message):
            getattr(fitted, method)(X)
        # float64 is cast to float32 batch by batch, so overflow is still checked.
        with pytest.raises(ValueError, match="too large for dtype\\('float32'\\)"):
            getattr(fitted, method)(np.full((3, X_large.shape[1]), 1e39))
    with pytest.raises(ValueError, match="Input X contains NaN"):
        getattr(fitted, method)(X)


@pytest.fixture
def exact_output_passes(monkeypatch):
    """The methods whose whole-array output check runs, in call order."""
    calls = []
    exact = _base.check_finite_output
    monkeypatch.setattr(
        _base,
        "check_finite_output",
        lambda out, method, **kw: calls.append(method) or exact(out, method, **kw),
    )
    return calls


def test_the_exact_output_pass_runs_only_when_a_batch_sum_is_not_finite(
    X_large, exact_output_passes
):
    # The output is summed batch by batch while in cache; the whole-array
    # check (which counts the bad rows) runs only when a sum is not finite.
    est = AutoencoderTransformer(**FAST, max_iter=1).fit(X_large[:300])
    est.transform(X_large)
    assert exact_output_passes == []
    code_layer = est.net_.module_.encoder[-1]
    with torch.no_grad():
        code_layer.bias.fill_(3e38)  # each code finite, the sum of a batch not
    Z = est.transform(X_large)
    assert np.isfinite(Z).all() and np.all(Z > 1e38)
    assert exact_output_passes == ["transform"]
    with torch.no_grad():
        code_layer.bias[0] = np.inf
    with pytest.raises(ValueError, match=f"transform produced non-finite values for {N_ROWS} rows"):
        est.transform(X_large)


def test_minus_inf_scores_pass_the_output_check_and_nan_scores_do_not(
    fitted, X_large, exact_output_passes
):
    # score_samples allows -inf (the worst score): a row whose reconstruction
    # error overflows float32 gets it, without the exact pass over the scores.
    X = X_large.copy()
    X[5] = 1e30
    scores = fitted.score_samples(X)
    assert scores[5] == -np.inf and np.isfinite(np.delete(scores, 5)).all()
    assert exact_output_passes == []
    X[-1, 0] = np.nan
    with sklearn.config_context(assume_finite=True):
        with pytest.raises(ValueError, match="score_samples produced non-finite values for 1 rows"):
            fitted.score_samples(X)
    assert exact_output_passes == ["score_samples"]


def test_large_finite_values_whose_sum_overflows_pass(fitted):
    X = np.full((50, 16), 3e38, dtype=np.float32)
    with np.errstate(over="ignore"):
        assert np.isinf(X.sum(dtype=np.float32))
    assert fitted.transform(X).shape == (50, 2)


def test_vae_scoring_keeps_its_smaller_batches():
    X = np.random.default_rng(0).standard_normal((1200, 4)).astype(np.float32)
    vae = VAETransformer(**FAST, max_iter=1, kl_warmup=0).fit(X)
    rows = _batch_rows(vae.net_.module_.trunk, lambda: vae.score_samples(X))
    assert max(rows) == vae._score_batch_size and sum(rows) == len(X)


@pytest.mark.parametrize("estimator", [AutoencoderTransformer, VAETransformer])
@pytest.mark.parametrize("weighted", [False, True])
def test_cpu_chunks_give_the_whole_batch_gradient(estimator, weighted, monkeypatch):
    # A batch of 4096 rows through a 256-wide layer runs forward and backward
    # in 1024-row chunks; the summed chunk gradients and the loss are the
    # whole batch's. (The autoencoder's fused loss, which takes whole batches,
    # is switched off here.)
    monkeypatch.setattr(_modules, "MIN_FUSED_TRAINING_ROWS", 10**9)
    rng = np.random.RandomState(0)
    X = rng.normal(size=(4096, 12)).astype(np.float32)
    net = (
        estimator(
            n_components=3, hidden_layer_sizes=(256,), batch_size=4096, max_iter=1, random_state=0
        )
        .fit(X)
        .net_
    )
    assert net._chunk_rows == 1024
    x = torch.from_numpy(X)
    weight = torch.from_numpy(rng.uniform(0.0, 2.0, size=4096).astype(np.float32))
    batch = (x, weight if weighted else None)
    if estimator is VAETransformer:
        # The reparameterised draws must be the same in both passes: in
        # evaluation mode the code is the posterior mean (no draws), so the
        # comparison covers the loss terms but not the sampling.
        net.module_.eval()
        net._set_training = lambda training=True: None

    def step(chunk_rows):
        net._chunk_rows = chunk_rows
        net.module_.zero_grad(set_to_none=True)
        result = net.train_step_single(batch)
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
    return torch.nn.functional.mse_loss(module(x)["x_loc"], x)


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
    for loss_fn in (module.fused_reconstruction_loss, functools.partial(_eager_loss, module)):
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
    module.fused_reconstruction_loss(x).backward()
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
    for loss in (module.fused_reconstruction_loss(x), _eager_loss(module, x)):
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
    x = torch.randn(_modules.MIN_FUSED_TRAINING_ROWS, 6)
    assert module.fused_reconstruction_loss(x) is not None
    trailing_relu = AutoencoderModule(6, 2, (8,))
    trailing_relu.decoder.append(torch.nn.ReLU())
    skipped = [
        Noisy(6, 2, (8,)).fused_reconstruction_loss(x),
        trailing_relu.fused_reconstruction_loss(x),
        module.fused_reconstruction_loss(x[:-1]),  # too few rows to pay
        module.fused_reconstruction_loss(x.double()),
        module.fused_reconstruction_loss(x.clone().requires_grad_()),
        module.fused_reconstruction_loss(x.unsqueeze(1)),
        AutoencoderModule(6, 2, (8,), "tanh").fused_reconstruction_loss(x),
        AutoencoderModule(6, 2, (8,), dropout=0.1).fused_reconstruction_loss(x),
        AutoencoderModule(6, 2, (8,)).double().fused_reconstruction_loss(x),
    ]
    with torch.no_grad():
        skipped.append(module.fused_reconstruction_loss(x))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        skipped.append(module.fused_reconstruction_loss(x))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Anomaly Detection has been enabled")
        with torch.autograd.detect_anomaly(check_nan=False):
            skipped.append(module.fused_reconstruction_loss(x))
    for target, register in [
        (module, "register_forward_hook"),
        (module.encoder, "register_forward_pre_hook"),
        (module.decoder[1], "register_full_backward_hook"),
    ]:
        handle = getattr(target, register)(lambda *args: None)
        skipped.append(module.fused_reconstruction_loss(x))
        handle.remove()
    for register in [
        torch.nn.modules.module.register_module_forward_hook,
        torch.nn.modules.module.register_module_full_backward_hook,
    ]:
        handle = register(lambda *args: None)
        skipped.append(module.fused_reconstruction_loss(x))
        handle.remove()
    assert skipped == [None] * 17
    assert module.fused_reconstruction_loss(x) is not None


def test_fused_reconstruction_loss_is_once_differentiable():
    # A second derivative raises rather than silently missing terms.
    torch.manual_seed(0)
    module = AutoencoderModule(6, 2, (8,))
    loss = module.fused_reconstruction_loss(torch.randn(1024, 6))
    (grad,) = torch.autograd.grad(loss, module.encoder[0].weight, create_graph=True)
    with pytest.raises(RuntimeError, match="does not require grad|once_differentiable"):
        grad.sum().backward()


@pytest.fixture
def fused_calls(monkeypatch):
    """A list that gains an entry each time the fused loss node runs."""
    calls = []
    apply = _modules._ReLUStackMSE.apply
    monkeypatch.setattr(
        _modules._ReLUStackMSE, "apply", lambda *args: calls.append(1) or apply(*args)
    )
    return calls


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
    for min_rows in (_modules.MIN_FUSED_TRAINING_ROWS, 10**9):
        monkeypatch.setattr(_modules, "MIN_FUSED_TRAINING_ROWS", min_rows)
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
        return est.fit(X).net_._chunk_rows

    # 1 MiB of float32 activations at the widest layer.
    assert chunk_rows((128, 64)) == 2048
    assert chunk_rows((100,)) == 2**20 // 400
    # Too wide for a chunk of 1024 rows: whole batches.
    assert chunk_rows((512,)) is None


@needs_onednn
@pytest.mark.parametrize("cls", [AutoencoderTransformer, VAETransformer])
def test_a_lone_row_gets_exactly_what_a_batch_gives_it(cls, X_large):
    # CPU inference runs oneDNN's linear, whose results do not depend on the
    # number of rows (a single row is computed as one of two).
    est = cls(**FAST, max_iter=1).fit(X_large[:300])
    Z, scores = est.transform(X_large), est.score_samples(X_large)
    for i in (0, 1, 777, N_ROWS - 1):
        np.testing.assert_array_equal(est.transform(X_large[i : i + 1]), Z[i : i + 1])
        np.testing.assert_array_equal(est.score_samples(X_large[i : i + 1]), scores[i : i + 1])
        np.testing.assert_array_equal(est.transform(X_large[i : i + 3]), Z[i : i + 3])
