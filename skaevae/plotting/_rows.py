"""Displays of rows in input space: reconstructions, samples, latent interpolations.

Each draws a grid of rows, one per cell: as an image when the features are the
pixels of an image (``image_shape``, e.g. ``(8, 8)`` for ``load_digits``), as
per-feature bars otherwise. All cells of a grid share one colour scale (from
the 1st to the 99th percentile of the grid's values) or one y range, so cells
can be compared with each other. Of a mixed table, the numeric and boolean
columns are drawn; categorical columns have no height to draw.
"""

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.utils import _safe_indexing
from sklearn.utils.validation import check_is_fitted

from ._utils import (
    as_array,
    axes_grid,
    check_count,
    column_subset,
    estimator_name,
    final_estimator,
    import_pyplot,
    numeric_columns,
)

# Bars get feature-name tick labels only up to this many features; beyond it
# the labels overlap.
MAX_TICK_LABELS = 20


class _RowGridDisplay:
    """Drawing shared by the displays of rows: a grid of images or bar charts.

    Subclasses provide ``_grid()``: the rows to draw as an array of shape
    ``(n_rows, n_cols, n_features)`` with NaN rows for empty cells, plus row
    labels and column titles.
    """

    def _grid(self):
        raise NotImplementedError

    def _check_image_shape(self, n_features):
        if self.image_shape is not None and int(np.prod(self.image_shape)) != n_features:
            raise ValueError(
                f"image_shape={tuple(self.image_shape)} holds {int(np.prod(self.image_shape))} "
                f"pixels, but the rows have {n_features} features."
            )

    def plot(self, ax=None, *, cmap="gray_r"):
        """Draw the grid.

        Parameters
        ----------
        ax : matplotlib Axes or array-like of Axes, default=None
            ``None`` makes a new figure; a single ``Axes`` is replaced by a
            subfigure holding the grid (so several grids share one figure);
            an array of axes (one per cell) is drawn into as given.

        cmap : str or matplotlib Colormap, default="gray_r"
            Colour map of the images (unused for bars).

        Returns
        -------
        display : object
            The display, with the artists stored.
        """
        plt = import_pyplot(f"{type(self).__name__}.plot")
        rows, row_labels, col_titles = self._grid()
        n_rows, n_cols, n_features = rows.shape
        self._check_image_shape(n_features)
        as_image = self.image_shape is not None
        container, self.axes_ = axes_grid(
            plt, ax, n_rows, n_cols, cell_size=(1.1, 1.1) if as_image else (2.0, 1.8)
        )
        self.figure_ = self.axes_[0, 0].get_figure(root=True)
        self.subfigure_ = container if container is not self.figure_ else None

        # One colour scale (images) or y range (bars) for the whole grid. The
        # colour scale spans the 1st to 99th percentile of the grid's values,
        # so that a few extreme pixels do not wash out all the others.
        if as_image:
            low, high = np.nanpercentile(rows, [1, 99])
        else:
            low, high = min(np.nanmin(rows), 0.0), max(np.nanmax(rows), 0.0)
            margin = 0.05 * (high - low) or 1.0
            low, high = low - margin, high + margin
        artists = np.empty((n_rows, n_cols), dtype=object)
        names = self.feature_names
        for i in range(n_rows):
            for j in range(n_cols):
                cell = self.axes_[i, j]
                row = rows[i, j]
                if np.isnan(row).all():
                    cell.set_axis_off()
                    continue
                if as_image:
                    artists[i, j] = cell.imshow(
                        row.reshape(self.image_shape), cmap=cmap, vmin=low, vmax=high
                    )
                else:
                    artists[i, j] = cell.bar(np.arange(n_features), row, color="C0")
                    cell.set_ylim(low, high)
                    cell.axhline(0.0, color="black", linewidth=0.5)
                cell.set_xticks([])
                if j > 0 or as_image:
                    cell.set_yticks([])
                else:
                    cell.tick_params(labelsize="x-small")
            if row_labels is not None:
                self.axes_[i, 0].set_ylabel(row_labels[i], fontsize="small")
        if not as_image and names is not None and n_features <= MAX_TICK_LABELS:
            for cell in self.axes_[-1]:
                if cell.axison:
                    cell.set_xticks(np.arange(n_features), labels=list(names), rotation=90)
                    cell.tick_params(axis="x", labelsize="x-small")
        if col_titles is not None:
            for j, title in enumerate(col_titles):
                self.axes_[0, j].set_title(title, fontsize="small")
        # Given an array of axes, the figure's title is left to the caller.
        if self.estimator_name is not None and (ax is None or self.subfigure_ is not None):
            container.suptitle(self.estimator_name)
        if as_image:
            self.images_ = artists
        else:
            self.bars_ = artists
        return self


