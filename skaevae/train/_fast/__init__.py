"""Speed-only code, behind one door.

Everything in this package makes training or inference faster and nothing
else: the plain path (skorch's step, eager layers, torch's thread setting)
is complete and correct without it, and gives the same results to float32
rounding (the VAE's cache-sized chunks draw their noise chunk by chunk, from
the same distribution). Each trick decides for itself whether it applies and
otherwise leaves the plain path to run: the fused loss and the chunks apply
to the core's own modules only, so subclasses, new likelihoods, user
networks, and denoising, sparse and conditional models get the plain step;
oneDNN's linear replaces ``F.linear`` calls one by one, which is row-wise
and so right for any module.

Two entries:

- :func:`training`, around a fit: caps torch's threads for small batches,
  flushes subnormal floats, and yields the step that the net tries first
  (:class:`TrainingStep`: the autoencoder's loss as one autograd node, or a
  large CPU batch in cache-sized chunks);
- :func:`inference`, around a batched inference call: the same thread and
  denormal settings, and each ``Linear`` on oneDNN's kernel on a CPU.

Private torch APIs are used only in this package. Setting the environment
variable ``SKAEVAE_FAST_PATHS=0`` switches every fast path off (the test
suite runs once that way).
"""

import contextlib
import os

import torch

from ...nn._likelihoods import LIKELIHOODS
from ...nn._losses import ReconstructionLoss
from ...nn._modules import AutoencoderModule, VAEModule
from ._chunked_step import cache_chunk_rows, chunked_step
from ._denormals import flush_denormals
from ._fused_loss import fused_reconstruction_loss
from ._onednn import OneDNNLinear, available
from ._threads import limit_torch_threads, threads_for


def enabled():
    """Whether the fast paths are on (``SKAEVAE_FAST_PATHS`` is not ``"0"``)."""
    return os.environ.get("SKAEVAE_FAST_PATHS", "1") != "0"


class TrainingStep:
    """The fast training step of one fit: ``step(batch, **fit_params)``, or None.

    None means "not applicable": the net runs skorch's plain step. Static
    conditions are decided once, at the first step, when the net is
    initialised; each batch then checks its own.
    """

    def __init__(self, net):
        self.net = net
        self._ready = False

    def _prepare(self):
        net = self.net
        module = net.module_
        cpu = torch.device(net.device).type == "cpu"
        # The core's own modules only: a subclass or a new likelihood may
        # depend on the whole batch (a VAE's chunks draw their own noise, from
        # the same distribution as the whole batch's).
        core = type(module) is AutoencoderModule or (
            type(module) is VAEModule
            and type(module.likelihood) in LIKELIHOODS.values()
            and not module.n_conditions
        )
        # User networks may mix rows (batch normalisation), and a corrupted
        # input is not what the fused loss reads: both take the plain step.
        core = core and not module.user_networks and module.corruption is None
        # Callbacks that see each batch get the whole batch's predictions.
        plain_batches = net.compile or net.notifies_batches_
        self.fused = (
            cpu
            and not plain_batches
            and net.precision == "float32"
            and type(net.criterion_) is ReconstructionLoss
            and not net.criterion_.sparsity
            and core
        )
        self.chunk = cache_chunk_rows(module) if (cpu and core and not plain_batches) else None
        self._ready = True

    def __call__(self, batch, **fit_params):
        if not self._ready:
            self._prepare()
        if self.fused and batch.weight is None and batch.mask is None and not fit_params:
            loss = fused_reconstruction_loss(self.net.module_, batch.x)
            if loss is not None:
                loss.backward()
                return {"loss": loss, "y_pred": None}
        if self.chunk is not None and len(batch) > self.chunk and batch.x.device.type == "cpu":
            return chunked_step(self.net, batch, self.chunk, **fit_params)
        return None


@contextlib.contextmanager
def training(net):
    """Context of one fit of skorch ``net``; yields its :class:`TrainingStep`, or None."""
    if not enabled():
        yield None
        return
    with (
        limit_torch_threads(threads_for(net.batch_size, net.device)),
        flush_denormals(net.device),
    ):
        yield TrainingStep(net)


@contextlib.contextmanager
def inference(device, n_rows):
    """Context of an inference call on ``n_rows`` rows (in batches) on ``device``."""
    if not enabled():
        yield
        return
    with contextlib.ExitStack() as stack:
        stack.enter_context(limit_torch_threads(threads_for(n_rows, device)))
        stack.enter_context(flush_denormals(device))
        if torch.device(device).type == "cpu" and available():
            stack.enter_context(OneDNNLinear())
        yield
