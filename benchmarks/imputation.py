"""Imputation of entries missing completely at random, on 16 ADBench data sets, side by side.

Protocol (fixed in advance, features only, ``y`` unused):

- rows capped at 5,000 (the first 5,000 of ``numpy.random.default_rng(0).permutation``);
  zero-variance columns dropped; every column standardised with the mean and
  standard deviation of those rows;
- MCAR: each entry masked independently with probability ``p`` in {0.2, 0.5};
  a row left with nothing observed gets one random entry back; mask seeds 0, 1, 2;
- RMSE over the masked entries, in standardised units; CPU seconds
  (``time.process_time``) per ``fit_transform``, torch and BLAS on one thread,
  after one untimed fit of each method on a small random matrix (first-call
  set-up is not counted);
- methods: ``SimpleImputer()`` (mean), ``KNNImputer(n_neighbors=5)``,
  ``IterativeImputer(max_iter=10, random_state=s)`` (MICE), missForest as
  ``IterativeImputer(ExtraTreesRegressor(n_estimators=50, random_state=s),
  max_iter=5, random_state=s)``, and ``skaevae.VAEImputer(random_state=s)``
  with its defaults.

Each (data set, p, seed, method) result is appended to the CSV as soon as it
is measured, and a rerun skips what is already there, so the slow reference
methods and skaevae can be run in separate invocations (``--methods``) and the
table made from the union (``--report``).

Run from the repository root::

    python benchmarks/imputation.py                       # everything, then the report
    python benchmarks/imputation.py --methods VAEImputer  # one method
    python benchmarks/imputation.py --report              # tables from the CSV only

Writes ``benchmarks/results/imputation.{csv,md}``.
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
from sklearn.ensemble import ExtraTreesRegressor  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.experimental import enable_iterative_imputer  # noqa: E402,F401
from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data" / "adbench"
RESULTS = ROOT / "benchmarks" / "results"
# 10_cover is kept for scale runs; these are the other 16, cheapest first.
DATASETS = [
    "42_WBC", "4_breastw", "29_Pima", "18_Ionosphere", "40_vowels", "38_thyroid",
    "6_cardio", "2_annthyroid", "23_mammography", "32_shuttle", "20_letter",
    "28_pendigits", "30_satellite", "31_satimage-2", "26_optdigits", "25_musk",
]  # fmt: skip
RATES = (0.2, 0.5)
SEEDS = (0, 1, 2)


def vae_imputer(seed):
    from skaevae import VAEImputer

    return VAEImputer(random_state=seed)


METHODS = {
    "mean": lambda seed: SimpleImputer(),
    "KNN": lambda seed: KNNImputer(n_neighbors=5),
    "MICE": lambda seed: IterativeImputer(max_iter=10, random_state=seed),
    "missForest": lambda seed: IterativeImputer(
        ExtraTreesRegressor(n_estimators=50, random_state=seed), max_iter=5, random_state=seed
    ),
    "VAEImputer": vae_imputer,
}


def load(name):
    """The standardised feature matrix of one data set, as the protocol prepares it."""
    X = np.load(DATA / f"{name}.npz")["X"].astype(np.float64)
    X = X[np.random.default_rng(0).permutation(len(X))[:5000]]
    X = X[:, X.std(axis=0) > 0]
    return (X - X.mean(axis=0)) / X.std(axis=0)


def mcar_mask(shape, p, seed):
    """Entries masked independently with probability p; no row left empty."""
    rng = np.random.default_rng(seed)
    mask = rng.random(shape) < p
    for row in np.flatnonzero(mask.all(axis=1)):
        mask[row, rng.integers(shape[1])] = False
    return mask


def measure(name, X, p, seed, method):
    mask = mcar_mask(X.shape, p, seed)
    X_missing = np.where(mask, np.nan, X)
    imputer = METHODS[method](seed)
    start = time.process_time()
    X_filled = imputer.fit_transform(X_missing)
    seconds = time.process_time() - start
    if X_filled.shape != X.shape or not np.isfinite(X_filled).all():
        raise RuntimeError(f"{method} on {name}: a hole left or a column dropped")
    return {
        "dataset": name,
        "p": p,
        "seed": seed,
        "method": method,
        "rmse": float(np.sqrt(np.mean((X_filled[mask] - X[mask]) ** 2))),
        "cpu_s": seconds,
        "observed_unchanged": bool(np.array_equal(X_filled[~mask], X_missing[~mask])),
    }


def measured(path):
    """The (data set, p, seed, method) already in the CSV (another process may be adding)."""
    if not path.exists():
        return set()
    old = pd.read_csv(path)
    return set(zip(old.dataset, old.p, old.seed, old.method, strict=True))


def warm_up(methods):
    """One untimed fit of each method, so that no timed run pays for first-call set-up."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 5))
    X[rng.random(X.shape) < 0.2] = np.nan
    for method in methods:
        METHODS[method](0).fit_transform(X)


