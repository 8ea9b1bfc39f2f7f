"""
============================================
A convolutional VAE with your own networks
============================================

``encoder`` and ``decoder`` take torch module classes, built with
``n_inputs``, ``n_outputs`` and the keyword arguments in ``encoder_params``
and ``decoder_params``. Here the encoder reads each digit as an 8×8 image
through convolutions, and the decoder paints one with transposed
convolutions; everything else (training, ``transform``, ``sample``,
``score_samples``, ``clone``, grid search) is the estimator's as usual.
"""

# %%
# The networks
# ------------
# A VAE's encoder returns ``2 * n_components`` numbers per row (the posterior
# means, then the log scales); its decoder returns the likelihood's
# parameters, here the mean of each of the 64 pixels.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from torch import nn

from skaevae import VAETransformer
from skaevae.plotting import SampleDisplay


class ConvEncoder(nn.Module):
    def __init__(self, n_inputs, n_outputs, channels=16):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Unflatten(1, (1, 8, 8)),
            nn.Conv2d(1, channels, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(channels, 2 * channels, 3, stride=2, padding=1),  # 4x4
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(2 * channels * 16, n_outputs),
        )

    def forward(self, x):
        return self.layers(x)


class ConvDecoder(nn.Module):
    def __init__(self, n_inputs, n_outputs, channels=16):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(n_inputs, 2 * channels * 16),
            nn.ReLU(),
            nn.Unflatten(1, (2 * channels, 4, 4)),
            nn.ConvTranspose2d(2 * channels, channels, 4, stride=2, padding=1),  # 8x8
            nn.ReLU(),
            nn.Conv2d(channels, 1, 3, padding=1),
            nn.Flatten(),
        )

    def forward(self, z):
        return self.layers(z)


# %%
# Fit it next to the default MLP VAE
# ----------------------------------
X, y = load_digits(return_X_y=True)
X_train, X_test = train_test_split(X, test_size=0.25, random_state=0)
scaler = StandardScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
common = {"n_components": 8, "max_iter": 100, "random_state": 0}
conv = VAETransformer(
    encoder=ConvEncoder, decoder=ConvDecoder, encoder_params={"channels": 16}, **common
).fit(X_train)
mlp = VAETransformer(**common).fit(X_train)
for name, vae in (("convolutional", conv), ("MLP", mlp)):
    n_params = sum(p.numel() for p in vae.net_.module_.parameters())
    print(
        f"{name:13s} VAE: {n_params:6d} parameters, held-out log-likelihood {vae.score(X_test):.1f}"
    )

# %%
# The held-out log-likelihood (nats per digit, higher is better) compares the
# two as density models on the same data.

# %%
# Samples
# -------
# Decoder means of the same prior draws, from each model.
z = np.random.default_rng(0).standard_normal((16, 8))
fig, axes = plt.subplots(2, 1, figsize=(8, 4.5), layout="constrained")
for ax, (name, vae) in zip(axes, (("convolutional VAE", conv), ("MLP VAE", mlp)), strict=True):
    SampleDisplay(
        scaler.inverse_transform(vae.inverse_transform(z)), image_shape=(8, 8), estimator_name=name
    ).plot(ax=ax)
plt.show()
