"""
============================================
Denoising autoencoder: clean rows from noisy
============================================

An autoencoder trained on clean rows reconstructs clean rows well, and noisy
rows less well: it has never seen noise, so part of it passes through the
code. A *denoising* autoencoder (``corruption=...``) is trained on rows
corrupted on the fly, with its loss still measured against the clean rows, so
it learns to remove the noise.

We corrupt held-out digits in two ways (Gaussian noise, and 30% of the pixels
hidden), and compare what PCA, a plain autoencoder and a denoising
autoencoder of the same code width make of them.
"""

# %%
# Data and corruption
# -------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skaevae import AutoencoderTransformer
from skaevae.plotting import SampleDisplay

X, y = load_digits(return_X_y=True)
X_train, X_test = train_test_split(X, test_size=0.25, random_state=0)
scaler = StandardScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
corrupted = {
    "gaussian": X_test + 0.5 * np.random.default_rng(0).standard_normal(X_test.shape),
    # Hidden pixels are set to the training mean (0 after standardising).
    "masking": np.where(np.random.default_rng(0).random(X_test.shape) < 0.3, 0.0, X_test),
}
level = {"gaussian": 0.5, "masking": 0.3}

# %%
# Fit the models
# --------------
# One plain autoencoder and one denoising autoencoder per kind of noise, at
# the level we expect. Both train for 200 epochs: the denoising loss is
# noisier, and the plateau rule could otherwise stop it early.
budget = {"max_iter": 200, "n_iter_no_change": 200, "random_state": 0}
pca = PCA(16).fit(X_train)
ae = AutoencoderTransformer(16, **budget).fit(X_train)
dae = {
    kind: AutoencoderTransformer(16, corruption=kind, corruption_level=level[kind], **budget).fit(
        X_train
    )
    for kind in corrupted
}


def reconstruct(model, rows):
    return model.inverse_transform(model.transform(rows))


for kind, noisy in corrupted.items():
    for name, model in (("PCA", pca), ("autoencoder", ae), ("denoising AE", dae[kind])):
        mse = np.mean((reconstruct(model, noisy) - X_test) ** 2)
        print(f"{kind:8s} {name:13s} error against the clean rows: {mse:.3f}")

# %%
# The denoising autoencoder is closest to the clean rows for both kinds of
# noise (the Benchmarks page repeats this over seeds and three more data
# sets; on the digits the gain under masking is the smallest and varies with
# the draw of the hidden pixels). Its price is a worse reconstruction of
# clean rows:
for name, model in (("autoencoder", ae), *((f"denoising AE ({k})", m) for k, m in dae.items())):
    error = np.mean((reconstruct(model, X_test) - X_test) ** 2)
    print(f"{name:24s} error on clean rows: {error:.3f}")

# %%
# What the models see and return
# -------------------------------
# Rows: the clean digits, the noisy input, and the reconstructions. Pixels are
# shown in their original units.
shown = slice(0, 8)
for kind, noisy in corrupted.items():
    rows = {
        "clean": X_test[shown],
        f"{kind} input": noisy[shown],
        "PCA": reconstruct(pca, noisy[shown]),
        "autoencoder": reconstruct(ae, noisy[shown]),
        "denoising autoencoder": reconstruct(dae[kind], noisy[shown]),
    }
    fig, axes = plt.subplots(len(rows), 1, figsize=(8, 8), layout="constrained")
    for ax, (title, images) in zip(axes, rows.items(), strict=True):
        SampleDisplay(
            scaler.inverse_transform(images), image_shape=(8, 8), estimator_name=title
        ).plot(ax=ax)
    plt.show()
