"""Unsupervised anomaly detection on 16 ADBench tabular data sets, side by side.

Protocol (``../shared/data/adbench/README.md``): StandardScaler fitted on all
X, each detector fitted on all X (anomalies included) and scoring all X,
ROC-AUC and average precision against y. Every detector runs with one
configuration for all data sets: skaevae's ``OutlierDetector`` with its
defaults, scikit-learn's IsolationForest, and PyOD's classical zoo with its
defaults when PyOD is installed (it is optional; its detectors are skipped
without it): ``KNN``, ``LOF``, ``MCD`` (left out on data sets of more than
200 features, where its covariance fits take minutes), ``CBLOF``, ``ECOD``,
``COPOD``, ``HBOS``, ``PCA`` and ``AutoEncoder``. A PyOD detector scores the
training rows by its ``decision_scores_`` (a row is not its own neighbour).
CBLOF raises an error on data whose clusters it cannot split into large and
small ones: such a data set (and seed) is left out of its means, and the
results say so. Infinite scores (PyOD's PCA on a direction of no variance)
rank beyond every finite one.
``--methods`` also offers ``"skaevae VAE"``, ``"PCA reconstruction"`` (90 %
of the variance) and ``"PyOD VAE"``.

Stochastic methods (ours, IsolationForest, MCD, CBLOF, AutoEncoder) run with
``--seeds`` seeds (default 3); the deterministic ones once. The summary adds
the per-data-set best method (an oracle: it needs the labels) and how the
lead of the first method over the best other one varies when each data set
in turn is left out.

Time is the CPU time of the process (``time.process_time``, all threads)
for fit + score. Torch runs on ``--torch-threads`` threads (default 1) and
the BLAS and OpenMP pools on one thread (``threadpoolctl``) for every
method: on a shared machine idle threads spin and multiply CPU time without
speeding anything up.

Run from the repository root::

    python benchmarks/anomaly_adbench.py

Writes ``benchmarks/results/anomaly_adbench.{csv,md,png}``.
"""

import argparse
import os
import platform
import shlex
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from skaevae import OutlierDetector

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data" / "adbench"
RESULTS = ROOT / "benchmarks" / "results"
# 10_cover is kept for scale runs, not for this table.
EXCLUDED = {"10_cover"}


def pca_reconstruction(seed):
    """Squared reconstruction error of PCA keeping 90 % of the variance."""

    def score(X):
        pca = PCA(n_components=0.9, random_state=seed).fit(X)
        return np.square(X - pca.inverse_transform(pca.transform(X))).sum(axis=1)

    return score


def skaevae_detector(kind):
    def make(seed):
        def score(X):
            return -OutlierDetector(kind, random_state=seed).fit(X).score_samples(X)

        return score

    return make


def isolation_forest(seed):
    def score(X):
        return -IsolationForest(random_state=seed).fit(X).score_samples(X)

    return score


# PyOD detectors of the classical zoo: module, class, whether a seed changes
# the result.
PYOD_ZOO = {
    "KNN": ("knn", "KNN", False),
    "LOF": ("lof", "LOF", False),
    "MCD": ("mcd", "MCD", True),
    "CBLOF": ("cblof", "CBLOF", True),
    "ECOD": ("ecod", "ECOD", False),
    "COPOD": ("copod", "COPOD", False),
    "HBOS": ("hbos", "HBOS", False),
    "PCA": ("pca", "PCA", False),
    "AutoEncoder": ("auto_encoder", "AutoEncoder", True),
    "VAE": ("vae", "VAE", True),
}
# MCD is left out above this many features.
MCD_MAX_FEATURES = 200


def pyod_detector(name):
    module, cls_name, _ = PYOD_ZOO[name]

    def make(seed):
        import importlib

        cls = getattr(importlib.import_module(f"pyod.models.{module}"), cls_name)
        params = {}
        if name in ("MCD", "CBLOF", "AutoEncoder", "VAE"):
            params["random_state"] = seed
        if name in ("AutoEncoder", "VAE"):
            params["verbose"] = 0

        def score(X):
            if name == "MCD" and X.shape[1] > MCD_MAX_FEATURES:
                return None
            try:
                detector = cls(**params).fit(X)
            except ValueError as error:
                if name != "CBLOF":
                    raise
                # CBLOF refuses data whose clusters it cannot split into
                # large and small ones.
                print(f"CBLOF (seed {seed}) refused a data set: {error}", flush=True)
                return None
            # decision_scores_: the training rows' scores, higher is more abnormal.
            return detector.decision_scores_

        return score

    return make