def _reconstruct(estimator, X):
    return estimator.inverse_transform(estimator.transform(X))


class ReconstructionDisplay(_RowGridDisplay):
    """Rows of X (top) above their reconstructions (bottom).

    It is recommended to use :meth:`from_estimator` to create a display.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The original rows.

    X_reconstructed : ndarray of shape (n_samples, n_features)
        Their reconstructions, ``inverse_transform(transform(X))``.

    image_shape : tuple of int, default=None
        Shape of the image formed by a row's features (e.g. ``(8, 8)``);
        ``None`` draws per-feature bars.

    feature_names : array-like of str, default=None
        Names of the features, used as bar labels.

    estimator_name : str, default=None
        Title of the plot.

    Attributes
    ----------
    axes_ : ndarray of matplotlib Axes, shape (2, n_samples)
        Originals in the first row, reconstructions in the second.

    images_ : ndarray of matplotlib AxesImage, shape (2, n_samples)
        The images, when ``image_shape`` is given.

    bars_ : ndarray of matplotlib BarContainer, shape (2, n_samples)
        The bars, when ``image_shape`` is None.

    subfigure_ : matplotlib SubFigure or None
        The subfigure holding the grid, when one ``Axes`` was passed as
        ``ax`` (it takes that ``Axes``' place).

    figure_ : matplotlib Figure
        Figure containing the plot.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skaevae import AutoencoderTransformer
    >>> from skaevae.plotting import ReconstructionDisplay
    >>> X = load_digits().data
    >>> pipe = make_pipeline(
    ...     StandardScaler(), AutoencoderTransformer(n_components=8, max_iter=5, random_state=0)
    ... ).fit(X)
    >>> display = ReconstructionDisplay.from_estimator(pipe, X, n_samples=6, image_shape=(8, 8))
    >>> display.images_.shape
    (2, 6)
    >>> display.images_[1, 0].get_array().shape
    (8, 8)
    """

    def __init__(
        self, X, X_reconstructed, *, image_shape=None, feature_names=None, estimator_name=None
    ):
        self.X = X
        self.X_reconstructed = X_reconstructed
        self.image_shape = image_shape
        self.feature_names = feature_names
        self.estimator_name = estimator_name

    def _grid(self):
        X = np.asarray(self.X, dtype=float)
        X_reconstructed = np.asarray(self.X_reconstructed, dtype=float)
        errors = ((X - X_reconstructed) ** 2).mean(axis=1)
        titles = [f"MSE {error:.2g}" for error in errors]
        return np.stack([X, X_reconstructed]), ("original", "reconstructed"), titles

    @classmethod
    def from_estimator(
        cls, estimator, X, *, n_samples=8, image_shape=None, ax=None, name=None, cmap="gray_r"
    ):
        """Reconstruct the first rows of X with a fitted transformer and plot them.

        Parameters
        ----------
        estimator : fitted transformer
            Anything with ``transform`` and ``inverse_transform``: our
            autoencoders, :class:`~sklearn.decomposition.PCA`, or a pipeline
            such as ``make_pipeline(StandardScaler(), VAETransformer())``,
            whose reconstructions are then in X's original units.

        X : array-like of shape (n_samples, n_features)
            Data; its first ``n_samples`` rows are shown. Column names of a
            DataFrame label the bars. Of a mixed table (for a model fitted
            with categorical columns), the numeric and boolean (0/1) columns
            are drawn and the categorical ones, which have no height, left
            out.

        n_samples : int, default=8
            Number of rows to show.

        image_shape : tuple of int, default=None
            Shape of the image formed by a row's features; ``None`` draws
            per-feature bars.

        ax : matplotlib Axes or array-like of Axes, default=None
            Where to draw; see :meth:`plot`.

        name : str, default=None
            Title; the class name of the estimator by default.

        cmap : str or matplotlib Colormap, default="gray_r"
            Colour map of the images.

        Returns
        -------
        display : ReconstructionDisplay
            The display, with the artists stored.
        """
        import_pyplot("ReconstructionDisplay.from_estimator")
        check_count(n_samples, "n_samples")
        X = _safe_indexing(X, slice(0, n_samples))
        # A mixed table's categorical columns have no height: its other columns are drawn.
        columns = numeric_columns(X, "ReconstructionDisplay")
        originals, names = column_subset(X, columns)
        reconstructed, _ = column_subset(_reconstruct(estimator, X), columns)
        display = cls(
            originals,
            reconstructed,
            image_shape=image_shape,
            feature_names=names,
            estimator_name=name if name is not None else estimator_name(estimator),
        )
        return display.plot(ax=ax, cmap=cmap)


