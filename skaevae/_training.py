"""Training glue: the one place where a skorch ``NeuralNet`` is built and configured.

skorch stays the engine (callbacks, history, device handling, persistence), but
its stock data path fetches and collates one row at a time, which costs about as
much as a whole training step of these small MLPs. Here instead:

- the data is one float32 tensor, moved to the device once (:class:`TensorData`);
- batches are slices of a fresh permutation, made on the device
  (:class:`TensorBatchIterator`), with no ``DataLoader`` and no collate;
- the epoch loop keeps the loss on the device and syncs once per epoch, and
  notifies per-batch callbacks only when one is listening (:class:`AutoencoderNet`);
- the validation split is held out only when early stopping asks for it;
- on a CPU, the autoencoder's unweighted float32 loss on a batch of 1024 rows
  or more, with ReLU or no activation, no dropout, no batch callbacks and no
  ``compile``, is one autograd node over the whole network
  (:meth:`AutoencoderModule.fused_reconstruction_loss`): autograd's loss and
  gradients, bit for bit, with less bookkeeping and memory traffic;
- otherwise (the VAE, sample weights, other activations, ...), on a CPU, a
  large batch runs forward and backward in chunks whose activations fit in a
  core's L2 cache, adding up the gradients before the one optimiser step
  (``CPU_CHUNK_BYTES``);
- small CPU batches train on one thread (:mod:`._threads`).

On a GPU two options pay for these small networks, whose steps are too short
to keep the device busy: bf16 autocast (``precision="bfloat16"``) and
``torch.compile`` with CUDA graphs (``compile=True``), which replays a whole
step without per-kernel launch overhead.
"""

import contextlib

import numpy as np
import torch
from sklearn import get_config
from skorch import NeuralNet
from skorch.callbacks import Callback, EarlyStopping, EpochTimer, PrintLog
from skorch.utils import noop

from ._losses import ReconstructionLoss
from ._threads import limit_torch_threads, training_threads

PRECISIONS = {"float32": None, "bfloat16": torch.bfloat16}

# On a CPU, a training batch is run forward and backward in chunks whose widest
# activation is at most this many bytes, so that each chunk's activations stay
# in a core's L2 cache (2 MiB on this project's Xeon) between the forward and
# backward passes; the gradients add up over the chunks, and the optimiser
# steps once per batch as before. Measured on the 64-128-64-8 autoencoder at
# batch 4096: 2048-row chunks (1 MiB at width 128) trained 2-11% faster than
# whole batches in four interleaved comparisons, 1024-row chunks 3% slower
# (benchmarks/results/throughput_notes.md). Layers wide enough to leave fewer
# than MIN_CHUNK_ROWS rows per chunk keep whole batches. That autoencoder now
# takes the fused loss (AutoencoderModule.fused_reconstruction_loss) on whole
# batches, which chunks did not speed up (2048-row chunks: 1.02x, 1024: 0.89x);
# the chunks serve the batches that the fused loss does not take.
CPU_CHUNK_BYTES = 2**20
MIN_CHUNK_ROWS = 1024


def autocast(device, precision):
    """Context in which forward passes run at ``precision`` on ``device``.

    ``"bfloat16"`` is mixed precision: matmuls run in bf16 while parameters,
    optimiser state and the loss reduction stay in float32.
    """
    dtype = PRECISIONS[precision]
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=dtype)


class TensorData(torch.utils.data.Dataset):
    """Rows of one tensor ``x``, with optional per-row weights ``weight``.

    skorch passes a ``Dataset`` through untouched, so ``x`` stays on its
    device for the whole fit. ``__getitem__`` exists for compatibility with
    code that expects a map-style dataset; the training path never calls it.
    """

    def __init__(self, x, weight=None):
        self.x = x
        self.weight = weight

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], (None if self.weight is None else self.weight[i])

    def subset(self, index):
        """The rows at ``index`` (a tensor of indices) as a new ``TensorData``."""
        weight = None if self.weight is None else self.weight.index_select(0, index)
        return TensorData(self.x.index_select(0, index), weight)


