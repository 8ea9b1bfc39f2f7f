"""Helpers shared by the displays: matplotlib import, estimator unwrapping, axes grids."""

from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline
from sklearn.utils._optional_dependencies import check_matplotlib_support


def import_pyplot(caller_name):
    """Import ``matplotlib.pyplot`` lazily, with an install hint when it is missing."""
    check_matplotlib_support(f"{caller_name} (pip install skaevae[plot])")
    import matplotlib.pyplot as plt

    return plt


def check_count(value, name, minimum=1):
    """Raise a ValueError unless ``value`` is an integer (not a bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer of at least {minimum}, got {value!r}.")
    return int(value)


def final_estimator(estimator):
    """The last step of a :class:`~sklearn.pipeline.Pipeline`, or ``estimator`` itself."""
    return estimator[-1] if isinstance(estimator, Pipeline) else estimator


def estimator_name(estimator):
    """The class name of ``estimator``'s last step, used to title plots."""
    return type(final_estimator(estimator)).__name__


def as_array(X):
    """``X`` (array-like or DataFrame) as a 2-D float ndarray, and its column names if any."""
    names = None
    if hasattr(X, "columns"):
        names = np.asarray(X.columns, dtype=object)
    return np.asarray(X, dtype=float), names


def numeric_columns(X, who):
    """Positions of the columns of X that have a height to draw: all but categorical ones.

    A mixed table's categorical (category, string or object) columns are left
    out; booleans count as 0/1. Raises a ValueError naming ``who`` when no
    column is left.
    """
    if hasattr(X, "dtypes"):
        keep = [
            pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)
            for dtype in X.dtypes
        ]
    else:
        X = np.asarray(X)
        if X.dtype != object:
            return np.arange(X.shape[1])
        keep = [_is_numeric(X[:, j]) for j in range(X.shape[1])]
    positions = np.flatnonzero(keep)
    if len(positions) == 0:
        raise ValueError(
            f"{who} draws the numeric columns of a table as bars, and X has none: "
            "its columns are all categorical."
        )
    return positions


def _is_numeric(values):
    try:
        np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        return False
    return True


def column_subset(X, positions):
    """The columns of X at ``positions``, as :func:`as_array` reads them."""
    if hasattr(X, "iloc"):
        X = X.iloc[:, positions]
        return np.asarray(X.to_numpy(dtype=float, na_value=np.nan)), np.asarray(
            X.columns, dtype=object
        )
    return np.asarray(np.asarray(X)[:, positions], dtype=float), None


def axes_grid(plt, ax, n_rows, n_cols, *, cell_size=(1.2, 1.2)):
    """An ``(n_rows, n_cols)`` object array of axes to draw a grid of rows into.

    ``ax=None`` makes a new figure sized for the grid; a single ``Axes`` is
    replaced by a subfigure holding the grid (so several grids can share one
    figure); an array-like of ``n_rows * n_cols`` axes is used as given.

    Returns ``(figure, axes)``: the figure or subfigure holding the grid.
    """
    if ax is None:
        figure, axes = plt.subplots(
            n_rows,
            n_cols,
            figsize=(cell_size[0] * n_cols, cell_size[1] * n_rows),
            squeeze=False,
            layout="constrained",
        )
        return figure, axes
    if isinstance(ax, plt.Axes):
        # The grid replaces ``ax`` with a subfigure in its place, whose title
        # and axes the figure's layout engine arranges together.
        figure = ax.figure
        spec = ax.get_subplotspec()
        ax.remove()
        subfigure = figure.add_subfigure(spec)
        axes = subfigure.subplots(n_rows, n_cols, squeeze=False)
        return subfigure, axes
    axes = np.asarray(ax, dtype=object)
    if axes.size != n_rows * n_cols:
        raise ValueError(f"Expected {n_rows * n_cols} axes ({n_rows} x {n_cols}), got {axes.size}.")
    axes = axes.reshape(n_rows, n_cols)
    return axes[0, 0].figure, axes
