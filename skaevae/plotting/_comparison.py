"""The figures of ``python -m skaevae``: PCA, the autoencoder and the VAE on the digits."""

from pathlib import Path

import numpy as np
from sklearn.pipeline import make_pipeline

from ._latent import LatentSpaceDisplay
from ._loss_curve import LossCurveDisplay
from ._rows import InterpolationDisplay, ReconstructionDisplay, SampleDisplay
from ._utils import final_estimator

DIGIT_SHAPE = (8, 8)
N_RECONSTRUCTED = 10


def _first_of_each(y, labels):
    return np.array([np.flatnonzero(y == label)[0] for label in labels])


def write_comparison_figures(models, X, y, directory, *, scaler=None):
    """Draw the fitted models' latent spaces, reconstructions, samples and curves to PNGs.

    Figures are made with :class:`matplotlib.figure.Figure` rather than
    pyplot, so no window opens and the caller's pyplot state is untouched.

    Parameters
    ----------
    models : dict of str to fitted estimator
        The compared models by name, fitted on standardised digits: any with
        ``transform`` and ``inverse_transform``; those with ``sample`` or
        ``loss_curve_`` also appear in the samples and loss-curve figures.

    X : ndarray of shape (n_samples, 64)
        Held-out standardised digits to encode and reconstruct. The errors
        shown over the reconstructions are in these standardised units.

    y : ndarray of shape (n_samples,)
        Their digit labels, colouring the latent spaces.

    directory : str or path-like
        Folder to write to; created if missing.

    scaler : fitted transformer, default=None
        The standardisation the models were fitted after (e.g. a fitted
        ``StandardScaler``). Given, images are drawn in the original pixel
        values, through ``make_pipeline(scaler, model)``; standardised pixels
        of near-constant border pixels would otherwise dominate the colour
        scale.

    Returns
    -------
    paths : list of pathlib.Path
        The files written.
    """
    from matplotlib.figure import Figure

    # The reconstruction errors over the images are those of the printed table:
    # mean squared error per feature in standardised units, whatever units the
    # images are drawn in.
    X_standardised = np.asarray(X[:N_RECONSTRUCTED], dtype=float)
    errors = {
        name: (
            (model.inverse_transform(model.transform(X_standardised)) - X_standardised) ** 2
        ).mean(axis=1)
        for name, model in models.items()
    }
    if scaler is not None:
        # Pipelines of already-fitted steps: nothing is refitted.
        models = {name: make_pipeline(scaler, model) for name, model in models.items()}
        X = scaler.inverse_transform(X)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    names = list(models)
    generative = [name for name in names if hasattr(final_estimator(models[name]), "sample")]
    trained = [name for name in names if hasattr(final_estimator(models[name]), "loss_curve_")]
    figures = {}

    figure = Figure(figsize=(5 * len(names), 4.5), layout="constrained")
    for ax, name in zip(figure.subplots(1, len(names), squeeze=False)[0], names, strict=True):
        LatentSpaceDisplay.from_estimator(models[name], X, y, ax=ax, name=name)
    figures["latent_spaces.png"] = figure

    figure = Figure(figsize=(10, 2.6 * len(names)), layout="constrained")
    for ax, name in zip(figure.subplots(len(names), 1, squeeze=False)[:, 0], names, strict=True):
        display = ReconstructionDisplay.from_estimator(
            models[name], X, n_samples=N_RECONSTRUCTED, image_shape=DIGIT_SHAPE, ax=ax, name=name
        )
        for image_ax, error in zip(display.axes_[0], errors[name], strict=True):
            image_ax.set_title(f"MSE {error:.2g}", fontsize="small")
    figure.suptitle("MSE per image, in standardised units (as in the table)", fontsize="medium")
    figures["reconstructions.png"] = figure

    if generative:
        figure = Figure(figsize=(8, 2.6 * len(generative)), layout="constrained")
        axes = figure.subplots(len(generative), 1, squeeze=False)[:, 0]
        for ax, name in zip(axes, generative, strict=True):
            SampleDisplay.from_estimator(
                models[name],
                n_samples=16,
                image_shape=DIGIT_SHAPE,
                random_state=0,
                ax=ax,
                name=name,
            )
        figures["samples.png"] = figure

    # Straight lines from a 0 to a 6, a 1 to a 4 and a 7 to a 2 in each latent space.
    start, end = _first_of_each(y, (0, 1, 7)), _first_of_each(y, (6, 4, 2))
    figure = Figure(figsize=(8, 3.6 * len(names)), layout="constrained")
    for ax, name in zip(figure.subplots(len(names), 1, squeeze=False)[:, 0], names, strict=True):
        InterpolationDisplay.from_estimator(
            models[name], X[start], X[end], image_shape=DIGIT_SHAPE, ax=ax, name=name
        )
    figures["interpolations.png"] = figure

    if trained:
        figure = Figure(figsize=(5 * len(trained), 3.5), layout="constrained")
        axes = figure.subplots(1, len(trained), squeeze=False)[0]
        for ax, name in zip(axes, trained, strict=True):
            LossCurveDisplay.from_estimator(models[name], ax=ax, name=name)
        figures["loss_curves.png"] = figure

    paths = []
    for filename, figure in figures.items():
        path = directory / filename
        figure.savefig(path, dpi=100)
        paths.append(path)
    return paths
