"""User-guide figure: the VAE's 2-D latent space for three values of beta."""

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler

from skaevae import VAETransformer
from skaevae.plotting import LatentSpaceDisplay

X, y = load_digits(return_X_y=True)
X = StandardScaler().fit_transform(X)

fig, axes = plt.subplots(1, 3, figsize=(15, 4.3), layout="constrained")
for ax, beta in zip(axes, (0.25, 1.0, 4.0), strict=True):
    vae = VAETransformer(n_components=2, beta=beta, max_iter=100, random_state=0).fit(X)
    with torch.no_grad():
        kl = vae.net_.module_.kl(torch.as_tensor(X, dtype=torch.float32)).numpy()
    X_hat = vae.inverse_transform(vae.transform(X))
    mse = np.mean((X - X_hat) ** 2)
    LatentSpaceDisplay.from_estimator(
        vae, X, y, ax=ax, name=f"beta={beta:g}: KL {kl.mean():.2f} nats, MSE {mse:.2f}"
    )
    ax.set_xlim(-4.5, 4.5)
    ax.set_ylim(-4.5, 4.5)
    ax.set_aspect("equal")
    if ax is not axes[-1]:
        ax.get_legend().remove()
