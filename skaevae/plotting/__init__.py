"""Plots of what an autoencoder learns, in scikit-learn's Display pattern.

Each display is built with ``Display.from_estimator(estimator, ...)``, which
computes what to show and draws it, or directly from precomputed arrays with
``Display(...).plot()``. Drawn artists are stored on the display (``ax_`` or
``axes_``, ``figure_``, and the lines, images or bars), as in
:class:`sklearn.metrics.RocCurveDisplay`.

matplotlib is imported only when a display draws, so ``import
skaevae.plotting`` works without it; install it with ``pip install
skaevae[plot]``. The displays use the estimators' public API only: this
folder may import :mod:`skaevae.models` and :mod:`skaevae.utils`.
"""

from ._latent import LatentSpaceDisplay
from ._loss_curve import LossCurveDisplay
from ._rows import InterpolationDisplay, ReconstructionDisplay, SampleDisplay

__all__ = [
    "InterpolationDisplay",
    "LatentSpaceDisplay",
    "LossCurveDisplay",
    "ReconstructionDisplay",
    "SampleDisplay",
]
