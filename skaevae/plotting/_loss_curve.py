"""LossCurveDisplay: training and validation loss per epoch."""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ..models._autoencoder import AutoencoderTransformer
from ..models._vae import VAETransformer
from ._utils import estimator_name, final_estimator, import_pyplot


class LossCurveDisplay:
    """Training (and validation) loss per epoch of a fitted autoencoder.

    It is recommended to use :meth:`from_estimator` to create a display.

    Parameters
    ----------
    loss_curve : array-like of shape (n_epochs,)
        Training loss per epoch, as in ``loss_curve_``.

    validation_loss_curve : array-like of shape (n_epochs,), default=None
        Validation loss per epoch, as in ``validation_loss_curve_``.

    warmup_epochs : int, default=0
        Number of KL warm-up epochs (``kl_warmup`` of a
        :class:`~skaevae.VAETransformer`). Epochs 1 to ``warmup_epochs - 1``
        are shaded: their training loss uses a KL weight below one, so it is
        not comparable with later epochs.

    ylabel : str, default="loss"
        Label of the y axis.

    estimator_name : str, default=None
        Title of the plot.

    Attributes
    ----------
    line_ : matplotlib Line2D
        The training loss.

    validation_line_ : matplotlib Line2D or None
        The validation loss, when given.

    warmup_span_ : matplotlib Rectangle or None
        The shaded warm-up epochs, when ``warmup_epochs > 1``.

    ax_ : matplotlib Axes
        Axes with the plot.

    figure_ : matplotlib Figure
        Figure containing the plot.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skaevae import AutoencoderTransformer
    >>> from skaevae.plotting import LossCurveDisplay
    >>> X = StandardScaler().fit_transform(load_digits().data)
    >>> ae = AutoencoderTransformer(max_iter=5, early_stopping=True, random_state=0).fit(X)
    >>> display = LossCurveDisplay.from_estimator(ae)
    >>> display.line_.get_xdata()
    array([1, 2, 3, 4, 5])
    >>> display.validation_line_ is not None
    True
    """

    def __init__(
        self,
        loss_curve,
        validation_loss_curve=None,
        *,
        warmup_epochs=0,
        ylabel="loss",
        estimator_name=None,
    ):
        self.loss_curve = loss_curve
        self.validation_loss_curve = validation_loss_curve
        self.warmup_epochs = warmup_epochs
        self.ylabel = ylabel
        self.estimator_name = estimator_name

    def plot(self, ax=None, *, name=None):
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; ``None`` makes a new figure.

        name : str, default=None
            Prefix of the curves' legend labels; the display's
            ``estimator_name`` by default.

        Returns
        -------
        display : LossCurveDisplay
            The display, with the artists stored.
        """
        plt = import_pyplot("LossCurveDisplay.plot")
        if ax is None:
            _, ax = plt.subplots(figsize=(5, 3.5), layout="constrained")
        name = self.estimator_name if name is None else name
        prefix = f"{name}: " if name else ""
        epochs = np.arange(1, len(self.loss_curve) + 1)

        self.warmup_span_ = None
        # Epoch k of the warm-up uses the KL weight k / warmup_epochs, so
        # epochs 1 to warmup_epochs - 1 optimise a reduced objective.
        if self.warmup_epochs > 1:
            self.warmup_span_ = ax.axvspan(
                0.5,
                min(self.warmup_epochs - 1, len(epochs)) + 0.5,
                color="0.9",
                label="KL warm-up",
            )
        (self.line_,) = ax.plot(epochs, self.loss_curve, label=f"{prefix}training")
        self.validation_line_ = None
        if self.validation_loss_curve is not None:
            (self.validation_line_,) = ax.plot(
                epochs, self.validation_loss_curve, label=f"{prefix}validation"
            )
        ax.set_xlabel("epoch")
        ax.set_ylabel(self.ylabel)
        ax.legend(fontsize="small")
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_estimator(cls, estimator, *, ax=None, name=None):
        """Plot the loss curves of a fitted autoencoder.

        Parameters
        ----------
        estimator : fitted AutoencoderTransformer or VAETransformer
            Or a pipeline ending in one.

        ax : matplotlib Axes, default=None
            Axes to draw on; ``None`` makes a new figure.

        name : str, default=None
            Prefix of the legend labels; the estimator's class name by
            default.

        Returns
        -------
        display : LossCurveDisplay
            The display, with the artists stored.
        """
        import_pyplot("LossCurveDisplay.from_estimator")
        model = final_estimator(estimator)
        check_is_fitted(model)
        if not hasattr(model, "loss_curve_"):
            raise TypeError(
                "LossCurveDisplay.from_estimator needs an estimator trained in epochs, "
                f"with a loss_curve_ (such as AutoencoderTransformer); "
                f"{type(model).__name__} has none."
            )
        if isinstance(model, VAETransformer):
            warmup, ylabel = model.kl_warmup, "negative ELBO (nats per row)"
        elif isinstance(model, AutoencoderTransformer):
            warmup, ylabel = 0, "mean squared error"
        else:
            warmup, ylabel = 0, "loss"
        display = cls(
            model.loss_curve_,
            model.validation_loss_curve_,
            warmup_epochs=warmup,
            ylabel=ylabel,
            estimator_name=estimator_name(estimator),
        )
        return display.plot(ax=ax, name=name)