def finite_scores(anomaly):
    """Anomaly scores with infinities ranked beyond the finite ones.

    PyOD's PCA divides by the variance of each principal direction and scores
    rows with a component along a direction of no variance as infinite:
    those rows rank first, ties among themselves.
    """
    anomaly = np.asarray(anomaly, dtype=np.float64)
    finite = anomaly[np.isfinite(anomaly)]
    if finite.size == anomaly.size:
        return anomaly
    if not finite.size:
        return np.zeros_like(anomaly)
    return np.nan_to_num(
        anomaly, nan=finite.min() - 1, posinf=finite.max() + 1, neginf=finite.min() - 1
    )


def methods(include_pyod):
    """Every method by name, with whether its result depends on the seed."""
    found = {
        "skaevae AE": (skaevae_detector("autoencoder"), True),
        "IsolationForest": (isolation_forest, True),
        "skaevae VAE": (skaevae_detector("vae"), True),
        "PCA reconstruction": (pca_reconstruction, False),
    }
    if include_pyod:
        for name, (_, _, stochastic) in PYOD_ZOO.items():
            found[f"PyOD {name}"] = (pyod_detector(name), stochastic)
    return found


# The methods of a run without --methods.
DEFAULT_METHODS = [
    "skaevae AE",
    "IsolationForest",
    *(f"PyOD {name}" for name in PYOD_ZOO if name != "VAE"),
]


def load_datasets(names=None):
    paths = sorted(DATA.glob("*.npz"), key=lambda p: int(p.stem.split("_")[0]))
    datasets = {}
    for path in paths:
        if path.stem in EXCLUDED or (names and path.stem not in names):
            continue
        data = np.load(path)
        X = StandardScaler().fit_transform(data["X"].astype(np.float64))
        datasets[path.stem.split("_", 1)[1]] = (X, data["y"].astype(int))
    return datasets


def machine():
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    versions = [f"Python {platform.python_version()}", f"torch {torch.__version__}"]
    for module in ("sklearn", "skorch", "pyod"):
        if module in sys.modules:
            versions.append(f"{module} {sys.modules[module].__version__}")
    return f"{cpu}, {os.cpu_count()} cores, torch threads: {torch.get_num_threads()}; " + ", ".join(
        versions
    )


def summarise(runs):
    """Per data set and method: mean and seed std of the metrics, mean CPU time."""
    grouped = runs.groupby(["dataset", "method"], sort=False)
    table = grouped.agg(
        roc_auc=("roc_auc", "mean"),
        roc_auc_std=("roc_auc", lambda v: v.std(ddof=1) if len(v) > 1 else 0.0),
        average_precision=("average_precision", "mean"),
        cpu_seconds=("cpu_seconds", "mean"),
    )
    return table.reset_index()


