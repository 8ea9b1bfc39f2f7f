"""Anomalies planted in real mixed-type tables: the detector on the table and on one-hot codes.

On five tables of ``shared/data/tabular`` (rows with missing values dropped,
at most 2,000 rows: the first of ``numpy.random.default_rng(0).permutation``),
anomalies are planted by swapping: for 10% of the rows (at most 100), every
categorical column takes the values of another random row; a planted row whose
categories did not change is not counted as an anomaly. Each detector is
fitted on all rows and scores them; the table is ROC-AUC against the planted
labels.

- ``one-hot codes``: ``OutlierDetector()`` on ``StandardScaler`` +
  ``OneHotEncoder`` codes made by hand (what a user had to do);
- ``table, default``: ``OutlierDetector()`` on the DataFrame (it encodes the
  table the same way, and attributes per column);
- ``table, AE``: ``OutlierDetector(AutoencoderTransformer(random_state=0))``,
  whose network reads the table itself (cross-entropy for categories);
- ``table, VAE log-lik``: ``OutlierDetector(VAETransformer(random_state=0),
  method="estimator")``, the per-column log-likelihood;
- ``IsolationForest (one-hot)``: on the same one-hot codes, mean ROC-AUC of
  seeds 0, 1 and 2;
- ``PyOD ... (one-hot)``: PyOD's classical zoo with its defaults on the same
  codes (as in ``anomaly_adbench.py``; seed 0 for MCD, CBLOF and AutoEncoder),
  when PyOD is installed.

Run: ``python benchmarks/mixed_outliers.py`` (about 5 minutes on 2 cores; pandas' markdown
output needs ``tabulate``).
Writes ``benchmarks/results/mixed_outliers.md``.
"""

import os
import platform
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.compose import make_column_transformer
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skaevae import AutoencoderTransformer, OutlierDetector, VAETransformer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from anomaly_adbench import DEFAULT_METHODS, isolation_forest, methods  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "tabular"
TABLES = ["Computers", "Star", "Hdma", "Males", "penguins"]


def planted(table):
    df = pd.read_csv(DATA / f"{table}.csv").dropna()
    rng = np.random.default_rng(0)
    df = df.iloc[rng.permutation(len(df))[:2000]].reset_index(drop=True)
    categorical = [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])]
    X, y = df.copy(), np.zeros(len(df), dtype=int)
    rows = rng.choice(len(X), min(100, len(X) // 10), replace=False)
    donors = rng.choice(len(X), len(rows))
    X.loc[rows, categorical] = df.loc[donors, categorical].to_numpy()
    changed = (X.loc[rows, categorical].to_numpy() != df.loc[rows, categorical].to_numpy()).any(
        axis=1
    )
    y[rows[changed]] = 1
    return X, y, categorical


def zoo():
    """PyOD's classical zoo of ``anomaly_adbench.py``, or nothing without PyOD."""
    try:
        import pyod  # noqa: F401
    except ImportError:
        return {}
    found = methods(include_pyod=True)
    return {name: found[name] for name in DEFAULT_METHODS if name.startswith("PyOD")}


def main():
    torch.set_num_threads(1)
    warnings.simplefilter("ignore", ConvergenceWarning)
    results = []
    for table in TABLES:
        X, y, categorical = planted(table)
        numeric = [c for c in X.columns if c not in categorical]
        codes = make_column_transformer(
            (StandardScaler(), numeric), (OneHotEncoder(sparse_output=False), categorical)
        ).fit_transform(X)
        detectors = {
            "one-hot codes": (OutlierDetector(random_state=0), codes),
            "table, default": (OutlierDetector(random_state=0), X),
            "table, AE": (OutlierDetector(AutoencoderTransformer(random_state=0)), X),
            "table, VAE log-lik": (
                OutlierDetector(VAETransformer(random_state=0), method="estimator"),
                X,
            ),
        }
        row = {"table": table, "rows": len(X), "anomalies": int(y.sum())}
        for name, (detector, data) in detectors.items():
            row[name] = roc_auc_score(y, -detector.fit(data).score_samples(data))
        row["IsolationForest (one-hot)"] = np.mean(
            [roc_auc_score(y, isolation_forest(seed)(codes)) for seed in range(3)]
        )
        for name, (make, _) in zoo().items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                anomaly = make(0)(codes)
                if anomaly is None:
                    row[f"{name} (one-hot)"] = np.nan
                    continue
                # LOF's score of a row among exact duplicates is infinite:
                # the most abnormal, ranked as such.
                finite = anomaly[np.isfinite(anomaly)]
                if finite.size:
                    anomaly = np.nan_to_num(
                        anomaly, posinf=finite.max() + 1, neginf=finite.min() - 1
                    )
                else:
                    anomaly = np.zeros(len(anomaly))
                row[f"{name} (one-hot)"] = roc_auc_score(y, anomaly)
        print(row, flush=True)
        results.append(row)
    frame = pd.DataFrame(results).set_index("table")
    scores = frame.drop(columns=["rows", "anomalies"])
    scores.loc["mean"] = scores.mean()
    counts = frame[["rows", "anomalies"]].astype(str).reindex(scores.index, fill_value="")
    frame = pd.concat([counts, scores.map(lambda v: f"{v:.3f}")], axis=1)
    cpu = platform.processor() or "CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    lines = [
        "# Anomalies planted in mixed-type tables",
        "",
        "Command: `python benchmarks/mixed_outliers.py`  ",
        f"Machine: {cpu}, {os.cpu_count()} cores, torch {torch.__version__} on one thread.",
        "",
        "ROC-AUC of each detector's scores against rows whose categories were swapped with "
        "another row's (see the script's docstring).",
        "",
        frame.to_markdown(disable_numparse=True),
        "",
    ]
    others = scores.columns[scores.columns.str.endswith("(one-hot)")]
    if len(others):
        best = scores.loc["mean", others].idxmax()
        lines += [
            f"Best single method on the one-hot codes (mean): {best}, "
            f"{scores.loc['mean', best]:.3f}; `table, default`: "
            f"{scores.loc['mean', 'table, default']:.3f}.",
            "",
        ]
    (ROOT / "benchmarks" / "results" / "mixed_outliers.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
