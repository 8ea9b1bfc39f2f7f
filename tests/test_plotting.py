"""Tests of the displays: the data in their artists, not pixels."""

import subprocess
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.decomposition import PCA
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skaevae import AutoencoderTransformer, VAETransformer
from skaevae.plotting import (
    InterpolationDisplay,
    LatentSpaceDisplay,
    LossCurveDisplay,
    ReconstructionDisplay,
    SampleDisplay,
)
from tests._testing import THREE_EPOCHS_16_UNITS

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:300], y[:300]


@pytest.fixture(scope="module")
def vae_pipe(digits):
    X, _ = digits
    return make_pipeline(
        StandardScaler(), VAETransformer(n_components=4, **THREE_EPOCHS_16_UNITS)
    ).fit(X)


@pytest.fixture(scope="module")
def ae2(digits):
    X, _ = digits
    Xs = StandardScaler().fit_transform(X)
    return AutoencoderTransformer(n_components=2, early_stopping=True, **THREE_EPOCHS_16_UNITS).fit(
        Xs
    ), Xs


def test_import_does_not_import_matplotlib():
    code = "import sys, skaevae.plotting; assert 'matplotlib' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_matplotlib_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"skaevae\[plot\]"):
        LossCurveDisplay([1.0, 0.5]).plot()


# ---------------------------------------------------------------- latent space


def test_latent_two_components_plots_the_codes(ae2, digits):
    ae, Xs = ae2
    _, y = digits
    display = LatentSpaceDisplay.from_estimator(ae, Xs, y)
    assert_allclose(display.scatter_.get_offsets(), ae.transform(Xs), rtol=1e-6)
    assert display.projection is None
    # The autoencoder has no prior; one legend entry per digit class.
    assert display.prior_lines_ == []
    assert [t.get_text() for t in display.legend_.get_texts()] == [str(c) for c in range(10)]
    assert display.ax_.get_title() == "AutoencoderTransformer"
    assert display.figure_ is display.ax_.figure


def test_latent_vae_projects_with_pca_and_draws_the_prior(vae_pipe, digits):
    X, y = digits
    display = LatentSpaceDisplay.from_estimator(vae_pipe, X, y, prior_levels=(1, 2))
    codes = vae_pipe.transform(X)
    pca = PCA(n_components=2).fit(codes)
    assert_allclose(display.scatter_.get_offsets(), pca.transform(codes), rtol=1e-4, atol=1e-5)
    # The projected prior N(0, I) is centred where the origin of the codes lands.
    centre = pca.transform(np.zeros((1, 4)))[0]
    assert_allclose(display.prior_loc, centre, atol=1e-6)
    assert len(display.prior_lines_) == 2
    for radius, line in zip((1, 2), display.prior_lines_, strict=True):
        xy = line.get_xydata()
        assert_allclose(np.linalg.norm(xy - centre, axis=1), radius, rtol=1e-6)
    assert display.ax_.get_xlabel() == "PC 1 of 4 codes"


def test_latent_first_two_coordinates_and_continuous_labels(vae_pipe, digits):
    X, _ = digits
    values = np.linspace(0.0, 1.0, len(X))
    display = LatentSpaceDisplay.from_estimator(
        vae_pipe, X, values, projection="first", prior=False
    )
    assert_allclose(display.scatter_.get_offsets(), vae_pipe.transform(X)[:, :2], rtol=1e-6)
    assert_allclose(display.scatter_.get_array(), values)
    assert display.colorbar_ is not None
    assert display.prior_lines_ == []


def test_latent_works_for_pca_and_on_given_axes(digits):
    X, _ = digits
    pca = PCA(n_components=2).fit(X)
    _, ax = plt.subplots()
    display = LatentSpaceDisplay.from_estimator(pca, X, ax=ax, name="PCA baseline")
    assert display.ax_ is ax
    assert ax.get_title() == "PCA baseline"
    assert_allclose(display.scatter_.get_offsets(), pca.transform(X))


def test_latent_rejects_one_component_and_bad_projection(digits):
    X, _ = digits
    pca = PCA(n_components=1).fit(X)
    with pytest.raises(ValueError, match="at least 2 components"):
        LatentSpaceDisplay.from_estimator(pca, X)
    with pytest.raises(ValueError, match="projection"):
        LatentSpaceDisplay.from_estimator(pca, X, projection="tsne")


# ------------------------------------------------------ rows: images and bars


