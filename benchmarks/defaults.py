"""Why the defaults: candidate settings on sklearn's bundled tabular datasets.

For each dataset (standardised on the training part, 25% held out, 3 splits),
fits the autoencoder and the VAE under a few candidate settings and reports

- AE: held-out reconstruction error relative to PCA at the same n_components
  (lower is better; < 1 beats PCA);
- VAE: held-out log-likelihood minus PCA's (nats per row; > 0 beats PCA).

Run: ``python benchmarks/defaults.py`` (about 10 minutes on 2 cores). Writes
``benchmarks/results/defaults.md`` and ``.csv``; ``--report-only`` rewrites the
markdown from the csv.
"""

import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_wine
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skaevae import AutoencoderTransformer, VAETransformer

RESULTS = Path(__file__).parent / "results"

DATASETS = {
    "digits (1797x64, k=8)": (load_digits, 8),
    "breast_cancer (569x30, k=4)": (load_breast_cancer, 4),
    "wine (178x13, k=3)": (load_wine, 3),
    "diabetes (442x10, k=3)": (load_diabetes, 3),
}

CANDIDATES = {
    "default: (128, 64) relu, lr 1e-3, alpha 1e-4": {},
    "(64, 32)": {"hidden_layer_sizes": (64, 32)},
    "(256, 128)": {"hidden_layer_sizes": (256, 128)},
    "gelu": {"activation": "gelu"},
    "tanh": {"activation": "tanh"},
    "alpha 0": {"alpha": 0.0},
    "lr 3e-3": {"learning_rate_init": 3e-3},
    "early_stopping": {"early_stopping": True},
}


def main():
    torch.set_num_threads(1)
    warnings.simplefilter("ignore", ConvergenceWarning)
    rows = []
    start = time.perf_counter()
    for data_name, (loader, k) in DATASETS.items():
        X = loader().data
        for split in range(3):
            X_train, X_test = train_test_split(X, test_size=0.25, random_state=split)
            scaler = StandardScaler().fit(X_train)
            X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
            pca = PCA(n_components=k).fit(X_train)
            pca_error = np.mean((pca.inverse_transform(pca.transform(X_test)) - X_test) ** 2)
            pca_ll = pca.score(X_test)
            for cand_name, params in CANDIDATES.items():
                common = {"n_components": k, "random_state": split, "device": "cpu", **params}
                ae = AutoencoderTransformer(**common).fit(X_train)
                vae = VAETransformer(**common).fit(X_train)
                ae_error = np.mean((ae.inverse_transform(ae.transform(X_test)) - X_test) ** 2)
                rows.append(
                    {
                        "dataset": data_name,
                        "candidate": cand_name,
                        "split": split,
                        "AE error / PCA": ae_error / pca_error,
                        "VAE LL - PCA LL": vae.score(X_test) - pca_ll,
                        "AE epochs": ae.n_iter_,
                        "VAE epochs": vae.n_iter_,
                    }
                )
            print(
                f"{data_name} split {split} done ({time.perf_counter() - start:.0f} s)", flush=True
            )
    df = pd.DataFrame(rows)
    RESULTS.mkdir(exist_ok=True)
    df.to_csv(RESULTS / "defaults.csv", index=False)
    write_report(df)


def write_report(df):
    """Write ``defaults.md`` from the per-split results."""
    metrics = ["AE error / PCA", "VAE LL - PCA LL"]
    summary = df.groupby("candidate", sort=False)[metrics].mean()
    summary.columns = [f"{m} (mean over datasets)" for m in metrics]
    sections = []
    for metric in metrics:
        table = df.groupby(["candidate", "dataset"], sort=False)[metric].mean().unstack("dataset")
        sections.append(f"### {metric}\n\n" + table.to_markdown(floatfmt=".3f"))
    text = (
        "# Default settings: candidates on sklearn's bundled tabular datasets\n\n"
        "Command: `python benchmarks/defaults.py`  \n"
        f"Machine: {platform.machine()} CPU (2 cores), torch {torch.__version__}, "
        f"1 torch thread, Python {sys.version.split()[0]}; 3 random 75/25 splits, "
        "standardised on the training part; mean over splits.\n\n"
        "AE error / PCA: held-out reconstruction MSE relative to PCA at the same "
        "n_components (< 1 beats PCA). VAE LL - PCA LL: held-out mean log-likelihood "
        "minus PCA.score (nats per row; > 0 beats PCA).\n\n"
        "## Mean over datasets\n\n"
        + summary.to_markdown(floatfmt=".3f")
        + "\n\n## Per dataset\n\n"
        + "\n\n".join(sections)
        + "\n"
    )
    (RESULTS / "defaults.md").write_text(text)
    print(text)


if __name__ == "__main__":
    if "--report-only" in sys.argv:
        write_report(pd.read_csv(RESULTS / "defaults.csv"))
    else:
        main()
