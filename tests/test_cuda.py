"""Devices: the GPU code paths (skipped without CUDA), device requests, and models fitted on
a GPU used on a machine without one."""

import pickle

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback
from skorch.exceptions import DeviceWarning

from skaevae import AutoencoderTransformer, VAETransformer
from skaevae.utils._memory import GPU_INFERENCE_FACTOR, inference_batch_rows
from tests._testing import (
    TWO_CODES_16_UNITS_CUDA,
    assert_same_outputs,
    fitted_outputs,
    needs_cuda,
)


@pytest.fixture
def X():
    return np.random.default_rng(0).standard_normal((5000, 8)).astype(np.float32)


class NoSyncInStep(Callback):
    """Makes any host-device synchronisation inside a training step an error."""

    def initialize(self):
        self.devices = set()
        return self

    def on_batch_begin(self, net, batch=None, training=None, **kwargs):
        self.devices.add(batch[0].device.type)
        torch.cuda.set_sync_debug_mode("error")

    def on_batch_end(self, net, **kwargs):
        torch.cuda.set_sync_debug_mode("default")


@needs_cuda
@pytest.mark.parametrize("Estimator", [AutoencoderTransformer, VAETransformer])
def test_training_on_gpu_has_no_host_sync_per_step(Estimator, X):
    est = Estimator(
        **TWO_CODES_16_UNITS_CUDA, max_iter=2, callbacks=[("nosync", NoSyncInStep())]
    ).fit(X)
    assert dict(est.net_.callbacks_)["nosync"].devices == {"cuda"}
    assert next(est.net_.module_.parameters()).device.type == "cuda"
    assert np.all(np.isfinite(est.loss_curve_))
    # "auto" picks the larger GPU batch: 5000 rows in two batches.
    assert list(est.net_.history[:, "train_batch_count"]) == [2, 2]


@needs_cuda
def test_gpu_inference_batches(X):
    est = AutoencoderTransformer(**TWO_CODES_16_UNITS_CUDA, max_iter=1).fit(X)
    rows = []
    handle = est.net_.module_.encoder.register_forward_pre_hook(
        lambda m, args: rows.append(len(args[0]))
    )
    cpu_batch = inference_batch_rows(est._activation_bytes(), 10**9, "cpu")
    n = cpu_batch * GPU_INFERENCE_FACTOR + 10
    est.transform(np.zeros((n, X.shape[1]), dtype=np.float32))
    handle.remove()
    assert rows == [cpu_batch * GPU_INFERENCE_FACTOR, 10]


@needs_cuda
@pytest.mark.parametrize("Estimator", [AutoencoderTransformer, VAETransformer])
def test_fit_on_gpu_pickle_and_load_on_cpu(Estimator, X, monkeypatch):
    est = Estimator(**TWO_CODES_16_UNITS_CUDA, max_iter=2).fit(X)
    Z_gpu = est.transform(X)
    data = pickle.dumps(est)
    # skorch maps CUDA tensors to the CPU when CUDA is unavailable on load.
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(UserWarning, match="CUDA"):
        restored = pickle.loads(data)
    assert torch.device(restored.net_.device).type == "cpu"
    assert next(restored.net_.module_.parameters()).device.type == "cpu"
    np.testing.assert_allclose(restored.transform(X), Z_gpu, rtol=1e-4, atol=1e-5)
    assert restored.score_samples(X[:10]).shape == (10,)


@needs_cuda
@pytest.mark.parametrize("Estimator", [AutoencoderTransformer, VAETransformer])
def test_bfloat16_on_gpu(Estimator, X):
    if not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bfloat16 support")
    est = Estimator(**TWO_CODES_16_UNITS_CUDA, max_iter=2, precision="bfloat16").fit(X)
    assert np.all(np.isfinite(est.loss_curve_))
    Z = est.transform(X)
    assert Z.dtype == np.float32 and np.all(np.isfinite(Z))


@needs_cuda
def test_compile_on_gpu_uses_cuda_graphs_and_pickles(X):
    est = AutoencoderTransformer(**TWO_CODES_16_UNITS_CUDA, max_iter=2, compile=True)
    est.fit(X)
    assert est.net_.compile__mode == "reduce-overhead"
    assert not isinstance(est.net_.module_, torch._dynamo.eval_frame.OptimizedModule)
    assert np.all(np.isfinite(est.loss_curve_))
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_allclose(restored.transform(X), est.transform(X), rtol=1e-5)