def test_reconstruction_images_show_originals_above_reconstructions(vae_pipe, digits):
    X, _ = digits
    display = ReconstructionDisplay.from_estimator(vae_pipe, X, n_samples=5, image_shape=(8, 8))
    reconstructed = vae_pipe.inverse_transform(vae_pipe.transform(X[:5]))
    assert display.axes_.shape == display.images_.shape == (2, 5)
    for j in range(5):
        assert_allclose(display.images_[0, j].get_array(), X[j].reshape(8, 8))
        assert_allclose(display.images_[1, j].get_array(), reconstructed[j].reshape(8, 8))
    # One colour scale for the grid, so originals and reconstructions compare.
    assert len({image.get_clim() for image in display.images_.ravel()}) == 1
    assert display.axes_[0, 0].get_ylabel() == "original"
    error = np.mean((X[0] - reconstructed[0]) ** 2)
    assert display.axes_[0, 0].get_title() == f"MSE {error:.2g}"


def test_reconstruction_bars_on_a_dataframe_are_labelled_with_feature_names():
    data = load_breast_cancer(as_frame=True).data.iloc[:200, :6]
    X = (data - data.mean()) / data.std()
    ae = AutoencoderTransformer(n_components=2, **THREE_EPOCHS_16_UNITS).fit(X)
    display = ReconstructionDisplay.from_estimator(ae, X, n_samples=3)
    reconstructed = ae.inverse_transform(ae.transform(X.iloc[:3]))
    heights = [[bar.get_height() for bar in container] for container in display.bars_[1]]
    assert_allclose(heights, reconstructed, rtol=1e-6)
    assert_allclose(
        [bar.get_height() for bar in display.bars_[0, 2]], X.iloc[2].to_numpy(), rtol=1e-6
    )
    labels = [t.get_text() for t in display.axes_[1, 0].get_xticklabels()]
    assert labels == list(data.columns)


def test_row_grids_split_a_given_axes_or_fill_given_axes(vae_pipe, digits):
    X, _ = digits
    fig, (left, right) = plt.subplots(1, 2)
    display = ReconstructionDisplay.from_estimator(
        vae_pipe, X, n_samples=3, image_shape=(8, 8), ax=left
    )
    # The grid takes the place of `left`, in a subfigure titled by the estimator.
    assert left.figure is None and display.subfigure_ in fig.subfigs
    assert display.figure_ is fig and display.axes_.shape == (2, 3)
    assert display.subfigure_.get_suptitle() == "VAETransformer"

    _, axes = plt.subplots(2, 3)
    display = ReconstructionDisplay.from_estimator(
        vae_pipe, X, n_samples=3, image_shape=(8, 8), ax=axes
    )
    assert display.subfigure_ is None
    assert display.axes_[1, 2] is axes[1, 2]
    with pytest.raises(ValueError, match="Expected 6 axes"):
        ReconstructionDisplay.from_estimator(vae_pipe, X, n_samples=3, ax=axes[0])


def test_image_shape_must_match_the_features(vae_pipe, digits):
    X, _ = digits
    with pytest.raises(ValueError, match="holds 49 pixels"):
        ReconstructionDisplay.from_estimator(vae_pipe, X, image_shape=(7, 7))


def test_samples_are_the_estimators_samples_in_input_units(vae_pipe):
    display = SampleDisplay.from_estimator(
        vae_pipe, n_samples=10, n_cols=4, image_shape=(8, 8), random_state=0
    )
    expected = vae_pipe[0].inverse_transform(vae_pipe[-1].sample(10, random_state=0))
    assert_allclose(display.samples, expected, rtol=1e-6)
    assert display.images_.shape == (3, 4)
    assert_allclose(display.images_[2, 1].get_array(), expected[9].reshape(8, 8), rtol=1e-6)
    # The two unused cells of the last row are turned off.
    assert display.images_[2, 2] is None and not display.axes_[2, 3].axison


def test_interpolation_decodes_a_straight_line_between_codes(vae_pipe, digits):
    X, _ = digits
    display = InterpolationDisplay.from_estimator(
        vae_pipe, X[:2], X[2:4], n_steps=5, image_shape=(8, 8)
    )
    z_start, z_end = vae_pipe.transform(X[:2]), vae_pipe.transform(X[2:4])
    assert_allclose(display.t_values, [0, 0.25, 0.5, 0.75, 1])
    assert_allclose(display.codes[:, 0], z_start, rtol=1e-6)
    assert_allclose(display.codes[:, -1], z_end, rtol=1e-6)
    assert_allclose(display.codes[:, 2], (z_start + z_end) / 2, rtol=1e-5, atol=1e-6)
    midpoint = vae_pipe.inverse_transform((z_start + z_end) / 2)
    assert_allclose(display.images_[1, 2].get_array(), midpoint[1].reshape(8, 8), rtol=1e-4)
    assert [ax.get_title() for ax in display.axes_[0]] == [
        "t=0",
        "t=0.25",
        "t=0.5",
        "t=0.75",
        "t=1",
    ]


