"""The skorch callbacks the estimators add themselves: stopping and the KL warm-up."""

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