def write_markdown(table, order, command, path):
    def pivot(column):
        return table.pivot(index="dataset", columns="method", values=column).reindex(
            index=list(dict.fromkeys(table["dataset"])), columns=order
        )

    auc, ap, std, cpu = (
        pivot(c) for c in ("roc_auc", "average_precision", "roc_auc_std", "cpu_seconds")
    )
    lines = [
        "# Unsupervised anomaly detection on 16 ADBench data sets",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {machine()}",
        "",
        "Protocol: StandardScaler on all X; fit on all X (anomalies included); score all X; "
        f"mean of {table_seeds(table)} seeds for stochastic methods, one run for "
        "deterministic ones. CPU seconds: process CPU time of fit + score, mean over seeds, "
        "BLAS and torch on one thread. Every method uses one configuration for all data sets.",
        "",
        "## Summary",
        "",
        "| method | mean ROC-AUC | mean average precision | max seed std of ROC-AUC "
        "| CPU seconds, all sets |",
        "|---|---|---|---|---|",
    ]
    skipped = []
    for method in order:
        missing = auc[method].isna()
        note = ""
        if missing.any():
            skipped.append(f"{method} did not run on {', '.join(auc.index[missing])}")
            note = f" ({int((~missing).sum())} sets)"
        lines.append(
            f"| {method}{note} | {auc[method].mean():.3f} | {ap[method].mean():.3f} "
            f"| {std[method].max():.3f} | {cpu[method].sum():.1f} |"
        )
    lines.append(
        f"| per-data-set best (an oracle: needs the labels) | {auc.max(axis=1).mean():.3f} "
        f"| {ap.max(axis=1).mean():.3f} | | |"
    )
    lines += [""] + [f"- {line}: its means are over the other sets." for line in skipped]
    first, others = order[0], order[1:]
    if others:
        lines += ["", "## Lead of the first method, each data set left out in turn", ""]
        lines.append(
            f"Mean over the other data sets of {first} minus that of the best other method "
            "on the same sets (a method that skipped a set is averaged over its own sets)."
        )
        lines += [
            "",
            "| metric | full | min | max | best other method (full) |",
            "|---|---|---|---|---|",
        ]
        for title, frame in [("ROC-AUC", auc), ("average precision", ap)]:
            leads = []
            for left_out in [None, *frame.index]:
                rest = frame if left_out is None else frame.drop(index=left_out)
                means = rest.mean()
                leads.append(means[first] - means[others].max())
            best = frame[others].mean().idxmax()
            lines.append(
                f"| {title} | {leads[0]:+.3f} | {min(leads[1:]):+.3f} | {max(leads[1:]):+.3f} "
                f"| {best} |"
            )
        if "IsolationForest" in order:
            ratio = cpu[first].sum() / cpu["IsolationForest"].sum()
            lines += ["", f"CPU of {first} over IsolationForest's, all sets: {ratio:.2f}×."]
    for title, frame, fmt in [
        ("ROC-AUC", auc, "{:.3f}"),
        ("Average precision", ap, "{:.3f}"),
        ("Seed standard deviation of ROC-AUC", std, "{:.3f}"),
        ("CPU seconds (fit + score)", cpu, "{:.2f}"),
    ]:
        lines += ["", f"## {title}", "", "| dataset | " + " | ".join(order) + " |"]
        lines.append("|---" * (len(order) + 1) + "|")
        for dataset, row in frame.iterrows():
            cells = ("—" if np.isnan(v) else fmt.format(v) for v in row)
            lines.append(f"| {dataset} | " + " | ".join(cells) + " |")
    path.write_text("\n".join(lines) + "\n")


def table_seeds(table):
    return table.attrs.get("n_seeds", "?")