def run(methods, datasets, rates, seeds, path):
    warm_up(methods)
    for seed in seeds:
        for p in rates:
            for name in datasets:
                X = load(name)
                for method in methods:
                    if (name, p, seed, method) in measured(path):
                        continue
                    row = measure(name, X, p, seed, method)
                    print(
                        f"{name:16s} p={p} seed={seed} {method:11s} "
                        f"rmse={row['rmse']:.3f} cpu={row['cpu_s']:.1f}s",
                        flush=True,
                    )
                    pd.DataFrame([row]).to_csv(
                        path, mode="a", header=not path.exists(), index=False
                    )


def report(path, command):
    # Runs in parallel processes may measure a cell twice; the first counts.
    results = pd.read_csv(path).drop_duplicates(["dataset", "p", "seed", "method"])
    methods = [m for m in METHODS if m in set(results.method)]
    lines = [
        "# Imputation of MCAR entries on 16 ADBench data sets",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs, "
        f"torch {torch.__version__} on 1 thread (CPU), Python {platform.python_version()}.",
        "Protocol: `benchmarks/imputation.py` docstring. RMSE over the masked entries in "
        "standardised units (mean of the seeds present; lower is better); CPU seconds per "
        "`fit_transform`.",
        "",
    ]
    for p in RATES:
        at_p = results[results.p == p]
        if at_p.empty:
            continue
        rmse = at_p.pivot_table(index="dataset", columns="method", values="rmse", aggfunc="mean")
        seconds = at_p.pivot_table(
            index="dataset", columns="method", values="cpu_s", aggfunc="mean"
        )
        seeds = at_p.pivot_table(index="dataset", columns="method", values="seed", aggfunc="count")
        rmse = rmse.reindex(columns=methods).reindex([d for d in DATASETS if d in rmse.index])
        complete = rmse.dropna()
        table = rmse.map(lambda v: f"{v:.3f}")
        best = complete.idxmin(axis=1)
        for dataset, method in best.items():
            table.loc[dataset, method] = f"**{table.loc[dataset, method]}**"
        if "missForest" in seconds and "VAEImputer" in seconds:
            table["VAEImputer / missForest CPU"] = (
                seconds["VAEImputer"] / seconds["missForest"]
            ).map(lambda v: f"{v:.2f}")
        table.loc["**mean** (data sets with every method)"] = complete.mean().map(
            lambda v: f"{v:.3f}"
        )
        table.loc["data sets where best"] = (
            best.value_counts().reindex(methods).fillna(0).map(lambda v: f"{int(v)}")
        )
        table.loc["CPU s, sum over those data sets"] = (
            seconds.loc[complete.index].reindex(columns=methods).sum().map(lambda v: f"{v:.0f}")
        )
        lines += [
            f"## p = {p}",
            "",
            f"Seeds per cell: {int(seeds.min().min())} to {int(seeds.max().max())}; "
            f"{len(complete)} of {len(rmse)} data sets have every method.",
            "",
            table.fillna("").to_markdown(),
            "",
        ]
    if "observed_unchanged" in results:
        lines.append(
            "Observed entries returned unchanged in every run: "
            + ", ".join(
                f"{m} {'yes' if results[results.method == m].observed_unchanged.all() else 'NO'}"
                for m in methods
            )
            + "."
        )
    (RESULTS / "imputation.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS))
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=DATASETS)
    parser.add_argument("--rates", nargs="+", type=float, default=list(RATES))
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    parser.add_argument("--report", action="store_true", help="only write the tables")
    parser.add_argument("--output", type=Path, default=RESULTS / "imputation.csv")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore", ConvergenceWarning)
    if not args.report:
        run(args.methods, args.datasets, args.rates, args.seeds, args.output)
    report(args.output, "python benchmarks/imputation.py " + shlex.join(sys.argv[1:]))


if __name__ == "__main__":
    main()