def _grid_of(rows, n_cols):
    """Lay ``rows`` (n, n_features) out in ``n_cols`` columns, NaN-padding the last row."""
    n_rows = -(-len(rows) // n_cols)
    grid = np.full((n_rows * n_cols, rows.shape[1]), np.nan)
    grid[: len(rows)] = rows
    return grid.reshape(n_rows, n_cols, rows.shape[1])


class SampleDisplay(_RowGridDisplay):
    """A grid of rows generated by an estimator's ``sample``.

    It is recommended to use :meth:`from_estimator` to create a display; the
    constructor takes any rows, e.g. decoder means of chosen codes.

    Parameters
    ----------
    samples : ndarray of shape (n_samples, n_features)
        The rows to show.

    image_shape : tuple of int, default=None
        Shape of the image formed by a row's features; ``None`` draws
        per-feature bars.

    feature_names : array-like of str, default=None
        Names of the features, used as bar labels.

    n_cols : int, default=8
        Number of columns of the grid.

    estimator_name : str, default=None
        Title of the plot.

    Attributes
    ----------
    axes_ : ndarray of matplotlib Axes, shape (n_rows, n_cols)
        The cells, filled row by row; unused cells are turned off.

    images_ : ndarray of matplotlib AxesImage, shape (n_rows, n_cols)
        The images (``None`` in unused cells), when ``image_shape`` is given.

    bars_ : ndarray of matplotlib BarContainer, shape (n_rows, n_cols)
        The bars, when ``image_shape`` is None.

    subfigure_ : matplotlib SubFigure or None
        The subfigure holding the grid, when one ``Axes`` was passed as
        ``ax`` (it takes that ``Axes``' place).

    figure_ : matplotlib Figure
        Figure containing the plot.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skaevae import VAETransformer
    >>> from skaevae.plotting import SampleDisplay
    >>> X = StandardScaler().fit_transform(load_digits().data)
    >>> vae = VAETransformer(n_components=4, hidden_layer_sizes=(32,), max_iter=5, random_state=0)
    >>> vae = vae.fit(X)
    >>> display = SampleDisplay.from_estimator(
    ...     vae, n_samples=10, n_cols=5, image_shape=(8, 8), random_state=0
    ... )
    >>> display.images_.shape
    (2, 5)
    """

    def __init__(
        self, samples, *, image_shape=None, feature_names=None, n_cols=8, estimator_name=None
    ):
        self.samples = samples
        self.image_shape = image_shape
        self.feature_names = feature_names
        self.n_cols = n_cols
        self.estimator_name = estimator_name

    def _grid(self):
        n_cols = check_count(self.n_cols, "n_cols")
        samples = np.asarray(self.samples, dtype=float)
        return _grid_of(samples, min(n_cols, len(samples))), None, None

    @classmethod
    def from_estimator(
        cls,
        estimator,
        *,
        n_samples=16,
        n_cols=8,
        random_state=None,
        image_shape=None,
        ax=None,
        name=None,
        cmap="gray_r",
    ):
        """Draw rows with ``estimator.sample`` and plot them.

        Parameters
        ----------
        estimator : fitted estimator with ``sample``
            :class:`~skaevae.VAETransformer` (decoded prior draws),
            :class:`~skaevae.AutoencoderTransformer` (decoded draws of a
            Gaussian fitted to the training codes), or a pipeline ending in
            one, whose earlier steps' ``inverse_transform`` then maps the
            samples back to the input's units. Of a model of a mixed table,
            the numeric and boolean (0/1) columns of the samples are drawn
            and the categorical ones, which have no height, left out.

        n_samples : int, default=16
            Number of rows to generate.

        n_cols : int, default=8
            Number of columns of the grid.

        random_state : int, RandomState instance or None, default=None
            Seed of the draws, passed to ``sample``.

        image_shape : tuple of int, default=None
            Shape of the image formed by a row's features; ``None`` draws
            per-feature bars.

        ax : matplotlib Axes or array-like of Axes, default=None
            Where to draw; see :meth:`plot`.

        name : str, default=None
            Title; the class name of the estimator by default.

        cmap : str or matplotlib Colormap, default="gray_r"
            Colour map of the images.

        Returns
        -------
        display : SampleDisplay
            The display, with the artists stored.
        """
        import_pyplot("SampleDisplay.from_estimator")
        check_count(n_cols, "n_cols")
        model = final_estimator(estimator)
        check_is_fitted(model)
        samples = model.sample(n_samples, random_state=random_state)
        if isinstance(estimator, Pipeline) and len(estimator) > 1:
            samples = estimator[:-1].inverse_transform(samples)
        names = getattr(estimator, "feature_names_in_", None)
        # A mixed table's categorical columns have no height: its other columns are drawn.
        columns = numeric_columns(samples, "SampleDisplay")
        samples, _ = column_subset(samples, columns)
        display = cls(
            samples,
            image_shape=image_shape,
            feature_names=None if names is None else np.asarray(names)[columns],
            n_cols=n_cols,
            estimator_name=name if name is not None else estimator_name(estimator),
        )
        return display.plot(ax=ax, cmap=cmap)


class InterpolationDisplay(_RowGridDisplay):
    """Decoded points on straight lines between pairs of latent codes.

    Row ``i`` decodes ``z = (1 - t)·z_start[i] + t·z_end[i]`` for each ``t``
    in ``t_values``, from left to right: it shows what the decoder makes of
    the latent space between two codes (smooth morphs for a VAE, possibly
    implausible rows in the holes of an autoencoder's latent space).

    It is recommended to use :meth:`from_estimator` to create a display.

    Parameters
    ----------
    decoded : ndarray of shape (n_pairs, n_steps, n_features)
        The decoded rows.

    t_values : ndarray of shape (n_steps,)
        Position of each step on the line, 0 at the start code, 1 at the end.

    codes : ndarray of shape (n_pairs, n_steps, n_components), default=None
        The interpolated codes.

    image_shape : tuple of int, default=None
        Shape of the image formed by a row's features; ``None`` draws
        per-feature bars.

    feature_names : array-like of str, default=None
        Names of the features, used as bar labels.

    estimator_name : str, default=None
        Title of the plot.

    Attributes
    ----------
    axes_ : ndarray of matplotlib Axes, shape (n_pairs, n_steps)
        One row of cells per pair of codes.

    images_ : ndarray of matplotlib AxesImage, shape (n_pairs, n_steps)
        The images, when ``image_shape`` is given.

    bars_ : ndarray of matplotlib BarContainer, shape (n_pairs, n_steps)
        The bars, when ``image_shape`` is None.

    subfigure_ : matplotlib SubFigure or None
        The subfigure holding the grid, when one ``Axes`` was passed as
        ``ax`` (it takes that ``Axes``' place).

    figure_ : matplotlib Figure
        Figure containing the plot.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skaevae import VAETransformer
    >>> from skaevae.plotting import InterpolationDisplay
    >>> X = StandardScaler().fit_transform(load_digits().data)
    >>> vae = VAETransformer(n_components=4, hidden_layer_sizes=(32,), max_iter=5, random_state=0)
    >>> vae = vae.fit(X)
    >>> display = InterpolationDisplay.from_estimator(
    ...     vae, X[:2], X[2:4], n_steps=7, image_shape=(8, 8)
    ... )
    >>> display.decoded.shape
    (2, 7, 64)
    >>> display.images_.shape
    (2, 7)
    """

    def __init__(
        self,
        decoded,
        t_values,
        *,
        codes=None,
        image_shape=None,
        feature_names=None,
        estimator_name=None,
    ):
        self.decoded = decoded
        self.t_values = t_values
        self.codes = codes
        self.image_shape = image_shape
        self.feature_names = feature_names
        self.estimator_name = estimator_name

    def _grid(self):
        titles = [f"t={t:.2g}" for t in self.t_values]
        return np.asarray(self.decoded, dtype=float), None, titles

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X_start,
        X_end,
        *,
        n_steps=8,
        image_shape=None,
        ax=None,
        name=None,
        cmap="gray_r",
    ):
        """Interpolate linearly between the codes of two sets of rows and decode.

        Parameters
        ----------
        estimator : fitted transformer
            Anything with ``transform`` and ``inverse_transform``, or a
            pipeline ending in one.

        X_start : array-like of shape (n_pairs, n_features)
            Rows whose codes start the lines (``t = 0``).

        X_end : array-like of shape (n_pairs, n_features)
            Rows whose codes end the lines (``t = 1``).

        n_steps : int, default=8
            Number of points on each line, ends included.

        image_shape : tuple of int, default=None
            Shape of the image formed by a row's features; ``None`` draws
            per-feature bars.

        ax : matplotlib Axes or array-like of Axes, default=None
            Where to draw; see :meth:`plot`.

        name : str, default=None
            Title; the class name of the estimator by default.

        cmap : str or matplotlib Colormap, default="gray_r"
            Colour map of the images.

        Returns
        -------
        display : InterpolationDisplay
            The display, with the artists stored.
        """
        import_pyplot("InterpolationDisplay.from_estimator")
        check_count(n_steps, "n_steps", minimum=2)
        z_start, _ = as_array(estimator.transform(X_start))
        z_end, _ = as_array(estimator.transform(X_end))
        if z_start.shape != z_end.shape:
            raise ValueError(
                f"X_start and X_end must have the same number of rows, got "
                f"{len(z_start)} and {len(z_end)}."
            )
        t_values = np.linspace(0.0, 1.0, n_steps)
        # codes: (n_pairs, n_steps, n_components), decoded as one batch.
        codes = z_start[:, None, :] + t_values[None, :, None] * (z_end - z_start)[:, None, :]
        n_pairs, _, n_components = codes.shape
        decoded, _ = as_array(estimator.inverse_transform(codes.reshape(-1, n_components)))
        _, feature_names = as_array(X_start)
        display = cls(
            decoded.reshape(n_pairs, n_steps, -1),
            t_values,
            codes=codes,
            image_shape=image_shape,
            feature_names=feature_names,
            estimator_name=name if name is not None else estimator_name(estimator),
        )
        return display.plot(ax=ax, cmap=cmap)
