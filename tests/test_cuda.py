"""GPU code paths; skipped on machines without CUDA."""

import pickle

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

from skaevae import AutoencoderTransformer, VAETransformer
from skaevae.utils._memory import GPU_INFERENCE_FACTOR, inference_batch_rows

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")

FAST = {"hidden_layer_sizes": (16,), "n_components": 2, "device": "cuda", "random_state": 0}


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


@pytest.mark.parametrize("Estimator", [AutoencoderTransformer, VAETransformer])
def test_training_on_gpu_has_no_host_sync_per_step(Estimator, X):
    est = Estimator(**FAST, max_iter=2, callbacks=[("nosync", NoSyncInStep())]).fit(X)
    assert dict(est.net_.callbacks_)["nosync"].devices == {"cuda"}
    assert next(est.net_.module_.parameters()).device.type == "cuda"
    assert np.all(np.isfinite(est.loss_curve_))
    # "auto" picks the larger GPU batch: 5000 rows in two batches.
    assert list(est.net_.history[:, "train_batch_count"]) == [2, 2]


def test_gpu_inference_batches(X):
    est = AutoencoderTransformer(**FAST, max_iter=1).fit(X)
    rows = []
    handle = est.net_.module_.encoder.register_forward_pre_hook(
        lambda m, args: rows.append(len(args[0]))
    )
    cpu_batch = inference_batch_rows(est._activation_bytes(), 10**9, "cpu")
    n = cpu_batch * GPU_INFERENCE_FACTOR + 10
    est.transform(np.zeros((n, X.shape[1]), dtype=np.float32))
    handle.remove()
    assert rows == [cpu_batch * GPU_INFERENCE_FACTOR, 10]


@pytest.mark.parametrize("Estimator", [AutoencoderTransformer, VAETransformer])
def test_fit_on_gpu_pickle_and_load_on_cpu(Estimator, X, monkeypatch):
    est = Estimator(**FAST, max_iter=2).fit(X)
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


@pytest.mark.parametrize("Estimator", [AutoencoderTransformer, VAETransformer])
def test_bfloat16_on_gpu(Estimator, X):
    if not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bfloat16 support")
    est = Estimator(**FAST, max_iter=2, precision="bfloat16").fit(X)
    assert np.all(np.isfinite(est.loss_curve_))
    Z = est.transform(X)
    assert Z.dtype == np.float32 and np.all(np.isfinite(Z))


def test_compile_on_gpu_uses_cuda_graphs_and_pickles(X):
    est = AutoencoderTransformer(**FAST, max_iter=2, compile=True)
    est.fit(X)
    assert est.net_.compile__mode == "reduce-overhead"
    assert not isinstance(est.net_.module_, torch._dynamo.eval_frame.OptimizedModule)
    assert np.all(np.isfinite(est.loss_curve_))
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_allclose(restored.transform(X), est.transform(X), rtol=1e-5)


def test_global_rng_untouched_on_gpu(X):
    state = torch.cuda.get_rng_state()
    AutoencoderTransformer(**FAST, max_iter=1).fit(X)
    assert torch.equal(torch.cuda.get_rng_state(), state)


@pytest.mark.parametrize("Estimator", [AutoencoderTransformer, VAETransformer])
def test_pca_init_on_gpu_matches_cpu(Estimator, X):
    # With a negligible step size the fit stays at its PCA start, which is
    # computed on the host and copied to the device's parameters.
    params = {**FAST, "init": "pca", "max_iter": 1, "learning_rate_init": 1e-12}
    gpu = Estimator(**params).fit(X)
    cpu = Estimator(**{**params, "device": "cpu"}).fit(X)
    np.testing.assert_allclose(gpu.transform(X), cpu.transform(X), atol=1e-3)


def test_family_models_train_on_gpu_and_load_on_cpu(X):
    from skaevae import ConditionalVAETransformer
    from tests.networks import TinyDecoder, TinyEncoder

    y = np.arange(len(X)) % 3
    models = [
        (AutoencoderTransformer(**FAST, max_iter=2, corruption="masking", sparsity=0.1), ()),
        (VAETransformer(**FAST, max_iter=2, encoder=TinyEncoder, decoder=TinyDecoder), ()),
        (ConditionalVAETransformer(**FAST, max_iter=2, corruption="gaussian"), (y,)),
    ]
    for est, extra in models:
        est.fit(X, *extra)
        assert next(est.net_.module_.parameters()).device.type == "cuda"
        codes = est.transform(X)
        assert np.isfinite(codes).all()
        restored = pickle.loads(pickle.dumps(est))
        np.testing.assert_allclose(restored.transform(X), codes, rtol=1e-5, atol=1e-5)
