"""Batched inference: batch sizes from working_memory, no full-size copies, checks per batch."""

import tracemalloc

import numpy as np
import pytest
import sklearn
import torch

from skaevae import AutoencoderTransformer, VAETransformer
from skaevae.models import _inference
from skaevae.models._inference import tensor_batches
from skaevae.utils._memory import inference_batch_rows
from tests._testing import THREE_EPOCHS_16_UNITS, TWO_CODES_8_UNITS

# The fitted autoencoder's widest layer is its 16 inputs, 64 bytes a row in
# float32: half a MiB of working memory holds batches of 8192 rows.
INFERENCE_BATCH_SIZE = 8192
WORKING_MEMORY = INFERENCE_BATCH_SIZE * 64 / 2**20
N_ROWS = 2 * INFERENCE_BATCH_SIZE + 100  # three batches, the last one partial


@pytest.fixture(autouse=True)
def working_memory():
    with sklearn.config_context(working_memory=WORKING_MEMORY):
        yield


@pytest.fixture(scope="module")
def fitted():
    X = np.random.default_rng(0).standard_normal((300, 16)).astype(np.float32)
    return AutoencoderTransformer(**TWO_CODES_8_UNITS, max_iter=2).fit(X)


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
    assert fitted._activation_bytes() == 64
    expected = [INFERENCE_BATCH_SIZE, INFERENCE_BATCH_SIZE, 100]
    assert _batch_rows(module.encoder, lambda: fitted.transform(X_large)) == expected
    assert _batch_rows(module.encoder, lambda: fitted.score_samples(X_large)) == expected
    Z = np.zeros((N_ROWS, 2), dtype=np.float32)
    assert _batch_rows(module.decoder, lambda: fitted.inverse_transform(Z)) == expected


def test_sample_batches_are_bounded():
    X = np.random.default_rng(0).standard_normal((300, 4)).astype(np.float32)
    vae = VAETransformer(**TWO_CODES_8_UNITS, max_iter=1, kl_warmup=0).fit(X)
    rows = _batch_rows(vae.net_.module_.decoder, lambda: vae.sample(N_ROWS, random_state=0))
    batch = inference_batch_rows(vae._activation_bytes(), N_ROWS, "cpu")
    assert batch < N_ROWS
    assert rows == [batch] * (N_ROWS // batch) + [N_ROWS % batch]


def test_batches_follow_working_memory_and_a_cache_sized_cap(fitted):
    # sklearn's working_memory bounds a batch; so does a cache-sized cap (or
    # eight times it on a GPU), whatever the working memory.
    assert inference_batch_rows(64, 10**9, "cpu") == INFERENCE_BATCH_SIZE
    with sklearn.config_context(working_memory=1024):
        cpu = inference_batch_rows(64, 10**9, "cpu")
        assert cpu < 10**9 and inference_batch_rows(64, 10**9, "cuda") == 8 * cpu
        assert inference_batch_rows(64, 100, "cpu") == 100


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
def test_infinite_rows_in_a_later_batch_raise(fitted, X_large, method):
    # NaN is a missing entry; infinity is an error, wherever it is.
    X = X_large.copy()
    X[-1, 3] = np.inf
    with pytest.raises(ValueError, match="Input X contains infinity"):
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
    X[-1, 3] = np.inf
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
    with pytest.raises(ValueError, match="Input X contains infinity"):
        getattr(fitted, method)(X)


@pytest.fixture
def exact_output_passes(monkeypatch):
    """The methods whose whole-array output check runs, in call order."""
    calls = []
    exact = _inference.check_finite_output
    monkeypatch.setattr(
        _inference,
        "check_finite_output",
        lambda out, method, **kw: calls.append(method) or exact(out, method, **kw),
    )
    return calls


def test_the_exact_output_pass_runs_only_when_a_batch_sum_is_not_finite(
    X_large, exact_output_passes
):
    # The output is summed batch by batch while in cache; the whole-array
    # check (which counts the bad rows) runs only when a sum is not finite.
    est = AutoencoderTransformer(**TWO_CODES_8_UNITS, max_iter=1).fit(X_large[:300])
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
    X[-1, 0] = np.inf
    with sklearn.config_context(assume_finite=True):
        with pytest.raises(ValueError, match="score_samples produced non-finite values for 1 rows"):
            fitted.score_samples(X)
    assert exact_output_passes == ["score_samples"]


def test_large_finite_values_whose_sum_overflows_pass(fitted):
    X = np.full((50, 16), 3e38, dtype=np.float32)
    with np.errstate(over="ignore"):
        assert np.isinf(X.sum(dtype=np.float32))
    assert fitted.transform(X).shape == (50, 2)


def test_vae_scoring_batches_hold_the_importance_draws():
    X = np.random.default_rng(0).standard_normal((1200, 4)).astype(np.float32)
    vae = VAETransformer(**TWO_CODES_8_UNITS, max_iter=1, kl_warmup=0).fit(X)
    rows = _batch_rows(vae.net_.module_.trunk, lambda: vae.score_samples(X))
    # Each row is decoded once per importance draw.
    batch = inference_batch_rows(64 * vae._activation_bytes(), len(X), "cpu")
    assert max(rows) == batch < inference_batch_rows(vae._activation_bytes(), len(X), "cpu")
    assert sum(rows) == len(X)


def test_transform_is_batched_without_changing_results(small_X):
    # More rows than one inference batch: results equal row-by-row slices.
    est = AutoencoderTransformer(n_components=2, **THREE_EPOCHS_16_UNITS).fit(small_X)
    batch = inference_batch_rows(est._activation_bytes(), 10**9, "cpu")
    X = np.tile(small_X, (batch // len(small_X) + 2, 1))
    Z = est.transform(X)
    np.testing.assert_allclose(Z[: len(small_X)], est.transform(small_X), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(Z[-len(small_X) :], est.transform(small_X), rtol=1e-5, atol=1e-6)
