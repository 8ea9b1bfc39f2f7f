"""Training glue: the one place where a skorch ``NeuralNet`` is built and configured.

skorch stays the engine (callbacks, history, device handling, persistence).
The estimators describe a fit with one :class:`TrainingConfig`;
:func:`build_net` turns it into an :class:`AutoencoderNet` and :func:`fit_net`
trains it on one :class:`~skaevae.nn._batch.Batch` of device tensors, with
torch's RNG forked and seeded. The data path is in :mod:`._data`, the
callbacks the estimators add in :mod:`._callbacks`, and every speed-only
trick behind :mod:`._fast`, which this module and inference enter through
:func:`fast_training` and :func:`fast_inference` only.

On a GPU two options pay for these small networks, whose steps are too short
to keep the device busy: bf16 autocast (``precision="bfloat16"``) and
``torch.compile`` with CUDA graphs (``compile=True``), which replays a whole
step without per-kernel launch overhead.
"""

import contextlib
import signal
import threading
from dataclasses import dataclass, field

import numpy as np
import torch
from sklearn import get_config
from skorch import NeuralNet
from skorch.callbacks import Callback, EpochTimer, PrintLog
from skorch.utils import noop

from ..nn._batch import Batch
from ._callbacks import EpochProgressBar, StopWhenNotImproving
from ._data import RandomSplit, TensorBatchIterator, TensorData

try:
    from . import _fast
except ModuleNotFoundError as error:  # pragma: no cover - the plain path is complete without it
    if error.name != f"{__package__}._fast":
        raise
    _fast = None

PRECISIONS = {"float32": None, "bfloat16": torch.bfloat16}


def fast_training(net):
    """Context of one fit through :mod:`._fast`; yields its fast step, or None."""
    if _fast is None:
        return contextlib.nullcontext()
    return _fast.training(net)


def fast_inference(device, n_rows):
    """Context of an inference call on ``n_rows`` rows through :mod:`._fast`."""
    if _fast is None:
        return contextlib.nullcontext()
    return _fast.inference(device, n_rows)


def autocast(device, precision):
    """Context in which forward passes run at ``precision`` on ``device``.

    ``"bfloat16"`` is mixed precision: matmuls run in bf16 while parameters,
    optimiser state and the loss reduction stay in float32.
    """
    dtype = PRECISIONS[precision]
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=dtype)


class _SigintWatch:
    """Records whether a real SIGINT (Ctrl-C) arrived while it was entered.

    skorch's callbacks stop training by raising ``KeyboardInterrupt``
    (``EarlyStopping`` does), which skorch's loop swallows, and so it also
    swallows Ctrl-C. The watch tells the two apart: in the main thread, where
    Python delivers signals, it wraps the installed SIGINT handler to set
    ``received`` before the handler raises. In other threads no signal can
    arrive, so a ``KeyboardInterrupt`` there is a callback's.
    """

    received = False

    def __enter__(self):
        self._previous = None
        if threading.current_thread() is not threading.main_thread():
            return self
        previous = signal.getsignal(signal.SIGINT)
        if not callable(previous):
            # SIG_IGN or SIG_DFL: Ctrl-C then raises nothing in Python.
            return self

        def handler(signum, frame):
            # Only a handler that raises interrupts: one that returns (a
            # "graceful stop" handler) asked for no KeyboardInterrupt.
            try:
                previous(signum, frame)
            except KeyboardInterrupt:
                self.received = True
                raise

        try:
            signal.signal(signal.SIGINT, handler)
        except ValueError:  # pragma: no cover - not the main interpreter
            return self
        self._previous = previous
        return self

    def __exit__(self, *exc_info):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False


def _overrides(callback, method):
    return getattr(type(callback), method) is not getattr(Callback, method)


