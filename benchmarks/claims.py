"""The AE/VAE claims, measured on digits with the same setup as the tests.

Standardised digits, 75% train / 25% held out (``random_state=0``),
``n_components=8``. Prints and saves ``benchmarks/results/claims.md``.

Run: ``python benchmarks/claims.py`` (under a minute on 2 cores).
"""

import platform
import sys
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skaevae import AutoencoderTransformer, VAETransformer

RESULTS = Path(__file__).parent / "results"


def held_out_error(model, X):
    return float(np.mean((model.inverse_transform(model.transform(X)) - X) ** 2))


def cov_error(samples, X):
    cov = np.cov(X, rowvar=False)
    return np.linalg.norm(np.cov(samples, rowvar=False) - cov) / np.linalg.norm(cov)


def main():
    warnings.simplefilter("ignore", ConvergenceWarning)
    X, y = load_digits(return_X_y=True)
    X_train, X_test = train_test_split(X, test_size=0.25, random_state=0)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)

    pca = PCA(n_components=8).fit(X_train)
    linear = AutoencoderTransformer(
        n_components=8,
        hidden_layer_sizes=(),
        activation="identity",
        alpha=0.0,
        learning_rate_init=1e-2,
        max_iter=300,
        random_state=0,
        device="cpu",
    ).fit(X_train)
    ae = AutoencoderTransformer(n_components=8, random_state=0, device="cpu").fit(X_train)
    vae = VAETransformer(n_components=8, random_state=0, device="cpu").fit(X_train)

    cov = np.cov(X_train, rowvar=False)
    independent = np.linalg.norm(np.diag(np.diag(cov)) - cov) / np.linalg.norm(cov)
    z_ae, z_vae = ae.transform(X_train), vae.transform(X_train)
    with torch.no_grad():
        loc, log_scale = vae.net_.module_.encode(torch.tensor(X_train, dtype=torch.float32))
        eps = torch.randn(loc.shape, generator=torch.Generator().manual_seed(0))
        z_draw = (loc + log_scale.exp() * eps).numpy()
    rows = [
        (
            "1",
            "linear AE held-out MSE / PCA(8) held-out MSE",
            "within 1 ± 0.02",
            f"{held_out_error(linear, X_test) / held_out_error(pca, X_test):.4f}",
        ),
        (
            "2",
            "default AE held-out MSE / PCA(8) held-out MSE",
            "≤ 0.6",
            f"{held_out_error(ae, X_test) / held_out_error(pca, X_test):.3f}",
        ),
        (
            "3",
            "VAE training codes z ~ q(z|x): max abs mean; per-dimension std range",
            "≈ 0; ≈ 1",
            f"{np.abs(z_draw.mean(0)).max():.3f}; "
            f"{z_draw.std(0).min():.2f}–{z_draw.std(0).max():.2f}",
        ),
        (
            "3",
            "VAE posterior means μ (transform): max abs mean; per-dimension std range",
            "≈ 0; ≲ 1",
            f"{np.abs(z_vae.mean(0)).max():.3f}; {z_vae.std(0).min():.2f}–{z_vae.std(0).max():.2f}",
        ),
        (
            "3",
            "AE training codes: max abs mean; per-dimension std range",
            "need not be",
            f"{np.abs(z_ae.mean(0)).max():.2f}; {z_ae.std(0).min():.2f}–{z_ae.std(0).max():.2f}",
        ),
        (
            "4",
            "held-out mean log-likelihood: VAE.score vs PCA(8).score",
            "VAE > PCA",
            f"{vae.score(X_test):.1f} vs {pca.score(X_test):.1f} nats/row",
        ),
        (
            "5",
            "2000 samples, covariance error ‖C_s − C‖/‖C‖: VAE; AE",
            "< independent",
            f"{cov_error(vae.sample(2000, random_state=0), X_train):.3f}; "
            f"{cov_error(ae.sample(2000, random_state=0), X_train):.3f} "
            f"(independent features: {independent:.3f})",
        ),
    ]
    # Claim 6: init="pca" starts from PCA. After 3 epochs, over seeds 0-2.
    short = {"n_components": 8, "max_iter": 3, "device": "cpu"}
    start = {}
    for init in ("random", "pca"):
        errors = [
            held_out_error(
                AutoencoderTransformer(**short, init=init, random_state=seed).fit(X_train), X_test
            )
            / held_out_error(pca, X_test)
            for seed in range(3)
        ]
        scores = [
            VAETransformer(**short, init=init, random_state=seed).fit(X_train).score(X_test)
            for seed in range(3)
        ]
        start[init] = (np.mean(errors), np.std(errors), np.mean(scores))
    rows.append(
        (
            "6",
            "after 3 epochs, seeds 0-2: AE held-out MSE / PCA (mean ± std); VAE score",
            "init='pca' < 1 and > PCA's score",
            "; ".join(
                f"{init}: {m:.3f} ± {sd:.4f}; {v:.1f} nats/row"
                for init, (m, sd, v) in start.items()
            )
            + f" (PCA: {pca.score(X_test):.1f})",
        )
    )
    header = "| claim | quantity | target | measured |\n|---|---|---|---|\n"
    table = header + "\n".join(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows)
    text = (
        "# The AE/VAE claims on digits\n\n"
        "Command: `python benchmarks/claims.py`  \n"
        f"Machine: {platform.machine()} CPU, torch {torch.__version__}, "
        f"Python {sys.version.split()[0]}. Standardised digits, 25% held out, "
        "n_components=8, random_state=0; the tests in `tests/test_autoencoder.py` and "
        "`tests/test_vae.py` assert these.\n\n" + table + "\n"
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "claims.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
