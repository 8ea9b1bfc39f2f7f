"""Over-sampling the anomalies of 16 ADBench data sets: SMOTE against VAEOverSampler.

Protocol (fixed in advance):

- each data set as imbalanced binary classification, anomaly = minority
  class 1; every row and feature used (zero-variance columns dropped);
- stratified 70/30 split, ``train_test_split(..., stratify=y, random_state=s)``
  for seeds 0, 1, 2;
- three training sets: the original, ``imblearn.over_sampling.SMOTE(
  random_state=s)`` and ``skaevae.VAEOverSampler(random_state=s)`` (both with
  their defaults, ``sampling_strategy="auto"``: the classes equalised);
- two classifiers trained on each: ``make_pipeline(StandardScaler(),
  LogisticRegression(max_iter=1000))`` and
  ``HistGradientBoostingClassifier(random_state=s)``;
- on the untouched test part: average precision of the predicted
  probability of class 1 and balanced accuracy of the predictions; CPU
  seconds (``time.process_time``) of ``fit_resample``; torch and BLAS on one
  thread.

Each (data set, seed, sampler) result is appended to the CSV as soon as it is
measured, and a rerun skips what is already there, so data sets can be run in
separate processes (``--datasets``) and the table made from the union
(``--report``).

Run from the repository root::

    python benchmarks/oversampling.py            # everything, then the report
    python benchmarks/oversampling.py --report   # tables from the CSV only

Writes ``benchmarks/results/oversampling.{csv,md}``.
"""

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import shlex  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from imblearn.over_sampling import SMOTE  # noqa: E402
from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import average_precision_score, balanced_accuracy_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from skaevae import VAEOverSampler  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data" / "adbench"
RESULTS = ROOT / "benchmarks" / "results"
# 10_cover is kept for scale runs; these are the other 16, cheapest first.
DATASETS = [
    "42_WBC", "4_breastw", "29_Pima", "18_Ionosphere", "40_vowels", "38_thyroid",
    "6_cardio", "2_annthyroid", "23_mammography", "32_shuttle", "20_letter",
    "28_pendigits", "30_satellite", "31_satimage-2", "26_optdigits", "25_musk",
]  # fmt: skip
SEEDS = (0, 1, 2)
SAMPLERS = {
    "original": lambda seed: None,
    "SMOTE": lambda seed: SMOTE(random_state=seed),
    "VAEOverSampler": lambda seed: VAEOverSampler(random_state=seed),
}
CLASSIFIERS = {
    "LogisticRegression": lambda seed: make_pipeline(
        StandardScaler(), LogisticRegression(max_iter=1000)
    ),
    "HistGradientBoosting": lambda seed: HistGradientBoostingClassifier(random_state=seed),
}


def load(name):
    data = np.load(DATA / f"{name}.npz")
    X, y = data["X"].astype(np.float64), data["y"].astype(int)
    return X[:, X.std(axis=0) > 0], y


def measure(name, X, y, seed, sampler_name):
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=seed
    )
    sampler = SAMPLERS[sampler_name](seed)
    start = time.process_time()
    if sampler is not None:
        X_train, y_train = sampler.fit_resample(X_train, y_train)
    seconds = time.process_time() - start
    row = {
        "dataset": name,
        "seed": seed,
        "sampler": sampler_name,
        "n_train": len(y_train),
        "minority_train": int(y_train.sum()),
        "resample_cpu_s": seconds,
    }
    for clf_name, make in CLASSIFIERS.items():
        clf = make(seed).fit(X_train, y_train)
        row[f"{clf_name}_ap"] = average_precision_score(y_test, clf.predict_proba(X_test)[:, 1])
        row[f"{clf_name}_bacc"] = balanced_accuracy_score(y_test, clf.predict(X_test))
    return row


def measured(path):
    if not path.exists():
        return set()
    old = pd.read_csv(path)
    return set(zip(old.dataset, old.seed, old.sampler, strict=True))


