"""User-guide figure: a deterministic encoder (points) vs a probabilistic one (Gaussians)."""

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import Ellipse
from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler

from skaevae import AutoencoderTransformer, VAETransformer
from skaevae.plotting import LatentSpaceDisplay

X, y = load_digits(return_X_y=True)
X = StandardScaler().fit_transform(X)
ae = AutoencoderTransformer(n_components=2, max_iter=100, random_state=0).fit(X)
vae = VAETransformer(n_components=2, max_iter=100, random_state=0).fit(X)

fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), layout="constrained")
LatentSpaceDisplay.from_estimator(ae, X, y, ax=axes[0], name="autoencoder: x → z, a point")
LatentSpaceDisplay.from_estimator(
    vae,
    X,
    y,
    ax=axes[1],
    name="VAE: x → q(z | x) = N(μ(x), σ(x)²)",
    scatter_kwargs={"alpha": 0.25},
)

# The VAE's posterior of a few images: an ellipse of ±2σ around μ per image.
rows = np.random.RandomState(0).choice(len(X), size=25, replace=False)
with torch.no_grad():
    loc, log_scale = vae.net_.module_.encode(torch.as_tensor(X[rows], dtype=torch.float32))
colours = plt.get_cmap("tab10")(y[rows])
for (mx, my), (sx, sy), colour in zip(loc.numpy(), np.exp(log_scale.numpy()), colours, strict=True):
    axes[1].add_patch(
        Ellipse((mx, my), 4 * sx, 4 * sy, facecolor="none", edgecolor=colour, linewidth=1.2)
    )
    axes[1].plot(mx, my, "k+", markersize=5)