def test_interpolation_needs_pairs(vae_pipe, digits):
    X, _ = digits
    with pytest.raises(ValueError, match="same number of rows"):
        InterpolationDisplay.from_estimator(vae_pipe, X[:2], X[2:5])
    with pytest.raises(ValueError, match="n_steps"):
        InterpolationDisplay.from_estimator(vae_pipe, X[:2], X[2:4], n_steps=1)


# ---------------------------------------------------------------- loss curves


def test_loss_curve_with_validation(ae2):
    ae, _ = ae2
    display = LossCurveDisplay.from_estimator(ae)
    assert_allclose(display.line_.get_xdata(), np.arange(1, ae.n_iter_ + 1))
    assert_allclose(display.line_.get_ydata(), ae.loss_curve_)
    assert_allclose(display.validation_line_.get_ydata(), ae.validation_loss_curve_)
    assert display.warmup_span_ is None
    assert display.ax_.get_ylabel() == "mean squared error"


def test_loss_curve_of_a_vae_shades_the_warmup(vae_pipe):
    display = LossCurveDisplay.from_estimator(vae_pipe, name="vae")
    vae = vae_pipe[-1]
    assert_allclose(display.line_.get_ydata(), vae.loss_curve_)
    assert display.validation_line_ is None
    # kl_warmup=10 > n_iter_=3: the span covers the epochs that ran.
    x_min, x_max = (
        display.warmup_span_.get_x(),
        display.warmup_span_.get_x() + display.warmup_span_.get_width(),
    )
    assert (x_min, x_max) == (0.5, vae.n_iter_ + 0.5)
    labels = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    assert labels == ["KL warm-up", "vae: training"]


# ------------------------------------------- the command line's comparison figures


def test_comparison_figures_are_written_in_pixel_values(tmp_path, digits):
    from skaevae.plotting._comparison import write_comparison_figures

    X, y = digits
    scaler = StandardScaler().fit(X)
    Xs = scaler.transform(X)
    models = {
        "PCA": PCA(n_components=4).fit(Xs),
        "VAE": VAETransformer(n_components=4, **THREE_EPOCHS_16_UNITS).fit(Xs),
    }
    paths = write_comparison_figures(models, Xs, y, tmp_path / "figures", scaler=scaler)
    names = sorted(path.name for path in paths)
    # PCA has neither sample nor loss_curve_: only the VAE is in those figures.
    assert names == [
        "interpolations.png",
        "latent_spaces.png",
        "loss_curves.png",
        "reconstructions.png",
        "samples.png",
    ]
    assert all(path.stat().st_size > 0 for path in paths)
    # Nothing was drawn through pyplot.
    assert plt.get_fignums() == []


def test_command_line_writes_the_figures_where_it_says(tmp_path, monkeypatch, capsys):
    import pandas as pd

    import skaevae.__main__ as command_line
    from skaevae._compare import load_split

    def tiny_compare(n_components, random_state):
        # The real comparison trains the default models; the figures only
        # need fitted ones.
        X_train = load_split(random_state)[0]
        models = {
            "PCA": PCA(n_components=n_components).fit(X_train),
            "Autoencoder": AutoencoderTransformer(
                n_components=n_components, **THREE_EPOCHS_16_UNITS
            ).fit(X_train),
        }
        return pd.DataFrame({"model": list(models)}).set_index("model"), models

    monkeypatch.setattr(command_line, "compare", tiny_compare)
    command_line.main(["--n-components", "2", "--figures-dir", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert f"Figures written to {tmp_path / 'out'}/" in out
    assert (tmp_path / "out" / "latent_spaces.png").exists()

    command_line.main(["--no-figures", "--figures-dir", str(tmp_path / "none")])
    assert not (tmp_path / "none").exists()


def test_bad_plot_arguments_get_clear_errors():
    X = StandardScaler().fit_transform(load_digits().data[:60])
    ae = AutoencoderTransformer(n_components=3, hidden_layer_sizes=(8,), max_iter=2, random_state=0)
    ae.fit(X)
    with pytest.raises(ValueError, match="n_cols must be an integer of at least 1"):
        SampleDisplay(X[:5], n_cols=0).plot()
    with pytest.raises(TypeError, match="trained in epochs.*PCA has none"):
        LossCurveDisplay.from_estimator(PCA(2).fit(X))
    with pytest.raises(ValueError, match="n_samples must be an integer of at least 1, got -1"):
        ReconstructionDisplay.from_estimator(ae, X, n_samples=-1)
    with pytest.raises(ValueError, match="n_steps must be an integer of at least 2, got 2.5"):
        InterpolationDisplay.from_estimator(ae, X[:2], X[2:4], n_steps=2.5)
    with pytest.raises(ValueError, match="needs at least 2 rows"):
        LatentSpaceDisplay.from_estimator(ae, X[:1])
    plt.close("all")