def run(samplers, datasets, seeds, path):
    for seed in seeds:
        for name in datasets:
            X, y = load(name)
            for sampler_name in samplers:
                if (name, seed, sampler_name) in measured(path):
                    continue
                row = measure(name, X, y, seed, sampler_name)
                print(
                    f"{name:16s} seed={seed} {sampler_name:15s} "
                    + " ".join(f"{k}={v:.3f}" for k, v in row.items() if k.endswith(("ap", "bacc")))
                    + f" cpu={row['resample_cpu_s']:.1f}s",
                    flush=True,
                )
                pd.DataFrame([row]).to_csv(path, mode="a", header=not path.exists(), index=False)


def report(path, command):
    results = pd.read_csv(path).drop_duplicates(["dataset", "seed", "sampler"])
    samplers = [s for s in SAMPLERS if s in set(results.sampler)]
    lines = [
        "# Over-sampling the anomalies of 16 ADBench data sets",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs, "
        f"torch {torch.__version__} on 1 thread (CPU), Python {platform.python_version()}.",
        "Protocol: `benchmarks/oversampling.py` docstring. Test-set average precision (AP) "
        "and balanced accuracy, mean over the seeds present; higher is better; the best "
        "sampler of each row in bold.",
        "",
    ]
    summary = []
    for clf_name in CLASSIFIERS:
        for metric, label in (("ap", "average precision"), ("bacc", "balanced accuracy")):
            column = f"{clf_name}_{metric}"
            table = results.pivot_table(
                index="dataset", columns="sampler", values=column, aggfunc="mean"
            )
            table = table.reindex(columns=samplers)
            table = table.reindex([d for d in DATASETS if d in table.index])
            complete = table.dropna()
            shown = table.map(lambda v: f"{v:.3f}")
            for dataset, best in complete.idxmax(axis=1).items():
                shown.loc[dataset, best] = f"**{shown.loc[dataset, best]}**"
            means = complete.mean()
            shown.loc["**mean**"] = means.map(lambda v: f"{v:.3f}")
            if {"SMOTE", "VAEOverSampler"} <= set(complete.columns):
                wins = (complete.VAEOverSampler >= complete.SMOTE).sum()
                shown.loc["VAEOverSampler ≥ SMOTE (data sets)"] = ""
                shown.loc["VAEOverSampler ≥ SMOTE (data sets)", "VAEOverSampler"] = (
                    f"{wins} of {len(complete)}"
                )
                summary.append((clf_name, label, means.get("original"), means.SMOTE,
                                means.VAEOverSampler, len(complete)))  # fmt: skip
            lines += [f"## {clf_name}: {label}", "", shown.fillna("").to_markdown(), ""]
    seconds = results.pivot_table(
        index="dataset", columns="sampler", values="resample_cpu_s", aggfunc="mean"
    ).reindex(columns=[s for s in samplers if s != "original"])
    lines += [
        "## CPU seconds of fit_resample",
        "",
        seconds.reindex([d for d in DATASETS if d in seconds.index])
        .map(lambda v: f"{v:.1f}")
        .to_markdown(),
        "",
    ]
    if summary:
        head = ["", "## Summary (mean over data sets)", "",
                "| classifier | metric | original | SMOTE | VAEOverSampler | data sets |",
                "|---|---|---|---|---|---|"]  # fmt: skip
        head += [
            f"| {c} | {m} | {o:.3f} | {s:.3f} | {v:.3f} | {n} |" for c, m, o, s, v, n in summary
        ]
        lines[6:6] = head + [""]
    (RESULTS / "oversampling.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samplers", nargs="+", choices=list(SAMPLERS), default=list(SAMPLERS))
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=DATASETS)
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    parser.add_argument("--report", action="store_true", help="only write the tables")
    parser.add_argument("--output", type=Path, default=RESULTS / "oversampling.csv")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore", ConvergenceWarning)
    if not args.report:
        run(args.samplers, args.datasets, args.seeds, args.output)
    report(args.output, "python benchmarks/oversampling.py " + shlex.join(sys.argv[1:]))


if __name__ == "__main__":
    main()