def plot(table, order, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    auc = table.pivot(index="dataset", columns="method", values="roc_auc")
    auc = auc.reindex(columns=order)
    auc = auc.loc[auc.mean(axis=1).sort_values().index]
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 6), gridspec_kw={"width_ratios": [1.6, 1]})
    markers = "os^vDP*X"
    for i, method in enumerate(order):
        left.scatter(
            auc[method], np.arange(len(auc)), marker=markers[i % len(markers)], label=method, s=40
        )
    left.set_yticks(np.arange(len(auc)), auc.index)
    left.set_xlabel("ROC-AUC (mean of seeds)")
    left.set_title("Per data set (sorted by difficulty)")
    left.grid(axis="x", alpha=0.3)
    left.legend(loc="upper left", fontsize=8)

    means = table.groupby("method")["roc_auc"].mean()
    precision = table.groupby("method")["average_precision"].mean()
    cpu = table.groupby("method")["cpu_seconds"].sum()
    for i, method in enumerate(order):
        right.scatter(cpu[method], means[method], marker=markers[i % len(markers)], s=80)
    right.set_xscale("log")
    # Room for the labels inside the axes.
    right.margins(x=0.25, y=0.12)
    # Each label takes the first of a few places around its point where it
    # overlaps no label placed before it (best methods first).
    renderer = fig.canvas.get_renderer()
    placed = []
    places = [(6, -4), (6, 8), (-6, -4), (-6, 8), (6, -16), (-6, -16), (6, 20), (-6, 20)]
    for method in sorted(order, key=lambda m: -means[m]):
        for dx, dy in places:
            label = right.annotate(
                f"{method} (AP {precision[method]:.3f})",
                (cpu[method], means[method]),
                textcoords="offset points",
                xytext=(dx, dy),
                fontsize=8,
                ha="left" if dx > 0 else "right",
                va="center",
            )
            box = label.get_window_extent(renderer)
            if not any(box.overlaps(other) for other in placed):
                break
            label.remove()
        else:
            label = right.annotate(
                method,
                (cpu[method], means[method]),
                textcoords="offset points",
                xytext=places[0],
                fontsize=8,
                va="center",
            )
            box = label.get_window_extent(renderer)
        placed.append(box)
    right.set_xlabel("CPU seconds for all 16 data sets (fit + score, log scale)")
    right.set_ylabel("mean ROC-AUC")
    right.set_title("Accuracy against cost")
    right.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="number of seeds")
    parser.add_argument(
        "--first-seed",
        type=int,
        default=0,
        help="first seed (default 0): another value checks a finding on fresh seeds",
    )
    parser.add_argument("--datasets", nargs="*", help="file stems, e.g. 42_WBC (default: all)")
    parser.add_argument("--methods", nargs="*", help="method names (default: all)")
    parser.add_argument("--no-pyod", action="store_true", help="skip PyOD even if installed")
    parser.add_argument("--torch-threads", type=int, default=1)
    parser.add_argument("--output", default=str(RESULTS / "anomaly_adbench"))
    parser.add_argument(
        "--replot", action="store_true", help="only redraw the plot from the output's csv"
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep the methods already in the output's csv and run only the others",
    )
    args = parser.parse_args(argv)
    output = Path(args.output)
    if args.replot:
        table = summarise(pd.read_csv(output.with_suffix(".csv")))
        plot(table, list(dict.fromkeys(table["method"])), output.with_suffix(".png"))
        return
    torch.set_num_threads(args.torch_threads)
    try:
        import pyod  # noqa: F401

        include_pyod = not args.no_pyod
    except ImportError:
        include_pyod = False
        print("PyOD is not installed: its detectors are skipped.")
    if not DATA.exists():
        raise SystemExit(f"ADBench data not found at {DATA}.")
    datasets = load_datasets(args.datasets)
    available = methods(include_pyod)
    wanted = args.methods or DEFAULT_METHODS
    order = [m for m in wanted if m in available]
    output.parent.mkdir(parents=True, exist_ok=True)
    command = shlex.join(
        ["python", "benchmarks/anomaly_adbench.py", *(argv if argv is not None else sys.argv[1:])]
    )

    rows = []
    if args.resume and output.with_suffix(".csv").exists():
        rows = pd.read_csv(output.with_suffix(".csv")).to_dict("records")
    for method in order:
        if any(row["method"] == method for row in rows):
            continue
        make_method, stochastic = available[method]
        # One untimed run on the smallest data set first, so that one-off
        # costs (torch's first calls, imports) are charged to no method.
        X, _ = min(datasets.values(), key=lambda d: d[0].size)
        with warnings.catch_warnings(), threadpool_limits(1):
            warnings.simplefilter("ignore")
            make_method(0)(X)
        seeds = args.seeds if stochastic else 1
        for seed in range(args.first_seed, args.first_seed + seeds):
            make = make_method(seed)
            for dataset, (X, y) in datasets.items():
                with warnings.catch_warnings(), threadpool_limits(1):
                    warnings.simplefilter("ignore")
                    start = time.process_time()
                    anomaly = make(X)
                    cpu_seconds = time.process_time() - start
                if anomaly is None:
                    continue
                anomaly = finite_scores(anomaly)
                rows.append(
                    {
                        "dataset": dataset,
                        "method": method,
                        "seed": seed,
                        "roc_auc": roc_auc_score(y, anomaly),
                        "average_precision": average_precision_score(y, anomaly),
                        "cpu_seconds": cpu_seconds,
                    }
                )
            done = pd.DataFrame(rows)
            done = done[(done.method == method) & (done.seed == seed)]
            mean = done.mean(numeric_only=True)
            print(
                f"{method:20s} seed {seed}: ROC-AUC {mean.roc_auc:.3f} "
                f"AP {mean.average_precision:.3f} CPU {done.cpu_seconds.sum():.1f} s",
                flush=True,
            )
        # Rewrite the outputs after each method, so a long run leaves results.
        runs = pd.DataFrame(rows)
        runs.to_csv(output.with_suffix(".csv"), index=False, float_format="%.5f")
        table = summarise(runs)
        table.attrs["n_seeds"] = args.seeds
        done_order = [m for m in order if m in set(runs.method)]
        write_markdown(table, done_order, command, output.with_suffix(".md"))
        plot(table, done_order, output.with_suffix(".png"))


if __name__ == "__main__":
    main()
