"""Training glue: the one place where a skorch ``NeuralNet`` is built and configured.

skorch stays the engine (callbacks, history, device handling, persistence), but
its stock data path fetches and collates one row at a time, which costs about as
much as a whole training step of these small MLPs. Here instead:

- the data is one float32 tensor, moved to the device once (:class:`TensorData`);
- batches are slices of a fresh permutation, made on the device
  (:class:`TensorBatchIterator`), with no ``DataLoader`` and no collate;
- the epoch loop keeps the loss on the device and syncs once per epoch, and
  notifies per-batch callbacks only when one is listening (:class:`AutoencoderNet`);
- the validation split is held out only when early stopping asks for it.
"""

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback, EarlyStopping, EpochTimer, PrintLog
from skorch.utils import noop


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
        weight = None if self.weight is None else self.weight[index]
        return TensorData(self.x[index], weight)


class TensorBatchIterator:
    """Iterate over ``(x, weight)`` batches of a :class:`TensorData` by slicing.

    With ``shuffle=True`` a new permutation is drawn at each pass, on the data's
    device and from torch's (forked, seeded) default generator.
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
                yield x[index], (None if weight is None else weight[index])
        else:
            for start in range(0, n, self.batch_size):
                stop = start + self.batch_size
                yield x[start:stop], (None if weight is None else weight[start:stop])


class RandomSplit:
    """skorch ``train_split``: hold out a random ``fraction`` of the rows.

    The permutation comes from a local generator seeded with ``seed``, so the
    split is reproducible and leaves global RNG state alone.
    """

    def __init__(self, fraction, seed):
        self.fraction = fraction
        self.seed = seed

    def __call__(self, dataset, y=None, **kwargs):
        n = len(dataset)
        n_valid = min(max(1, int(round(self.fraction * n))), n - 1)
        generator = torch.Generator().manual_seed(self.seed)
        order = torch.randperm(n, generator=generator).to(dataset.x.device)
        return dataset.subset(order[n_valid:]), dataset.subset(order[:n_valid])


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
    weights, since the target of an autoencoder is its input.
    """

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

    def get_loss(self, y_pred, y_true, X=None, training=False):
        per_sample = self.criterion_(y_pred, X)
        if y_true is None:
            return per_sample.mean()
        return (per_sample * y_true).sum() / y_true.sum()

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
        for batch in iterator:
            if self._notify_batches:
                self.notify("on_batch_begin", batch=batch, training=training)
            step = step_fn(batch, **fit_params)
            size = len(batch[0])
            total += step["loss"].detach() * size
            n_rows += size
            n_batches += 1
            if self._notify_batches:
                self.notify("on_batch_end", batch=batch, training=training, **step)
        loss = (total / n_rows).item()
        if not np.isfinite(loss):
            raise ValueError(
                f"The {prefix} loss became non-finite ({loss}) in epoch {len(self.history)}: "
                "training diverged. The input data may contain large values and need "
                "to be preprocessed (e.g. with StandardScaler), or learning_rate_init "
                "may be too large."
            )
        self.history.record(prefix + "_loss", loss)
        self.history.record(prefix + "_batch_count", n_batches)


def resolve_device(device):
    """Map ``"auto"`` to ``"cuda"`` when available, and check CUDA requests."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    device = str(device)
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
    seed,
    verbose,
):
    """Build the skorch net that trains ``module`` with ``criterion``.

    ``extra_callbacks`` are the model's own (such as :class:`KLWarmup`) followed
    by the user's. Without early stopping, training stops once the training
    loss has not improved by ``tol`` for ``n_iter_no_change`` epochs, as in
    ``MLPRegressor``; with it, the same rule is applied to the validation loss
    and the best parameters are restored at the end.
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
        verbose=verbose,
        **{f"module__{k}": v for k, v in module_params.items()},
        **{f"criterion__{k}": v for k, v in criterion_params.items()},
        **{f"optimizer__{k}": v for k, v in optimizer_params.items()},
    )


def fit_net(net, x, weight, seed):
    """Initialise and train ``net`` on tensor ``x`` with torch's RNG forked.

    Parameter initialisation, shuffling, dropout and the VAE's reparameterised
    draws all use torch's default generator, seeded here with ``seed`` inside
    ``torch.random.fork_rng`` so the caller's global RNG state is restored.
    """
    device = torch.device(net.device)
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        net.fit(TensorData(x, weight), None)
    return net