class AutoencoderNet(NeuralNet):
    """skorch ``NeuralNet`` that trains an autoencoder on :class:`~skaevae.train._data.TensorData`.

    Each batch is skorch's ``(X, y)`` pair with ``X`` a
    :class:`~skaevae.nn._batch.Batch` and ``y`` None. The module is called as
    ``module(batch)``, the criterion as ``criterion(output, batch)`` and
    returns one loss per row; :meth:`get_loss` reduces it with the batch's
    per-row weights. ``precision`` (see :func:`autocast`) applies to the
    forward passes of training and validation. The epoch loop keeps the loss
    on the device and syncs once per epoch, and notifies per-batch callbacks
    only when one is listening.
    """

    # The fast step of the fit in progress (set by fit_net), tried before the plain one.
    fast_step_ = None

    def __init__(self, *args, precision="float32", **kwargs):
        super().__init__(*args, **kwargs)
        self.precision = precision

    @property
    def _default_callbacks(self):
        # The stock ``PassthroughScoring`` callbacks average per-batch history
        # entries; the epoch loop records the epoch losses directly. PrintLog
        # formats a table every epoch even when it prints nothing, so it is
        # there only with ``verbose``.
        callbacks = [("epoch_timer", EpochTimer())]
        if self.verbose:
            callbacks.append(("print_log", PrintLog()))
        return callbacks

    def initialize_callbacks(self):
        super().initialize_callbacks()
        self.notifies_batches_ = any(
            _overrides(cb, "on_batch_begin") or _overrides(cb, "on_batch_end")
            for _, cb in self.callbacks_
        )
        self.notifies_grads_ = any(_overrides(cb, "on_grad_computed") for _, cb in self.callbacks_)
        return self

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        # skorch's partial_fit, except that Ctrl-C propagates: skorch swallows
        # every KeyboardInterrupt, the one its callbacks raise to stop
        # training and the user's alike. on_train_end runs either way (it
        # resets the VAE's KL weight).
        if not self.initialized_:
            self.initialize()
        self.notify("on_train_begin", X=X, y=y)
        try:
            with _SigintWatch() as sigint:
                try:
                    self.fit_loop(X, y, **fit_params)
                except KeyboardInterrupt:
                    if sigint.received:
                        raise
        finally:
            self.notify("on_train_end", X=X, y=y)
        return self

    def _set_training(self, training=True):
        # skorch calls this before every step, and nn.Module.train recurses
        # through every submodule; the mode only changes between training and
        # validation.
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
        # The eager module shares the compiled one's parameters; it is put
        # back after the fit (_uncompile). A dict, which skorch does not
        # register as one of the net's modules.
        self.eager_modules_ = {name: module}
        return super().torch_compile(module, name)

    def infer(self, x, **fit_params):
        if torch.is_tensor(x):
            x = Batch(x)
        with autocast(self.device, self.precision):
            return self.module_(x, **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        batch = X
        if batch.weight is None:
            # Unweighted: a criterion that can reduce the whole batch at once
            # saves the per-row reduction and its backward pass.
            batch_mean = getattr(self.criterion_, "batch_mean", None)
            if batch_mean is not None:
                return batch_mean(y_pred, batch)
            return self.criterion_(y_pred, batch).mean()
        per_sample = self.criterion_(y_pred, batch)
        # Weights are scaled to mean 1 over the training data, so a plain mean
        # is the weighted mean over the epoch, and a batch whose rows all have
        # weight zero contributes zero rather than 0 / 0.
        return (per_sample * batch.weight).mean()

    def train_step_single(self, batch, **fit_params):
        # skorch's step (infer, get_loss, backward) on the Batch in X's slot,
        # after the fast step of the fit, where it applies.
        self._set_training(True)
        record, _ = batch
        if self.fast_step_ is not None:
            step = self.fast_step_(record, **fit_params)
            if step is not None:
                return step
        y_pred = self.infer(record, **fit_params)
        loss = self.get_loss(y_pred, None, X=record, training=True)
        loss.backward()
        return {"loss": loss, "y_pred": y_pred}

    def train_step(self, batch, **fit_params):
        # One optimiser step without skorch's closure and step accumulator:
        # the optimiser is always first-order, so the closure is never re-run.
        self._zero_grad_optimizer(set_to_none=True)
        step = self.train_step_single(batch, **fit_params)
        if self.notifies_grads_:
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
            if self.notifies_batches_:
                self.notify("on_batch_begin", batch=batch, training=training)
            if mark_steps:
                torch.compiler.cudagraph_mark_step_begin()
            step = step_fn(batch, **fit_params)
            size = len(batch[0])
            total.add_(step["loss"].detach(), alpha=size)
            n_rows += size
            n_batches += 1
            if self.notifies_batches_:
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


@dataclass
class TrainingConfig:
    """How one fit trains: the estimator's training parameters, resolved.

    ``device`` is a resolved device string (see :func:`~skaevae.utils._budget.resolve_device`),
    ``batch_size`` an int, ``seed`` the int32 seed of torch's generator for
    the fit, ``warmup_epochs`` the epochs before stopping may start, and
    ``callbacks`` the model's own callbacks followed by the user's, and
    ``progress_bar`` whether a bar shows the epochs.
    """

    max_iter: int
    batch_size: int
    learning_rate_init: float
    alpha: float
    early_stopping: bool
    validation_fraction: float
    n_iter_no_change: int
    tol: float
    device: str
    precision: str
    compile: bool
    seed: int
    verbose: int
    warmup_epochs: int = 0
    progress_bar: bool = False
    callbacks: list = field(default_factory=list)


def build_net(module, module_params, criterion, criterion_params, config):
    """Build the skorch net that trains ``module`` with ``criterion`` as ``config`` says.

    Without early stopping, training stops once the training loss has not
    improved by ``tol`` for ``n_iter_no_change`` epochs, as in
    ``MLPRegressor``; with it, the same rule is applied to the validation
    loss and the best parameters are restored at the end.

    ``compile=True`` compiles the module for training with static shapes;
    on CUDA in ``"reduce-overhead"`` mode, which captures each step's kernels
    in a CUDA graph.
    """
    stopper = StopWhenNotImproving(
        monitor="valid_loss" if config.early_stopping else "train_loss",
        patience=config.n_iter_no_change,
        threshold=config.tol,
        threshold_mode="abs",
        load_best=config.early_stopping,
        sink=print if config.verbose else noop,
        start_epoch=config.warmup_epochs,
    )
    device_type = torch.device(config.device).type
    optimizer_params = {"weight_decay": config.alpha}
    if device_type in ("cpu", "cuda"):
        optimizer_params["fused"] = True
    compile_params = {}
    if config.compile:
        compile_params = {"compile": True, "compile__dynamic": False}
        if device_type == "cuda":
            compile_params["compile__mode"] = "reduce-overhead"
    train_split = None
    if config.early_stopping:
        train_split = RandomSplit(config.validation_fraction, config.seed)
    return AutoencoderNet(
        module=module,
        criterion=criterion,
        optimizer=torch.optim.Adam,
        lr=config.learning_rate_init,
        max_epochs=config.max_iter,
        batch_size=config.batch_size,
        iterator_train=TensorBatchIterator,
        iterator_train__shuffle=True,
        iterator_valid=TensorBatchIterator,
        train_split=train_split,
        # The bar before the stopper, whose stop skips the callbacks after it.
        callbacks=[
            *config.callbacks,
            ("progress_bar", EpochProgressBar(config.max_iter, active=config.progress_bar)),
            ("stop_when_not_improving", stopper),
        ],
        device=config.device,
        precision=config.precision,
        verbose=config.verbose,
        **compile_params,
        **{f"module__{k}": v for k, v in module_params.items()},
        **{f"criterion__{k}": v for k, v in criterion_params.items()},
        **{f"optimizer__{k}": v for k, v in optimizer_params.items()},
    )


def _uncompile(net):
    """Put the eager module back in ``net`` after a compiled fit.

    Compiled modules hold code objects and, on CUDA, graph pools that neither
    pickle nor move between devices; the eager module shares their parameters.
    """
    for name, module in net.__dict__.pop("eager_modules_", {}).items():
        setattr(net, name + "_", module)


# torch's default generator is one per process: fits that seed and draw from
# it run one at a time, so that a fit in a thread draws exactly what it would
# draw alone, and each fork_rng restores the state its caller had.
_GLOBAL_RNG_LOCK = threading.RLock()


def fit_net(net, batch, seed, init_module=None, epochs=None):
    """Initialise and train ``net`` on ``batch`` (device tensors) with torch's RNG forked.

    ``init_module``, if given, is called with the freshly initialised module
    before training (``init="pca"``). With ``epochs``, ``net`` is already
    trained and continues for that many epochs, without being initialised.

    Parameter initialisation, shuffling, dropout, corruption and the VAE's
    reparameterised draws all use torch's default generator (a module's
    layers and a user's networks know no other), seeded here with ``seed``
    inside ``torch.random.fork_rng`` so the caller's global RNG state is
    restored. Fits in threads of one process take turns (a lock), since they
    share that generator.
    """
    device = torch.device(net.device)
    devices = [device.index or 0] if device.type == "cuda" else []
    with (
        _GLOBAL_RNG_LOCK,
        fast_training(net) as fast_step,
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
            if epochs is None:
                net.initialize()
                if init_module is not None:
                    init_module(getattr(net, "eager_modules_", {}).get("module", net.module_))
            net.fast_step_ = fast_step
            net.partial_fit(TensorData(batch), None, epochs=epochs)
        finally:
            net.fast_step_ = None
            if net.compile:
                _uncompile(net)
    return net


def resume_net(
    net,
    *,
    batch_size,
    train_split,
    incremental,
    early_stopping,
    n_iter_no_change,
    tol,
    start_epoch,
    learning_rate_init,
    alpha,
    epochs,
    progress_bar=False,
):
    """Set a fitted ``net``'s training parameters for another call of ``epochs`` epochs.

    The module and optimiser state carry over; the step size, weight decay,
    batch size, validation split and stopping rule are this call's. An
    ``incremental`` call (``partial_fit``) neither holds rows out nor stops
    early.
    """
    net.batch_size = batch_size
    net.train_split = train_split
    stopper = dict(net.callbacks_)["stop_when_not_improving"]
    stopper.active = not incremental
    stopper.monitor = "valid_loss" if early_stopping else "train_loss"
    stopper.load_best = early_stopping
    stopper.patience = n_iter_no_change
    stopper.threshold = tol
    stopper.start_epoch = start_epoch
    bar = dict(net.callbacks_)["progress_bar"]
    bar.total = epochs
    bar.active = progress_bar
    for group in net.optimizer_.param_groups:
        group["lr"] = learning_rate_init
        group["weight_decay"] = alpha


def history_attributes(net, early_stopping, n_before=0):
    """The estimator's fitted attributes of ``net``'s training history, by name.

    ``n_iter_`` and ``loss_curve_`` cover every call so far; with early
    stopping, the validation curve is of this call's epochs (those after
    ``n_before``), and ``best_validation_loss_`` is the loss of the epoch
    whose parameters early stopping restored: the last one that improved by
    at least ``tol`` after the warm-up (else the last).
    """
    history = net.history
    attributes = {
        "n_iter_": len(history),
        "loss_curve_": [float(v) for v in history[:, "train_loss"]],
    }
    if early_stopping:
        best_epoch = dict(net.callbacks_)["stop_when_not_improving"].best_epoch_
        if best_epoch <= n_before:
            best_epoch = len(history)
        attributes.update(
            validation_loss_curve_=[float(v) for v in history[n_before:, "valid_loss"]],
            best_loss_=None,
            best_validation_loss_=float(history[best_epoch - 1, "valid_loss"]),
        )
    else:
        attributes.update(
            validation_loss_curve_=None,
            best_loss_=min(attributes["loss_curve_"]),
            best_validation_loss_=None,
        )
    return attributes