@needs_cuda
def test_global_rng_untouched_on_gpu(X):
    state = torch.cuda.get_rng_state()
    AutoencoderTransformer(**TWO_CODES_16_UNITS_CUDA, max_iter=1).fit(X)
    assert torch.equal(torch.cuda.get_rng_state(), state)


@needs_cuda
@pytest.mark.parametrize("Estimator", [AutoencoderTransformer, VAETransformer])
def test_pca_init_on_gpu_matches_cpu(Estimator, X):
    # With a negligible step size the fit stays at its PCA start, which is
    # computed on the host and copied to the device's parameters.
    params = {**TWO_CODES_16_UNITS_CUDA, "init": "pca", "max_iter": 1, "learning_rate_init": 1e-12}
    gpu = Estimator(**params).fit(X)
    cpu = Estimator(**{**params, "device": "cpu"}).fit(X)
    np.testing.assert_allclose(gpu.transform(X), cpu.transform(X), atol=1e-3)


@needs_cuda
def test_family_models_train_on_gpu_and_load_on_cpu(X):
    from skaevae import ConditionalVAETransformer
    from tests.networks import TinyDecoder, TinyEncoder

    y = np.arange(len(X)) % 3
    models = [
        (
            AutoencoderTransformer(
                **TWO_CODES_16_UNITS_CUDA, max_iter=2, corruption="masking", sparsity=0.1
            ),
            (),
        ),
        (
            VAETransformer(
                **TWO_CODES_16_UNITS_CUDA, max_iter=2, encoder=TinyEncoder, decoder=TinyDecoder
            ),
            (),
        ),
        (
            ConditionalVAETransformer(**TWO_CODES_16_UNITS_CUDA, max_iter=2, corruption="gaussian"),
            (y,),
        ),
    ]
    for est, extra in models:
        est.fit(X, *extra)
        assert next(est.net_.module_.parameters()).device.type == "cuda"
        codes = est.transform(X)
        assert np.isfinite(codes).all()
        restored = pickle.loads(pickle.dumps(est))
        np.testing.assert_allclose(restored.transform(X), codes, rtol=1e-5, atol=1e-5)


# ------------------------------------- device requests and CUDA models on the CPU


def test_model_fitted_for_cuda_unpickles_on_cpu_only_machine(fast_estimator, small_X):
    # Simulates a GPU fit: the pickled net says device="cuda". On a machine
    # without CUDA, skorch maps it to the CPU and inference follows the net.
    est = fast_estimator.fit(small_X)
    expected = fitted_outputs(est, small_X)
    est.set_params(device="cuda")
    est.net_.device = "cuda"
    payload = pickle.dumps(est)
    if torch.cuda.is_available():
        pytest.skip("CUDA is available: the device would not be remapped")
    with pytest.warns(DeviceWarning) as record:
        restored = pickle.loads(payload)
    assert any("no CUDA devices are available" in str(w.message) for w in record)
    assert str(restored.net_.device) == "cpu"
    assert_same_outputs(expected, fitted_outputs(restored, small_X))


@needs_cuda
def test_cuda_fit_then_cpu_inference(small_X):
    for cls in (AutoencoderTransformer, VAETransformer):
        est = cls(
            n_components=2, hidden_layer_sizes=(16,), max_iter=3, device="cuda", random_state=0
        ).fit(small_X)
        restored = pickle.loads(pickle.dumps(est))
        assert np.isfinite(restored.transform(small_X)).all()


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available")
def test_cuda_request_without_cuda(fast_estimator, small_X):
    with pytest.raises(ValueError, match="CUDA is not available"):
        fast_estimator.set_params(device="cuda").fit(small_X)


def test_invalid_device_string_is_a_clear_error(fast_estimator, small_X):
    with pytest.raises(ValueError, match="device='gpu' is not a device the models can train"):
        fast_estimator.set_params(device="gpu").fit(small_X)
    # A valid torch device that holds no data to train on, and one not here.
    with pytest.raises(ValueError, match="device='meta' is not a device the models"):
        fast_estimator.set_params(device="meta").fit(small_X)
    if not torch.backends.mps.is_available():
        with pytest.raises(ValueError, match="MPS is not available"):
            fast_estimator.set_params(device="mps").fit(small_X)
