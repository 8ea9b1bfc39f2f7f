"""
======================================================
Reconstructions and held-out error vs ``n_components``
======================================================

A transformer with ``inverse_transform`` compresses a row to ``n_components``
numbers and expands it back. How much is lost? We compare
:class:`~sklearn.decomposition.PCA` with
:class:`~skaevae.AutoencoderTransformer` on the digits, measuring the mean
squared reconstruction error on images *not* used for fitting, for several
code widths.
"""

# %%
# Data: standardised digits, split into training and held-out images
# -------------------------------------------------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skaevae import AutoencoderTransformer
from skaevae.plotting import ReconstructionDisplay

X, y = load_digits(return_X_y=True)
X_train, X_test = train_test_split(X, test_size=0.25, random_state=0)
scaler = StandardScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)


def held_out_error(transformer):
    """Mean squared reconstruction error on X_test, per standardised pixel."""
    X_hat = transformer.inverse_transform(transformer.transform(X_test))
    return np.mean((X_test - X_hat) ** 2)


# %%
# Error vs code width
# -------------------
# PCA's error falls as components are added, slowly: the digits do not lie
# near any low-dimensional *linear* subspace. The autoencoder's non-linear
# encoder and decoder do much better at small widths.
widths = [2, 4, 8, 16]
errors = {"PCA": [], "Autoencoder": []}
fitted = {}
for n_components in widths:
    pca = PCA(n_components=n_components).fit(X_train)
    ae = AutoencoderTransformer(n_components=n_components, max_iter=100, random_state=0)
    fitted[n_components] = pca, ae.fit(X_train)
    errors["PCA"].append(held_out_error(pca))
    errors["Autoencoder"].append(held_out_error(ae))
    print(
        f"n_components={n_components:2d}  PCA {errors['PCA'][-1]:.3f}  "
        f"autoencoder {errors['Autoencoder'][-1]:.3f}"
    )

fig, ax = plt.subplots(figsize=(5, 3.5), layout="constrained")
for name, values in errors.items():
    ax.plot(widths, values, marker="o", label=name)
ax.set_xscale("log", base=2)
ax.set_xticks(widths, labels=[str(w) for w in widths])
ax.set_xlabel("n_components")
ax.set_ylabel("held-out MSE (standardised pixels)")
ax.legend()
plt.show()

# %%
# What the errors look like
# -------------------------
# Held-out images (top rows) and their reconstructions (bottom rows) from an
# 8-wide code; each column's title is that image's squared error. The
# reconstructions are shown in standardised pixel units.
pca, ae = fitted[8]

fig, axes = plt.subplots(2, 1, figsize=(9, 5), layout="constrained")
ReconstructionDisplay.from_estimator(pca, X_test, image_shape=(8, 8), ax=axes[0], name="PCA")
ReconstructionDisplay.from_estimator(
    ae, X_test, image_shape=(8, 8), ax=axes[1], name="AutoencoderTransformer"
)
plt.show()