class TensorBatchIterator:
    """Iterate over ``(x, weight)`` batches of a :class:`TensorData` by slicing.

    With ``shuffle=True`` a new permutation is drawn at each pass, on the data's
    device and from torch's (forked, seeded) default generator, and each batch
    gathers the rows of one slice of it.
    """

    def __init__(self, dataset, batch_size, shuffle=False):
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle

    def __len__(self):
        return -(-len(self.dataset) // self.batch_size)

    def __iter__(self):
        x, weight = self.dataset.x, self.dataset.weight
        n = len(x)
        if self.shuffle:
            order = torch.randperm(n, device=x.device)
            for start in range(0, n, self.batch_size):
                index = order[start : start + self.batch_size]
                # index_select copies whole rows; on a CPU it gathers a
                # 4096-row batch 3 to 7 times faster than x[index].
                yield (
                    x.index_select(0, index),
                    None if weight is None else weight.index_select(0, index),
                )
        else:
            for start in range(0, n, self.batch_size):
                stop = start + self.batch_size
                yield x[start:stop], (None if weight is None else weight[start:stop])


def split_rows(n, fraction, seed):
    """``(train, valid)``: CPU index tensors of a random split of ``n`` rows.

    ``round(fraction * n)`` rows are held out, at least one and at most
    ``n - 1``. The permutation comes from a local generator seeded with
    ``seed``, so the split is reproducible and leaves global RNG state alone.
    """
    n_valid = min(max(1, int(round(fraction * n))), n - 1)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return order[n_valid:], order[:n_valid]


class RandomSplit:
    """skorch ``train_split``: hold out a random ``fraction`` of the rows (:func:`split_rows`)."""

    def __init__(self, fraction, seed):
        self.fraction = fraction
        self.seed = seed

    def __call__(self, dataset, y=None, **kwargs):
        train, valid = split_rows(len(dataset), self.fraction, self.seed)
        device = dataset.x.device
        return dataset.subset(train.to(device)), dataset.subset(valid.to(device))


class StopWhenNotImproving(EarlyStopping):
    """skorch's ``EarlyStopping`` that ignores the first ``start_epoch`` epochs.

    The VAE's objective changes during the KL warm-up, so improvement is only
    judged once the full objective is being optimised.
    """

    def __init__(self, *, start_epoch=0, **kwargs):
        super().__init__(**kwargs)
        self.start_epoch = start_epoch

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) > self.start_epoch:
            super().on_epoch_end(net, **kwargs)


class KLWarmup(Callback):
    """Raise the VAE's KL weight linearly from ``1 / n_epochs`` to 1.

    Starting with a small KL weight lets the decoder learn to use the code
    before the KL term can pull every posterior onto the prior (posterior
    collapse). The weight used in each epoch is recorded as ``kl_weight``.
    """

    def __init__(self, n_epochs):
        self.n_epochs = n_epochs

    def on_epoch_begin(self, net, **kwargs):
        epoch = len(net.history)
        weight = 1.0 if self.n_epochs == 0 else min(1.0, epoch / self.n_epochs)
        net.criterion_.kl_weight = weight
        net.history.record("kl_weight", weight)

    def on_train_end(self, net, **kwargs):
        net.criterion_.kl_weight = 1.0


def _overrides(callback, method):
    return getattr(type(callback), method) is not getattr(Callback, method)


