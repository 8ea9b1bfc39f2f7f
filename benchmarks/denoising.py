"""Reconstructing clean rows from corrupted ones: denoising AE, plain AE and PCA.

Protocol (fixed in advance):

- data: scikit-learn's digits and three ADBench data sets (6_cardio,
  30_satellite, 25_musk), features only; zero-variance columns dropped;
- 75/25 split (``train_test_split(..., random_state=s)``), standardised with
  the training part's mean and standard deviation;
- ``n_components = min(16, n_features // 4)`` for every model;
- the held-out rows are corrupted in two ways, one at a time: Gaussian noise
  (``+ 0.5 · N(0, 1)`` on every entry) and masking (each entry set to 0, the
  training mean, with probability 0.3), noise drawn from
  ``numpy.random.default_rng(s)``;
- models, fitted on the clean training rows: ``PCA(n_components)``;
  ``AutoencoderTransformer(n_components, random_state=s)``; and the same with
  ``corruption`` of the kind being tested at the same level (``"gaussian"``,
  0.5; ``"masking"``, 0.3). Both networks train for the same fixed budget,
  200 epochs (the default ``max_iter``, with ``n_iter_no_change=200`` so that
  neither stops on its noisier or smoother training loss);
- score: mean squared error between the reconstruction of the corrupted rows
  (``inverse_transform(transform(X_corrupted))``) and the clean rows, in
  standardised units; seeds 0, 1, 2.

Run from the repository root::

    python benchmarks/denoising.py

Writes ``benchmarks/results/denoising.{csv,md}``.
"""

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import shlex  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from skaevae import AutoencoderTransformer  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data" / "adbench"
RESULTS = ROOT / "benchmarks" / "results"
DATASETS = ["digits", "6_cardio", "30_satellite", "25_musk"]
NOISES = {"gaussian": 0.5, "masking": 0.3}
SEEDS = (0, 1, 2)
EPOCHS = 200


def load(name):
    if name == "digits":
        X = load_digits().data.astype(np.float64)
    else:
        X = np.load(DATA / f"{name}.npz")["X"].astype(np.float64)
    return X[:, X.std(axis=0) > 0]


def corrupt(X, kind, level, seed):
    rng = np.random.default_rng(seed)
    if kind == "gaussian":
        return X + level * rng.standard_normal(X.shape)
    return np.where(rng.random(X.shape) < level, 0.0, X)


def measure(name, seed):
    X = load(name)
    X_train, X_test = train_test_split(X, test_size=0.25, random_state=seed)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    k = min(16, X.shape[1] // 4)
    pca = PCA(k).fit(X_train)
    network = {"max_iter": EPOCHS, "n_iter_no_change": EPOCHS, "random_state": seed}
    ae = AutoencoderTransformer(k, **network).fit(X_train)
    rows = []
    for kind, level in NOISES.items():
        X_noisy = corrupt(X_test, kind, level, seed)
        dae = AutoencoderTransformer(k, corruption=kind, corruption_level=level, **network)
        dae.fit(X_train)
        for model_name, model in (("PCA", pca), ("AE", ae), ("denoising AE", dae)):
            X_hat = model.inverse_transform(model.transform(X_noisy))
            rows.append(
                {
                    "dataset": name,
                    "seed": seed,
                    "noise": kind,
                    "model": model_name,
                    "n_components": k,
                    "mse": float(np.mean((X_hat - X_test) ** 2)),
                    "clean_mse": float(
                        np.mean((model.inverse_transform(model.transform(X_test)) - X_test) ** 2)
                    ),
                }
            )
            print(
                f"{name:13s} seed={seed} {kind:8s} {model_name:12s} mse={rows[-1]['mse']:.4f}",
                flush=True,
            )
    return rows


def report(results, command):
    lines = [
        "# Denoising: reconstruction of corrupted held-out rows",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs, "
        f"torch {torch.__version__} on 1 thread (CPU), Python {platform.python_version()}.",
        "Protocol: `benchmarks/denoising.py` docstring. Mean squared error against the clean "
        "rows, standardised units, mean ± standard deviation over the seeds; lower is better, "
        "the best model of each row in bold. *Clean* is the error on uncorrupted rows, the "
        "price of denoising.",
        "",
    ]
    models = ["PCA", "AE", "denoising AE"]
    for kind in NOISES:
        part = results[results.noise == kind]
        paired = part.pivot_table(index=["dataset", "seed"], columns="model", values="mse")
        paired_below = (paired["denoising AE"] < paired[["AE", "PCA"]].min(axis=1)).sum()
        mean = part.pivot_table(index="dataset", columns="model", values="mse", aggfunc="mean")
        std = part.pivot_table(index="dataset", columns="model", values="mse", aggfunc="std")
        clean = part.pivot_table(index="dataset", columns="model", values="clean_mse")
        mean = mean.reindex(columns=models).reindex(DATASETS)
        shown = mean.copy().astype(object)
        for dataset in mean.index:
            best = mean.loc[dataset].idxmin()
            for model in models:
                cell = f"{mean.loc[dataset, model]:.3f} ± {std.loc[dataset, model]:.3f}"
                shown.loc[dataset, model] = f"**{cell}**" if model == best else cell
        shown["clean: AE / denoising AE"] = [
            f"{clean.loc[d, 'AE']:.3f} / {clean.loc[d, 'denoising AE']:.3f}" for d in mean.index
        ]
        below = (mean["denoising AE"] < mean[["AE", "PCA"]].min(axis=1)).sum()
        noise = "Gaussian σ = 0.5" if kind == "gaussian" else "30% masking"
        lines += [
            f"## {noise}",
            "",
            shown.to_markdown(),
            "",
            f"Denoising AE below both on {below} of {len(mean)} data sets (mean over seeds), "
            f"and in {paired_below} of {len(paired)} (data set, seed) pairs.",
            "",
        ]
    (RESULTS / "denoising.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=DATASETS)
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    parser.add_argument("--report", action="store_true", help="only write the tables")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore", ConvergenceWarning)
    path = RESULTS / "denoising.csv"
    if not args.report:
        rows = [row for seed in args.seeds for name in args.datasets for row in measure(name, seed)]
        pd.DataFrame(rows).to_csv(path, index=False)
    report(pd.read_csv(path), "python benchmarks/denoising.py " + shlex.join(sys.argv[1:]))


if __name__ == "__main__":
    main()
