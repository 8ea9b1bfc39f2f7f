"""The outlier detector on data with holes: 16 ADBench data sets with 20% of entries missing.

Protocol: the anomaly benchmark's (``benchmarks/anomaly_adbench.py``):
StandardScaler fitted on all X, each detector fitted on all X and scoring all
X, ROC-AUC against y, seeds 0, 1, 2. Then each entry of the standardised X is
hidden independently with probability 0.2 (a row left with nothing observed
gets one random entry back; the mask drawn from
``numpy.random.default_rng(seed)``), and

- ``complete``: ``OutlierDetector(random_state=seed)`` on the complete X;
- ``20% missing``: the same detector on X with the holes (NaN);
- ``SimpleImputer + IsolationForest``: ``make_pipeline(SimpleImputer(),
  IsolationForest(random_state=seed))`` on X with the holes.

Run from the repository root (about 5 minutes on 2 cores)::

    python benchmarks/missing_outliers.py

Writes ``benchmarks/results/missing_outliers.{csv,md}``.
"""

import os
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.ensemble import IsolationForest
from sklearn.impute import SimpleImputer
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skaevae import OutlierDetector

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data" / "adbench"
RESULTS = ROOT / "benchmarks" / "results"
SEEDS = (0, 1, 2)
RATE = 0.2


def holes(shape, seed):
    rng = np.random.default_rng(seed)
    mask = rng.random(shape) < RATE
    for row in np.flatnonzero(mask.all(axis=1)):
        mask[row, rng.integers(shape[1])] = False
    return mask


def detectors(seed):
    return {
        "complete": (False, lambda: OutlierDetector(random_state=seed)),
        "20% missing": (True, lambda: OutlierDetector(random_state=seed)),
        "SimpleImputer + IsolationForest": (
            True,
            lambda: make_pipeline(SimpleImputer(), IsolationForest(random_state=seed)),
        ),
    }


def main():
    torch.set_num_threads(1)
    paths = sorted(DATA.glob("*.npz"), key=lambda p: int(p.stem.split("_")[0]))
    rows = []
    for path in paths:
        if path.stem == "10_cover":  # kept for scale runs
            continue
        data = np.load(path)
        X = StandardScaler().fit_transform(data["X"].astype(np.float64))
        y = data["y"].astype(int)
        for seed in SEEDS:
            X_missing = np.where(holes(X.shape, seed), np.nan, X)
            for name, (missing, make) in detectors(seed).items():
                data_in = X_missing if missing else X
                start = time.process_time()
                scores = make().fit(data_in).score_samples(data_in)
                rows.append(
                    {
                        "dataset": path.stem.split("_", 1)[1],
                        "seed": seed,
                        "method": name,
                        "roc_auc": roc_auc_score(y, -scores),
                        "cpu_s": time.process_time() - start,
                    }
                )
            print(path.stem, seed, [round(r["roc_auc"], 3) for r in rows[-3:]], flush=True)
    runs = pd.DataFrame(rows)
    runs.to_csv(RESULTS / "missing_outliers.csv", index=False)
    table = runs.pivot_table(index="dataset", columns="method", values="roc_auc", aggfunc="mean")
    table = table[[name for name in detectors(0)]]
    table.loc["**mean ROC-AUC**"] = table.mean()
    seconds = runs.groupby("method").cpu_s.sum()
    table.loc["CPU s, all runs"] = [seconds[m] for m in table.columns]
    command = "python benchmarks/missing_outliers.py " + shlex.join(sys.argv[1:])
    lines = [
        "# The detector with 20% of entries missing (16 ADBench data sets)",
        "",
        f"Command: `{command.strip()}`",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs, "
        f"torch {torch.__version__} on 1 thread (CPU). Protocol: the script's docstring; "
        f"ROC-AUC, mean of seeds {', '.join(map(str, SEEDS))}.",
        "",
        table.to_markdown(floatfmt=".3f"),
        "",
    ]
    (RESULTS / "missing_outliers.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
