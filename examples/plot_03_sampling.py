"""
==============================================
Sampling and interpolation: autoencoder vs VAE
==============================================

Both estimators have a ``sample`` method, but only one is a generative model.

* :meth:`skaevae.VAETransformer.sample` draws codes from the prior N(0, I),
  which training pulled the codes towards, and decodes them.
* :class:`skaevae.AutoencoderTransformer` has no model of its latent space:
  its ``sample`` fits a Gaussian to the training codes and decodes draws
  from it (a two-stage approximation). Where the codes form separate clusters
  with empty space between them, many draws land in the gaps.

We fit both with an 8-wide code on the digits, then compare their samples and
what they decode along straight lines between the codes of two images.
"""

# %%
# Fit both models
# ---------------
# The pipelines standardise the pixels; their ``inverse_transform`` (used by
# the displays) maps decoded rows back to pixel values.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.neighbors import NearestNeighbors
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skaevae import AutoencoderTransformer, VAETransformer
from skaevae.plotting import InterpolationDisplay, SampleDisplay

X, y = load_digits(return_X_y=True)
ae = make_pipeline(
    StandardScaler(), AutoencoderTransformer(n_components=8, max_iter=100, random_state=0)
).fit(X)
vae = make_pipeline(
    StandardScaler(), VAETransformer(n_components=8, max_iter=150, random_state=0)
).fit(X)

# %%
# Samples
# -------
# ``SampleDisplay.from_estimator`` calls ``sample``. The VAE's samples include
# the decoder's Gaussian output noise (the model's ``p(x | z)``), so the third
# panel shows the noise-free decoder means of the same kind of prior draws,
# through ``inverse_transform``: the VAE's picture of a typical digit.
fig, axes = plt.subplots(3, 1, figsize=(8, 7.5), layout="constrained")
titles = {
    "AutoencoderTransformer.sample (Gaussian fitted to the codes)": ae,
    "VAETransformer.sample (prior draws, with output noise)": vae,
}
for ax, (title, pipe) in zip(axes, titles.items(), strict=False):
    SampleDisplay.from_estimator(
        pipe, n_samples=16, image_shape=(8, 8), random_state=0, ax=ax, name=title
    )
z = np.random.RandomState(0).standard_normal((16, 8))
SampleDisplay(
    vae.inverse_transform(z),
    image_shape=(8, 8),
    estimator_name="VAETransformer decoder mean of prior draws",
).plot(ax=axes[2])
plt.show()

# %%
# Interpolations
# --------------
# Each row decodes eight evenly spaced points on the straight line between
# the codes of two images (t=0 and t=1 are their reconstructions). The VAE's
# KL term keeps the space between codes populated, so its rows change
# gradually from one digit to the other.
start = X[[np.flatnonzero(y == d)[0] for d in (0, 1, 7)]]
end = X[[np.flatnonzero(y == d)[0] for d in (6, 4, 2)]]
fig, axes = plt.subplots(2, 1, figsize=(8, 8), layout="constrained")
InterpolationDisplay.from_estimator(ae, start, end, image_shape=(8, 8), ax=axes[0])
InterpolationDisplay.from_estimator(vae, start, end, image_shape=(8, 8), ax=axes[1])
plt.show()

# %%
# How plausible are the samples? One check is how far each one lies from its
# nearest real image, in standardised pixel units: a sample far from every
# training image is not a digit the data contains. The VAE's output noise adds
# distance of its own, so its noise-free decoder means are measured too.
scaler = ae[0]
neighbours = NearestNeighbors(n_neighbors=1).fit(scaler.transform(X))
candidates = {
    "autoencoder sample": ae[-1].sample(500, random_state=1),
    "VAE sample": vae[-1].sample(500, random_state=1),
    "VAE decoder mean": vae[-1].inverse_transform(
        np.random.RandomState(1).standard_normal((500, 8))
    ),
}
for name, samples in candidates.items():
    distance, _ = neighbours.kneighbors(samples)
    print(f"{name:18s} median distance to the nearest image: {np.median(distance):.2f}")

# %%
# The VAE's decoder means lie closest to real images. Its samples lie
# farthest: they add the decoder's output noise, independent from pixel to
# pixel, which real images do not have; use ``inverse_transform`` of prior
# draws when you want typical rows rather than draws from the full model. The
# autoencoder's samples fall in between: a single Gaussian over clustered codes
# also draws codes between the clusters, where the decoder was never trained.
