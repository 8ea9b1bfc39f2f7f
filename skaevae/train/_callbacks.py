"""The skorch callbacks the estimators add themselves: stopping, the KL warm-up, a progress bar."""

from skorch.callbacks import Callback, EarlyStopping


class StopWhenNotImproving(EarlyStopping):
    """skorch's ``EarlyStopping`` that ignores the first ``start_epoch`` epochs.

    The VAE's objective changes during the KL warm-up, so improvement is only
    judged once the full objective is being optimised.
    """

    def __init__(self, *, start_epoch=0, **kwargs):
        super().__init__(**kwargs)
        self.start_epoch = start_epoch

    # partial_fit switches the rule off: one epoch per call, nothing to restore.
    active = True

    def on_train_begin(self, net, **kwargs):
        if self.active:
            super().on_train_begin(net, **kwargs)

    def on_epoch_end(self, net, **kwargs):
        if self.active and len(net.history) > self.start_epoch:
            super().on_epoch_end(net, **kwargs)

    def on_train_end(self, net, **kwargs):
        if self.active:
            super().on_train_end(net, **kwargs)


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


def import_tqdm():
    """tqdm's bar class (the notebook widget in Jupyter), or an ImportError naming the extra."""
    try:
        from tqdm.auto import tqdm
    except ImportError as error:
        raise ImportError(
            'progress_bar=True needs tqdm: pip install "skaevae[progress]" (or pip install tqdm).'
        ) from error
    return tqdm


class EpochProgressBar(Callback):
    """A tqdm bar that advances once per epoch, showing the epoch's losses.

    skorch's ``ProgressBar`` counts the batches within an epoch; a fit of a
    small network is many short epochs, so this bar counts epochs, up to
    ``total`` (the call's most epochs, from which tqdm estimates the time
    left; early stopping ends the bar sooner). It is in every net and draws
    only while ``active``, which each call sets, so it can be switched on and
    off between ``partial_fit`` calls. The bar exists only during a call:
    nothing of it is stored with the model, and it draws nothing from any
    random generator.
    """

    def __init__(self, total, *, active=False):
        self.total = total
        self.active = active

    bar_ = None

    def on_train_begin(self, net, **kwargs):
        self.bar_ = None
        if self.active:
            tqdm = import_tqdm()
            self.bar_ = tqdm(total=self.total, unit="epoch", dynamic_ncols=True)

    def on_epoch_end(self, net, **kwargs):
        if self.bar_ is None:
            return
        entry = net.history[-1]
        losses = {
            name: f"{entry[name]:.4g}" for name in ("train_loss", "valid_loss") if name in entry
        }
        self.bar_.set_postfix(losses, refresh=False)
        self.bar_.update(1)

    def on_train_end(self, net, **kwargs):
        if self.bar_ is not None:
            self.bar_.close()
        self.bar_ = None