class AutoencoderNet(NeuralNet):
    """skorch ``NeuralNet`` that trains an autoencoder on :class:`TensorData`.

    The criterion returns one loss per row; :meth:`get_loss` reduces it with
    the optional per-row weights. The target slot of each batch carries those
    weights, since the target of an autoencoder is its input. ``precision``
    (see :func:`autocast`) applies to the forward passes of training and
    validation.
    """

    def __init__(self, *args, precision="float32", **kwargs):
        super().__init__(*args, **kwargs)
        self.precision = precision

    @property
    def _default_callbacks(self):
        # The stock ``PassthroughScoring`` callbacks average per-batch history
        # entries; the lean epoch loop records the epoch losses directly.
        return [("epoch_timer", EpochTimer()), ("print_log", PrintLog())]

    def initialize_callbacks(self):
        super().initialize_callbacks()
        self._notify_batches = any(
            _overrides(cb, "on_batch_begin") or _overrides(cb, "on_batch_end")
            for _, cb in self.callbacks_
        )
        self._notify_grads = any(_overrides(cb, "on_grad_computed") for _, cb in self.callbacks_)
        return self

    def initialize_module(self):
        super().initialize_module()
        self._chunk_rows = None
        if torch.device(self.device).type == "cpu" and not self.compile:
            widest = max(
                (m.out_features for m in self.module_.modules() if isinstance(m, torch.nn.Linear)),
                default=1,
            )
            rows = CPU_CHUNK_BYTES // (4 * widest)
            # Layers so wide that a cache-sized chunk has too few rows keep
            # whole batches: the per-chunk overhead would cost more than the
            # cache saves.
            if rows >= MIN_CHUNK_ROWS:
                self._chunk_rows = rows
        return self

    def _set_training(self, training=True):
        # skorch calls this before every step, and nn.Module.train recurses
        # through every submodule: ~0.1 ms a step, 10% of a step of 256 rows
        # on a CPU. The mode only changes between training and validation.
        modules = [getattr(self, name + "_") for name in [*self._modules, *self._criteria]]
        if all(m.training == training for m in modules if isinstance(m, torch.nn.Module)):
            return
        super()._set_training(training)

    def torch_compile(self, module, name):
        # Only the network: the criterion is a few element-wise operations, and
        # the VAE's changes its kl_weight every warm-up epoch, which would make
        # a compiled criterion recompile each epoch.
        if name != "module":
            return module
        return super().torch_compile(module, name)

    def infer(self, x, **fit_params):
        with autocast(self.device, self.precision):
            if torch.is_tensor(x):
                # The batches are device tensors already: skip skorch's
                # to_tensor and Mapping checks, a few microseconds a step.
                return self.module_(x, **fit_params)
            return super().infer(x, **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        if y_true is None:
            # Unweighted: a criterion that can reduce the whole batch at once
            # saves the per-row reduction and its backward pass.
            batch_mean = getattr(self.criterion_, "batch_mean", None)
            if batch_mean is not None:
                return batch_mean(y_pred, X)
            return self.criterion_(y_pred, X).mean()
        per_sample = self.criterion_(y_pred, X)
        # Weights are scaled to mean 1 over the training data, so a plain mean
        # is the weighted mean over the epoch, and a batch whose rows all have
        # weight zero contributes zero rather than 0 / 0.
        return (per_sample * y_true).mean()

    def _fused_loss(self, x, weight, fit_params):
        # The autoencoder's unweighted loss as one autograd node, where the
        # module offers it (AutoencoderModule.fused_reconstruction_loss) and
        # nothing asks for the batch's predictions.
        if (
            weight is not None
            or fit_params
            or self.compile
            or self._notify_batches
            or self.precision != "float32"
            or type(self.criterion_) is not ReconstructionLoss
        ):
            return None
        fused = getattr(self.module_, "fused_reconstruction_loss", None)
        return None if fused is None else fused(x)

    def train_step_single(self, batch, **fit_params):
        # skorch's, without unpack_data and to_tensor: a batch is always the
        # (x, weight) pair of device tensors made by TensorBatchIterator.
        self._set_training(True)
        x, weight = batch
        loss = self._fused_loss(x, weight, fit_params)
        if loss is not None:
            loss.backward()
            return {"loss": loss, "y_pred": None}
        chunk = getattr(self, "_chunk_rows", None)
        n_rows = len(x)
        # Callbacks that see each batch get the whole batch's predictions.
        if chunk is None or n_rows <= chunk or self._notify_batches or x.device.type != "cpu":
            y_pred = self.infer(x, **fit_params)
            loss = self.get_loss(y_pred, weight, X=x, training=True)
            loss.backward()
            return {"loss": loss, "y_pred": y_pred}
        # Equal chunks, so no chunk is a sliver. The batch's mean loss is the
        # sum of each chunk's mean loss weighted by its share of the rows, and
        # backward accumulates the same gradients as for the whole batch.
        n_chunks = -(-n_rows // chunk)
        chunk = -(-n_rows // n_chunks)
        total = None
        for start in range(0, n_rows, chunk):
            x_chunk = x[start : start + chunk]
            w_chunk = None if weight is None else weight[start : start + chunk]
            y_pred = self.infer(x_chunk, **fit_params)
            loss = self.get_loss(y_pred, w_chunk, X=x_chunk, training=True)
            loss = loss * (len(x_chunk) / n_rows)
            loss.backward()
            total = loss.detach() if total is None else total + loss.detach()
        return {"loss": total, "y_pred": None}

    def train_step(self, batch, **fit_params):
        # One optimiser step without skorch's closure and step accumulator:
        # the optimiser is always first-order, so the closure is never re-run.
        self._zero_grad_optimizer(set_to_none=True)
        step = self.train_step_single(batch, **fit_params)
        if self._notify_grads:
            self.notify(
                "on_grad_computed",
                named_parameters=list(self.get_all_learnable_params()),
                batch=batch,
                training=True,
            )
        self._step_optimizer(None)
        return step

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        if iterator is None:
            return
        # The loss is summed on the device; one host sync per epoch.
        total = torch.zeros((), device=self.device)
        n_rows = 0
        n_batches = 0
        # With CUDA graphs (compile on CUDA), each training step is a new
        # iteration whose graph outputs may overwrite the previous step's.
        mark_steps = training and self.compile and torch.device(self.device).type == "cuda"
        for batch in iterator:
            if self._notify_batches:
                self.notify("on_batch_begin", batch=batch, training=training)
            if mark_steps:
                torch.compiler.cudagraph_mark_step_begin()
            step = step_fn(batch, **fit_params)
            size = len(batch[0])
            total.add_(step["loss"].detach(), alpha=size)
            n_rows += size
            n_batches += 1
            if self._notify_batches:
                self.notify("on_batch_end", batch=batch, training=training, **step)
        loss = (total / n_rows).item()
        if not np.isfinite(loss):
            unchecked = (
                " or NaN or infinity (unchecked under scikit-learn's assume_finite=True)"
                if get_config()["assume_finite"]
                else ""
            )
            raise ValueError(
                f"The {prefix} loss became non-finite ({loss}) in epoch {len(self.history)}: "
                f"training diverged. The input data may contain large values{unchecked} and "
                "need to be preprocessed (e.g. with StandardScaler), or learning_rate_init "
                "may be too large."
            )
        self.history.record(prefix + "_loss", loss)
        self.history.record(prefix + "_batch_count", n_batches)


def resolve_device(device):
    """Map ``"auto"`` to ``"cuda"`` when available, and check CUDA requests."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    device = str(device)
    try:
        torch.device(device)
    except RuntimeError:
        raise ValueError(
            f"device={device!r} is not a valid device; use 'auto', 'cpu', 'cuda' or 'cuda:N'."
        ) from None
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but CUDA is not available on this "
            "machine; use device='cpu' or device='auto'."
        )
    return device


def _fused_adam_supported(device):
    return torch.device(device).type in ("cpu", "cuda")


def build_net(
    *,
    module,
    module_params,
    criterion,
    criterion_params,
    max_iter,
    batch_size,
    learning_rate_init,
    alpha,
    early_stopping,
    validation_fraction,
    n_iter_no_change,
    tol,
    warmup_epochs,
    extra_callbacks,
    device,
    precision,
    compile,
    seed,
    verbose,
):
    """Build the skorch net that trains ``module`` with ``criterion``.

    ``extra_callbacks`` are the model's own (such as :class:`KLWarmup`) followed
    by the user's. Without early stopping, training stops once the training
    loss has not improved by ``tol`` for ``n_iter_no_change`` epochs, as in
    ``MLPRegressor``; with it, the same rule is applied to the validation loss
    and the best parameters are restored at the end.

    ``compile=True`` compiles the module and criterion for training with
    static shapes; on CUDA in ``"reduce-overhead"`` mode, which captures each
    step's kernels in a CUDA graph.
    """
    monitor = "valid_loss" if early_stopping else "train_loss"
    stopper = StopWhenNotImproving(
        monitor=monitor,
        patience=n_iter_no_change,
        threshold=tol,
        threshold_mode="abs",
        load_best=early_stopping,
        sink=print if verbose else noop,
        start_epoch=warmup_epochs,
    )
    optimizer_params = {"weight_decay": alpha}
    if _fused_adam_supported(device):
        optimizer_params["fused"] = True
    compile_params = {}
    if compile:
        compile_params = {"compile": True, "compile__dynamic": False}
        if torch.device(device).type == "cuda":
            compile_params["compile__mode"] = "reduce-overhead"
    return AutoencoderNet(
        module=module,
        criterion=criterion,
        optimizer=torch.optim.Adam,
        lr=learning_rate_init,
        max_epochs=max_iter,
        batch_size=batch_size,
        iterator_train=TensorBatchIterator,
        iterator_train__shuffle=True,
        iterator_valid=TensorBatchIterator,
        train_split=RandomSplit(validation_fraction, seed) if early_stopping else None,
        callbacks=[*extra_callbacks, ("stop_when_not_improving", stopper)],
        device=device,
        precision=precision,
        verbose=verbose,
        **compile_params,
        **{f"module__{k}": v for k, v in module_params.items()},
        **{f"criterion__{k}": v for k, v in criterion_params.items()},
        **{f"optimizer__{k}": v for k, v in optimizer_params.items()},
    )


def _flushing_denormals():
    # torch has no getter for the mode: a subnormal float32 times 1 is 0 when
    # denormals are flushed (DAZ/FTZ) and itself otherwise.
    return (torch.tensor([1e-39]) * 1.0).item() == 0.0


@contextlib.contextmanager
def flush_denormals(device):
    """On a CPU, treat subnormal floats as zero for the block, then restore the mode.

    With weight decay, the weights and Adam moments of dead ReLU units shrink
    into the subnormal range (below 1.2e-38) after a few thousand steps, and
    every matmul touching them then takes a slow microcode path: measured 2×
    slower epochs from the third epoch on (200,000 rows, batch 256). Values
    that small do not matter to training. The mode is per thread; it is set on
    the calling thread, which runs the whole step when training on one thread.
    """
    if torch.device(device).type != "cpu" or _flushing_denormals():
        yield
        return
    if not torch.set_flush_denormal(True):  # not supported on this CPU
        yield
        return
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


def _uncompile(net):
    """Put the eager modules back in ``net`` after a compiled fit.

    Compiled modules hold code objects and, on CUDA, graph pools that neither
    pickle nor move between devices; the eager module shares their parameters.
    """
    for name in [*net._modules, *net._criteria]:
        module = getattr(net, name + "_", None)
        if isinstance(module, torch._dynamo.eval_frame.OptimizedModule):
            setattr(net, name + "_", module._orig_mod)


def fit_net(net, x, weight, seed, init_module=None):
    """Initialise and train ``net`` on tensor ``x`` with torch's RNG forked.

    ``init_module``, if given, is called with the freshly initialised module
    before training (``init="pca"``).

    Parameter initialisation, shuffling, dropout and the VAE's reparameterised
    draws all use torch's default generator, seeded here with ``seed`` inside
    ``torch.random.fork_rng`` so the caller's global RNG state is restored.
    Torch's thread count is capped for small CPU batches and subnormal floats
    are flushed to zero on the CPU (:func:`flush_denormals`); both are restored.
    """
    device = torch.device(net.device)
    devices = [device.index or 0] if device.type == "cuda" else []
    threads = training_threads(net.batch_size, device)
    with (
        limit_torch_threads(threads),
        flush_denormals(device),
        torch.random.fork_rng(devices=devices),
    ):
        # Seed only what this fit uses: torch.manual_seed would also reseed
        # every CUDA device, outside what fork_rng restores.
        torch.random.default_generator.manual_seed(seed)
        if device.type == "cuda":
            with torch.cuda.device(device):
                torch.cuda.manual_seed(seed)
        try:
            # NeuralNet.fit is initialize() followed by partial_fit().
            net.initialize()
            if init_module is not None:
                init_module(getattr(net.module_, "_orig_mod", net.module_))
            net.partial_fit(TensorData(x, weight), None)
        finally:
            if net.compile:
                _uncompile(net)
    return net
