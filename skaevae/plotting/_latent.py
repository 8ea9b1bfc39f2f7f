"""LatentSpaceDisplay: the codes of X in two dimensions."""

import numpy as np
from sklearn.decomposition import PCA

from ..models._vae import VAETransformer
from ._utils import as_array, estimator_name, final_estimator, import_pyplot

# Colour labels with one colour per class up to this many distinct values;
# beyond it (or for float labels) use a continuous colour map and a colour bar.
MAX_CATEGORIES = 20


class LatentSpaceDisplay:
    """Scatter plot of latent codes in two dimensions.

    Codes wider than two are projected on their first two principal
    components. For a :class:`~skaevae.VAETransformer`, the contours of the
    prior N(0, I) are drawn as well. The plotted codes are posterior means
    (``transform``), which are centred but narrower than the prior: it is the
    draws from q(z | x), not their means, that the KL term fits to N(0, I).

    It is recommended to use :meth:`from_estimator` to create a display; the
    constructor takes precomputed 2-D points.

    Parameters
    ----------
    points : ndarray of shape (n_samples, 2)
        The plotted points: the codes, or their 2-D projection.

    labels : array-like of shape (n_samples,), default=None
        Colour of each point: class labels (one colour per class) or numbers
        (a colour map). ``None`` draws every point in one colour.

    prior_loc : ndarray of shape (2,), default=None
        Centre of the prior N(0, I) in the plotted coordinates, where its
        contours are drawn; ``None`` draws no prior.

    projection : PCA or None, default=None
        The fitted projection from codes to ``points``, if any.

    axis_labels : tuple of str, default=("latent 1", "latent 2")
        Labels of the x and y axes.

    estimator_name : str, default=None
        Title of the plot.

    Attributes
    ----------
    scatter_ : matplotlib PathCollection
        The points.

    prior_lines_ : list of matplotlib Line2D
        The prior's contours, one per level; empty without a prior.

    colorbar_ : matplotlib Colorbar or None
        The colour bar, for numeric labels.

    legend_ : matplotlib Legend or None
        The legend of classes and prior contours.

    ax_ : matplotlib Axes
        Axes with the plot.

    figure_ : matplotlib Figure
        Figure containing the plot.

    See Also
    --------
    ReconstructionDisplay : Originals above their reconstructions.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skaevae import VAETransformer
    >>> from skaevae.plotting import LatentSpaceDisplay
    >>> X, y = load_digits(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> vae = VAETransformer(n_components=2, hidden_layer_sizes=(32,), max_iter=5, random_state=0)
    >>> vae = vae.fit(X)
    >>> display = LatentSpaceDisplay.from_estimator(vae, X, y)
    >>> display.scatter_.get_offsets().shape
    (1797, 2)
    >>> len(display.prior_lines_)
    3
    """

    def __init__(
        self,
        points,
        *,
        labels=None,
        prior_loc=None,
        projection=None,
        axis_labels=("latent 1", "latent 2"),
        estimator_name=None,
    ):
        self.points = points
        self.labels = labels
        self.prior_loc = prior_loc
        self.projection = projection
        self.axis_labels = axis_labels
        self.estimator_name = estimator_name

    def plot(self, ax=None, *, prior_levels=(1, 2, 3), scatter_kwargs=None):
        """Draw the codes.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; ``None`` makes a new figure.

        prior_levels : tuple of float, default=(1, 2, 3)
            Radii, in prior standard deviations, of the prior's contours.
            For N(0, I) in two dimensions, the circle of radius ``r`` holds a
            fraction ``1 - exp(-r²/2)`` of the mass (39%, 86% and 99% for 1, 2
            and 3).

        scatter_kwargs : dict, default=None
            Keyword arguments of :meth:`matplotlib.axes.Axes.scatter`.

        Returns
        -------
        display : LatentSpaceDisplay
            The display, with the artists stored.
        """
        plt = import_pyplot("LatentSpaceDisplay.plot")
        from matplotlib.lines import Line2D

        if ax is None:
            _, ax = plt.subplots(figsize=(5.5, 4.5), layout="constrained")
        points = np.asarray(self.points, dtype=float)
        kwargs = {"s": 6, "alpha": 0.7, "linewidths": 0, **(scatter_kwargs or {})}

        self.colorbar_ = None
        self.legend_ = None
        handles = []
        if self.labels is None:
            self.scatter_ = ax.scatter(points[:, 0], points[:, 1], **kwargs)
        else:
            labels = np.asarray(self.labels)
            classes, codes = np.unique(labels, return_inverse=True)
            categorical = labels.dtype.kind not in "fc" and len(classes) <= MAX_CATEGORIES
            if categorical:
                cmap = "tab10" if len(classes) <= 10 else "tab20"
                kwargs = {"cmap": cmap, "vmin": -0.5, "vmax": len(classes) - 0.5, **kwargs}
                self.scatter_ = ax.scatter(points[:, 0], points[:, 1], c=codes, **kwargs)
                colours = self.scatter_.cmap(self.scatter_.norm(np.arange(len(classes))))
                # Proxy artists for the legend, not added to the axes.
                handles = [
                    Line2D([], [], marker="o", linestyle="", color=colour, label=str(name))
                    for name, colour in zip(classes, colours, strict=True)
                ]
            else:
                kwargs = {"cmap": "viridis", **kwargs}
                self.scatter_ = ax.scatter(points[:, 0], points[:, 1], c=labels, **kwargs)
                self.colorbar_ = ax.figure.colorbar(self.scatter_, ax=ax)

        self.prior_lines_ = []
        if self.prior_loc is not None:
            angle = np.linspace(0.0, 2.0 * np.pi, 200)
            for i, radius in enumerate(prior_levels):
                (line,) = ax.plot(
                    self.prior_loc[0] + radius * np.cos(angle),
                    self.prior_loc[1] + radius * np.sin(angle),
                    color="black",
                    linestyle="--",
                    linewidth=0.8,
                    label="prior N(0, I)" if i == 0 else None,
                )
                self.prior_lines_.append(line)
            handles.append(self.prior_lines_[0])
        if handles:
            self.legend_ = ax.legend(
                handles=handles,
                loc="upper left",
                bbox_to_anchor=(1.0, 1.0),
                fontsize="small",
                frameon=False,
            )

        ax.set_xlabel(self.axis_labels[0])
        ax.set_ylabel(self.axis_labels[1])
        if self.estimator_name is not None:
            ax.set_title(self.estimator_name)
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        y=None,
        *,
        projection="pca",
        prior="auto",
        ax=None,
        name=None,
        prior_levels=(1, 2, 3),
        scatter_kwargs=None,
    ):
        """Encode X with a fitted transformer and plot the codes.

        Parameters
        ----------
        estimator : fitted transformer
            Anything with ``transform``: :class:`~skaevae.VAETransformer`,
            :class:`~skaevae.AutoencoderTransformer`,
            :class:`~sklearn.decomposition.PCA`, or a pipeline ending in one.

        X : array-like of shape (n_samples, n_features)
            The data to encode.

        y : array-like of shape (n_samples,), default=None
            Labels colouring the points.

        projection : {"pca", "first"}, default="pca"
            How codes wider than two are shown: ``"pca"`` projects them on
            their first two principal components, ``"first"`` plots the
            first two coordinates.

        prior : "auto" or bool, default="auto"
            Whether to draw the prior's contours; ``"auto"`` draws them for a
            :class:`~skaevae.VAETransformer`, whose latent space is pulled
            towards N(0, I).

        ax : matplotlib Axes, default=None
            Axes to draw on; ``None`` makes a new figure.

        name : str, default=None
            Title; the class name of the estimator (the pipeline's last
            step) by default.

        prior_levels : tuple of float, default=(1, 2, 3)
            Radii of the prior's contours, in standard deviations.

        scatter_kwargs : dict, default=None
            Keyword arguments of :meth:`matplotlib.axes.Axes.scatter`.

        Returns
        -------
        display : LatentSpaceDisplay
            The display, with the artists stored.
        """
        import_pyplot("LatentSpaceDisplay.from_estimator")
        if projection not in ("pca", "first"):
            raise ValueError(f"projection must be 'pca' or 'first', got {projection!r}.")
        codes, _ = as_array(estimator.transform(X))
        n_components = codes.shape[1]
        if n_components < 2:
            raise ValueError(
                f"LatentSpaceDisplay needs codes of at least 2 components, got {n_components}."
            )
        if n_components > 2 and projection == "pca" and len(codes) < 2:
            raise ValueError(
                f"projection='pca' needs at least 2 rows to find the plane of "
                f"{n_components}-dimensional codes, got {len(codes)}; use "
                "projection='first' to plot the first two components."
            )
        if prior == "auto":
            prior = isinstance(final_estimator(estimator), VAETransformer)

        pca = None
        prior_loc = np.zeros(2) if prior else None
        axis_labels = ("latent 1", "latent 2")
        if n_components > 2 and projection == "pca":
            pca = PCA(n_components=2).fit(codes)
            points = pca.transform(codes)
            # N(0, I) in the code space, centred and projected on orthonormal
            # axes, is N(-W·mean, I) in the plot: its contours stay circles.
            if prior:
                prior_loc = pca.transform(np.zeros((1, n_components)))[0]
            axis_labels = (
                f"PC 1 of {n_components} codes",
                f"PC 2 of {n_components} codes",
            )
        else:
            points = codes[:, :2]
        display = cls(
            points,
            labels=y,
            prior_loc=prior_loc,
            projection=pca,
            axis_labels=axis_labels,
            estimator_name=name if name is not None else estimator_name(estimator),
        )
        return display.plot(ax=ax, prior_levels=prior_levels, scatter_kwargs=scatter_kwargs)
