"""
==============================================
Latent spaces of PCA, an autoencoder and a VAE
==============================================

The handwritten digits of :func:`~sklearn.datasets.load_digits` (8×8 images,
64 features) are reduced to two dimensions in three ways:

* :class:`~sklearn.decomposition.PCA`, the best *linear* projection;
* :class:`~skaevae.AutoencoderTransformer`, a non-linear encoder trained to
  reconstruct its input: each image becomes one point;
* :class:`~skaevae.VAETransformer`, whose encoder outputs a Gaussian per image
  and whose codes are pulled towards the prior N(0, I) (dashed circles: 1, 2
  and 3 standard deviations).

Each is fitted on the standardised images and colours the codes by digit,
which none of them saw.
"""

# %%
# Fit the three transformers
# --------------------------
# Each one is a pipeline ``StandardScaler → transformer``, so it takes the raw
# pixel values.
import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skaevae import AutoencoderTransformer, VAETransformer
from skaevae.plotting import LatentSpaceDisplay, LossCurveDisplay

X, y = load_digits(return_X_y=True)

transformers = {
    "PCA": PCA(n_components=2),
    "Autoencoder": AutoencoderTransformer(n_components=2, random_state=0),
    "VAE": VAETransformer(n_components=2, random_state=0),
}
pipelines = {
    name: make_pipeline(StandardScaler(), transformer).fit(X)
    for name, transformer in transformers.items()
}

# %%
# Plot the codes side by side
# ---------------------------
fig, axes = plt.subplots(1, 3, figsize=(15, 4.5), layout="constrained")
for ax, (name, pipe) in zip(axes, pipelines.items(), strict=True):
    LatentSpaceDisplay.from_estimator(pipe, X, y, ax=ax, name=name)
plt.show()

# %%
# PCA keeps the directions of largest variance: the digits overlap heavily in
# two linear dimensions. The autoencoder separates them better, in clusters of
# very different spreads, with empty space between them: nothing in its
# training objective asks the codes to fill a region, so a point in a gap may
# decode to nothing like a digit. The VAE's codes fill a disc of about the
# prior's size, with neighbouring digits next to each other and no large
# holes, which is what makes decoding random prior draws meaningful (see
# :ref:`sphx_glr_auto_examples_plot_03_sampling.py`).
#
# How close are the codes to N(0, I)? The VAE's mean code is near 0 and its
# per-dimension standard deviation near 1; the autoencoder's codes have
# whatever scale training left them with.
for name in ("Autoencoder", "VAE"):
    Z = pipelines[name].transform(X)
    print(f"{name:12s} code mean {Z.mean(axis=0).round(2)}, std {Z.std(axis=0).round(2)}")

# %%
# The training curves show where each fit stopped: the autoencoder's mean
# squared error, and the VAE's negative ELBO with its KL warm-up shaded.
fig, axes = plt.subplots(1, 2, figsize=(10, 3.5), layout="constrained")
LossCurveDisplay.from_estimator(pipelines["Autoencoder"], ax=axes[0])
LossCurveDisplay.from_estimator(pipelines["VAE"], ax=axes[1])
plt.show()
