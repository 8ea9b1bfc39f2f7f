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

Three further parts, each with its own CSV (``--part``):

- ``distribution``: the distribution of the imputed values (Shadbahr et al.,
  2023), on the same masks. The per-column Wasserstein distance
  (``scipy.stats.wasserstein_distance``) between the imputed and the true
  values of each column's masked entries, averaged over columns, for the
  point imputations of MICE, missForest and VAEImputer, and for one draw of
  the sampling imputers: ``VAEImputer(sample_posterior=True)`` (one fit,
  19 draws with ``random_state`` set to ``1000 * s + k`` after the fit) and
  ``IterativeImputer(max_iter=10, sample_posterior=True)`` (MICE with
  BayesianRidge, 19 fits with those seeds; missForest's ExtraTrees has no
  posterior to draw from). Coverage: the share of masked entries whose true
  value lies between the smallest and the largest of the 19 draws, an
  interval that a calibrated imputer's draws cover with probability
  18/20 = 90% (the true value and the 19 draws are then 20 exchangeable
  draws). CPU seconds are for the fit and all 19 draws.
- ``mnar``: values missing not at random. Each entry above its column's 70th
  percentile is masked with probability 0.5, each other one with
  probability 0.1 (about 0.22 of the entries in all; a row left with nothing
  observed gets one random entry back); seeds 0, 1, 2. RMSE and mean signed
  error (imputed minus true) over the masked entries, for mean, MICE,
  ``VAEImputer()`` (trained as if missing at random) and
  ``VAEImputer(missing_mechanism="self-masking")``.
- ``categorical``: mixed tables with categorical holes, the nine tables of
  ``shared/data/tabular`` (rows with a missing value dropped, then at most
  5,000 rows, the first of ``numpy.random.default_rng(0).permutation``;
  non-numeric and boolean columns are categorical); every entry masked
  with probability 0.2 (mask seeds 0, 1, 2; no row left empty). Accuracy of
  the filled categories and RMSE of the filled numeric entries (in units of
  each column's standard deviation), for the mode and mean
  (``SimpleImputer``), missForest for mixed data (Stekhoven & Bühlmann,
  2012: ``ExtraTreesClassifier`` for a categorical column and
  ``ExtraTreesRegressor`` for a numeric one, 50 trees each, ordinal codes of
  the categories as predictors, the mode and mean to start, columns in order
  of increasing holes, 5 sweeps, as the reference missForest above) and
  ``VAEImputer()`` on the DataFrame.

Each (data set, p, seed, method) result is appended to the CSV as soon as it
is measured, and a rerun skips what is already there, so the slow reference
methods and skaevae can be run in separate invocations (``--methods``) and the
table made from the union (``--report``).

Run from the repository root::

    python benchmarks/imputation.py                       # everything, then the report
    python benchmarks/imputation.py --methods VAEImputer  # one method
    python benchmarks/imputation.py --report              # tables from the CSV only
    python benchmarks/imputation.py --part distribution   # coverage and Wasserstein
    python benchmarks/imputation.py --part mnar
    python benchmarks/imputation.py --part categorical

Writes ``benchmarks/results/imputation.{csv,md}`` (and
``imputation_{distribution,mnar,categorical}.csv``, reported in the same
markdown file).
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
from scipy.stats import wasserstein_distance  # noqa: E402
from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.experimental import enable_iterative_imputer  # noqa: E402,F401
from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data" / "adbench"
TABULAR = ROOT / ".." / "shared" / "data" / "tabular"
RESULTS = ROOT / "benchmarks" / "results"
# 10_cover is kept for scale runs; these are the other 16, cheapest first.
DATASETS = [
    "42_WBC", "4_breastw", "29_Pima", "18_Ionosphere", "40_vowels", "38_thyroid",
    "6_cardio", "2_annthyroid", "23_mammography", "32_shuttle", "20_letter",
    "28_pendigits", "30_satellite", "31_satimage-2", "26_optdigits", "25_musk",
]  # fmt: skip
TABLES = [
    "penguins", "Housing", "Participation", "Hdma", "Males", "Star", "SLID", "Computers",
    "diamonds",
]  # fmt: skip
RATES = (0.2, 0.5)
SEEDS = (0, 1, 2)
N_DRAWS = 19  # [min, max] of 19 draws covers a 20th exchangeable value with probability 0.9
PARTS = ("mcar", "distribution", "mnar", "categorical")


def vae_imputer(seed):
    from skaevae import VAEImputer

    return VAEImputer(random_state=seed)


def vae_alone(seed):
    from skaevae import VAEImputer

    return VAEImputer(column_estimator=None, random_state=seed)


METHODS = {
    "mean": lambda seed: SimpleImputer(),
    "KNN": lambda seed: KNNImputer(n_neighbors=5),
    "MICE": lambda seed: IterativeImputer(max_iter=10, random_state=seed),
    "missForest": lambda seed: IterativeImputer(
        ExtraTreesRegressor(n_estimators=50, random_state=seed), max_iter=5, random_state=seed
    ),
    "VAEImputer": vae_imputer,
    "VAE alone": vae_alone,
}


def vae_draws(seed):
    from skaevae import VAEImputer

    return VAEImputer(sample_posterior=True, random_state=seed)


def vae_alone_draws(seed):
    from skaevae import VAEImputer

    return VAEImputer(column_estimator=None, sample_posterior=True, random_state=seed)


def vae_self_masking(seed):
    from skaevae import VAEImputer

    return VAEImputer(missing_mechanism="self-masking", random_state=seed)


def vae_alone_self_masking(seed):
    from skaevae import VAEImputer

    return VAEImputer(column_estimator=None, missing_mechanism="self-masking", random_state=seed)


# Sampling imputers: how one fit (VAEImputer) or one seed (MICE) gives a draw.
DRAW_METHODS = {
    "MICE, 19 draws": lambda seed: IterativeImputer(
        max_iter=10, sample_posterior=True, random_state=seed
    ),
    "VAEImputer, 19 draws": vae_draws,
    "VAE alone, 19 draws": vae_alone_draws,
}
DISTRIBUTION_METHODS = ["MICE", "missForest", "VAEImputer", "VAE alone", *DRAW_METHODS]
MNAR_METHODS = {
    "mean": METHODS["mean"],
    "MICE": METHODS["MICE"],
    "VAEImputer": vae_imputer,
    "VAEImputer, self-masking": vae_self_masking,
    "VAE alone": vae_alone,
    "VAE alone, self-masking": vae_alone_self_masking,
}
CATEGORICAL_METHODS = ["mode / mean", "missForest", "VAEImputer"]


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


def mnar_mask(X, seed, quantile=0.7, p_high=0.5, p_low=0.1):
    """Entries above their column's ``quantile`` masked with ``p_high``, others ``p_low``."""
    rng = np.random.default_rng(seed)
    high = X > np.quantile(X, quantile, axis=0)
    mask = rng.random(X.shape) < np.where(high, p_high, p_low)
    for row in np.flatnonzero(mask.all(axis=1)):
        mask[row, rng.integers(X.shape[1])] = False
    return mask


def mean_wasserstein(X_filled, X, mask):
    """Per-column Wasserstein distance of imputed and true masked values, averaged."""
    return float(
        np.mean(
            [
                wasserstein_distance(X_filled[mask[:, j], j], X[mask[:, j], j])
                for j in range(X.shape[1])
                if mask[:, j].any()
            ]
        )
    )


def draws_of(method, seed, X_missing):
    """N_DRAWS imputations of X_missing by a sampling imputer."""
    if method.startswith("VAEImputer"):
        imputer = DRAW_METHODS[method](seed).fit(X_missing)
        return [
            imputer.set_params(random_state=1000 * seed + k).transform(X_missing)
            for k in range(N_DRAWS)
        ]
    return [DRAW_METHODS[method](1000 * seed + k).fit_transform(X_missing) for k in range(N_DRAWS)]


def measure_distribution(name, X, p, seed, method):
    mask = mcar_mask(X.shape, p, seed)
    X_missing = np.where(mask, np.nan, X)
    start = time.process_time()
    if method in DRAW_METHODS:
        draws = np.stack(draws_of(method, seed, X_missing))
        filled = draws[0]
        inside = (draws.min(axis=0) <= X) & (X <= draws.max(axis=0))
        coverage = float(inside[mask].mean())
    else:
        filled = METHODS[method](seed).fit_transform(X_missing)
        coverage = np.nan
    seconds = time.process_time() - start
    return {
        "dataset": name,
        "p": p,
        "seed": seed,
        "method": method,
        "wasserstein": mean_wasserstein(filled, X, mask),
        "coverage90": coverage,
        "rmse": float(np.sqrt(np.mean((filled[mask] - X[mask]) ** 2))),
        "cpu_s": seconds,
    }


def measure_mnar(name, X, p, seed, method):
    mask = mnar_mask(X, seed)
    X_missing = np.where(mask, np.nan, X)
    start = time.process_time()
    filled = MNAR_METHODS[method](seed).fit_transform(X_missing)
    seconds = time.process_time() - start
    error = filled[mask] - X[mask]
    return {
        "dataset": name,
        "p": "mnar",
        "seed": seed,
        "method": method,
        "missing_share": float(mask.mean()),
        "rmse": float(np.sqrt(np.mean(error**2))),
        "bias": float(error.mean()),
        "cpu_s": seconds,
        "observed_unchanged": bool(np.array_equal(filled[~mask], X_missing[~mask])),
    }


def load_table(name):
    """A mixed table: complete rows, at most 5,000, strings and booleans as categories."""
    frame = pd.read_csv(TABULAR / f"{name}.csv").dropna()
    frame = frame.iloc[np.random.default_rng(0).permutation(len(frame))[:5000]]
    frame = frame.loc[:, frame.nunique() > 1].reset_index(drop=True)
    for column in frame:
        if not pd.api.types.is_numeric_dtype(frame[column]) or frame[column].dtype == bool:
            frame[column] = frame[column].astype(str).astype("category")
    return frame


def mixed_missforest(frame, seed, n_estimators=50, max_iter=5):
    """missForest for a mixed table: a forest per column, in sweeps over the columns."""
    holes = frame.isna()
    categorical = [c for c in frame if isinstance(frame[c].dtype, pd.CategoricalDtype)]
    filled = frame.copy()
    for column in frame:
        start = frame[column].mode()[0] if column in categorical else frame[column].mean()
        filled[column] = filled[column].fillna(start)

    def predictors(table, column):
        other = table.drop(columns=column)
        return np.column_stack(
            [other[c].cat.codes if c in categorical else other[c] for c in other]
        ).astype(np.float64)

    order = holes.sum().sort_values(kind="stable").index
    for _ in range(max_iter):
        for column in order:
            rows = holes[column].to_numpy()
            if not rows.any():
                continue
            forest = (ExtraTreesClassifier if column in categorical else ExtraTreesRegressor)(
                n_estimators=n_estimators, random_state=seed
            )
            Z = predictors(filled, column)
            forest.fit(Z[~rows], filled[column][~rows].to_numpy())
            filled.loc[rows, column] = forest.predict(Z[rows])
    return filled


def impute_table(method, holes, seed):
    if method == "missForest":
        return mixed_missforest(holes, seed)
    if method == "VAEImputer":
        return vae_imputer(seed).fit_transform(holes)
    filled = holes.copy()
    for column in holes:
        if isinstance(holes[column].dtype, pd.CategoricalDtype):
            filled[column] = filled[column].fillna(holes[column].mode()[0])
        else:
            filled[column] = filled[column].fillna(holes[column].mean())
    return filled


def measure_categorical(name, frame, p, seed, method):
    mask = mcar_mask(frame.shape, p, seed)
    holes = frame.mask(mask)
    start = time.process_time()
    filled = impute_table(method, holes, seed)
    seconds = time.process_time() - start
    categorical = np.array([isinstance(t, pd.CategoricalDtype) for t in frame.dtypes])
    right, numeric_errors = [], []
    for j, column in enumerate(frame):
        rows = mask[:, j]
        if categorical[j]:
            right.append(
                filled[column].astype(str).to_numpy()[rows] == frame[column].astype(str)[rows]
            )
        else:
            scale = frame[column].std()
            numeric_errors.append((filled[column][rows] - frame[column][rows]) / scale)
    observed = filled.astype(object).to_numpy()[~mask] == frame.astype(object).to_numpy()[~mask]
    return {
        "dataset": name,
        "p": p,
        "seed": seed,
        "method": method,
        "accuracy": float(np.concatenate(right).mean()),
        "numeric_rmse": float(np.sqrt(np.mean(np.concatenate(numeric_errors) ** 2))),
        "cpu_s": seconds,
        "observed_unchanged": bool(observed.all()),
    }


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


PART_METHODS = {
    "mcar": list(METHODS),
    "distribution": DISTRIBUTION_METHODS,
    "mnar": list(MNAR_METHODS),
    "categorical": CATEGORICAL_METHODS,
}
MEASURE = {
    "mcar": measure,
    "distribution": measure_distribution,
    "mnar": measure_mnar,
    "categorical": measure_categorical,
}


def csv_path(part):
    return RESULTS / ("imputation.csv" if part == "mcar" else f"imputation_{part}.csv")


def run(part, methods, datasets, rates, seeds, path):
    if part != "categorical":
        warm_up([m for m in methods if m in METHODS])
    if part == "mnar":
        rates = ["mnar"]  # one masking, at its own rate
    for seed in seeds:
        for p in rates:
            for name in datasets:
                X = load_table(name) if part == "categorical" else load(name)
                for method in methods:
                    if (name, p, seed, method) in measured(path):
                        continue
                    row = MEASURE[part](name, X, p, seed, method)
                    print(
                        f"{name:16s} p={p} seed={seed} {method:11s} "
                        + " ".join(f"{k}={v:.3f}" for k, v in row.items() if isinstance(v, float)),
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
    for part in PARTS[1:]:
        if csv_path(part).exists():
            lines += PART_REPORTS[part](csv_path(part))
    notes = RESULTS / "imputation_notes.md"  # what a partial run left out, by hand
    if notes.exists():
        lines += ["", notes.read_text()]
    (RESULTS / "imputation.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def commands_of(part):
    """The commands that measured a part's rows (one a line, as they were run)."""
    path = csv_path(part).with_suffix(".commands")
    if not path.exists():
        return []
    commands = dict.fromkeys(c for c in path.read_text().split("\n") if c)  # once each
    return ["Rows measured by: " + "; ".join(f"`{c}`" for c in commands)]


def seeds_line(results):
    counts = results.groupby(["dataset", "p", "method"]).seed.count()
    return f"Seeds per cell: {counts.min()} to {counts.max()}."


def cell_means(results, value, order, methods, p=None):
    at_p = results if p is None else results[results.p == p]
    table = at_p.pivot_table(index="dataset", columns="method", values=value, aggfunc="mean")
    return table.reindex(columns=[m for m in methods if m in table]).reindex(
        [d for d in order if d in table.index]
    )


def with_mean(table, digits=3):
    """The table as text, with the mean over the data sets that have every column."""
    out = table.map(lambda v: "" if pd.isna(v) else f"{v:.{digits}f}")
    complete = table.dropna()
    means = complete.mean().map(lambda v: f"{v:.{digits}f}")
    out.loc["**mean** (data sets with every column of its group)"] = means
    out.loc["data sets in the mean"] = f"{len(complete)}"
    return out


def report_distribution(path):
    results = pd.read_csv(path).drop_duplicates(["dataset", "p", "seed", "method"])
    lines = [
        "# Distribution of the imputed values (MCAR masks as above)",
        "",
        *commands_of("distribution"),
        "",
        "Per-column Wasserstein distance between imputed and true values of the masked "
        "entries, averaged over columns (lower is better): the point imputation of MICE, "
        f"missForest and VAEImputer, and one draw of the sampling imputers. Coverage: share of "
        f"masked entries inside [min, max] of {N_DRAWS} draws, 0.90 for calibrated draws. "
        f"{seeds_line(results)}",
        "",
    ]
    for p in RATES:
        if not (results.p == p).any():
            continue
        w = cell_means(results, "wasserstein", DATASETS, DISTRIBUTION_METHODS, p)
        coverage = cell_means(results, "coverage90", DATASETS, list(DRAW_METHODS), p)
        seconds = cell_means(results, "cpu_s", DATASETS, DISTRIBUTION_METHODS, p)
        table = with_mean(w).add_prefix("W: ")
        cov = with_mean(coverage).add_prefix("coverage: ")
        cpu = seconds[[m for m in DRAW_METHODS if m in seconds]].add_prefix("CPU s: ")
        table = table.join(cov).join(cpu.map(lambda v: "" if pd.isna(v) else f"{v:.1f}"))
        lines += [f"## Distribution, p = {p}", "", table.fillna("").to_markdown(), ""]
    return lines


def report_mnar(path):
    results = pd.read_csv(path).drop_duplicates(["dataset", "p", "seed", "method"])
    methods = list(MNAR_METHODS)
    rmse = cell_means(results, "rmse", DATASETS, methods)
    bias = cell_means(results, "bias", DATASETS, methods)
    table = with_mean(rmse)
    best = rmse.dropna().idxmin(axis=1)
    for dataset, method in best.items():
        table.loc[dataset, method] = f"**{table.loc[dataset, method]}**"
    table.loc["data sets where best"] = (
        best.value_counts().reindex(methods).fillna(0).map(lambda v: f"{int(v)}")
    )
    table.loc["mean signed error (imputed - true)"] = (
        bias.dropna().mean().map(lambda v: f"{v:+.3f}")
    )
    share = results.groupby("dataset").missing_share.mean()
    return [
        "# Values missing not at random",
        "",
        *commands_of("mnar"),
        "",
        "Entries above their column's 70th percentile masked with probability 0.5, the "
        f"others with 0.1 ({share.mean():.2f} of the entries on average). RMSE over the "
        f"masked entries in standardised units (lower is better). {seeds_line(results)}",
        "",
        table.fillna("").to_markdown(),
        "",
        unchanged_line(results),
        "",
    ]


def unchanged_line(results):
    """Whether every run gave the observed entries back unchanged, as a sentence."""
    return (
        "Observed entries returned unchanged in every run: "
        f"{'yes' if results.observed_unchanged.all() else 'NO'}."
    )


def report_categorical(path):
    results = pd.read_csv(path).drop_duplicates(["dataset", "p", "seed", "method"])
    methods = CATEGORICAL_METHODS
    accuracy = with_mean(cell_means(results, "accuracy", TABLES, methods))
    rmse = with_mean(cell_means(results, "numeric_rmse", TABLES, methods))
    seconds = with_mean(cell_means(results, "cpu_s", TABLES, methods), digits=1)
    table = (
        accuracy.add_prefix("accuracy: ")
        .join(rmse.add_prefix("numeric RMSE: "))
        .join(seconds.add_prefix("CPU s: "))
    )
    return [
        "# Mixed tables with categorical holes",
        "",
        *commands_of("categorical"),
        "",
        "The tables of `shared/data/tabular`, entries masked completely at random with "
        "p = 0.2. Accuracy of the filled categories (higher is better) and RMSE of the filled "
        f"numeric entries in units of each column's standard deviation. {seeds_line(results)}",
        "",
        table.fillna("").to_markdown(),
        "",
        unchanged_line(results),
        "",
    ]


PART_REPORTS = {
    "distribution": report_distribution,
    "mnar": report_mnar,
    "categorical": report_categorical,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=PARTS, default="mcar")
    parser.add_argument("--methods", nargs="+", help="default: every method of the part")
    parser.add_argument("--datasets", nargs="+", help="default: every data set of the part")
    parser.add_argument("--rates", nargs="+", type=float, default=list(RATES))
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    parser.add_argument("--report", action="store_true", help="only write the tables")
    args = parser.parse_args()
    methods = args.methods or PART_METHODS[args.part]
    datasets = args.datasets or (TABLES if args.part == "categorical" else DATASETS)
    unknown = set(methods) - set(PART_METHODS[args.part])
    unknown |= set(datasets) - set(TABLES if args.part == "categorical" else DATASETS)
    if unknown:
        parser.error(f"not in part {args.part}: {sorted(unknown)}")
    if args.part == "categorical":
        args.rates = [0.2]
    torch.set_num_threads(1)
    warnings.simplefilter("ignore", ConvergenceWarning)
    command = "python benchmarks/imputation.py " + shlex.join(sys.argv[1:])
    if not args.report:
        if args.part != "mcar":
            with csv_path(args.part).with_suffix(".commands").open("a") as log:
                log.write(command + "\n")
        run(args.part, methods, datasets, args.rates, args.seeds, csv_path(args.part))
    report(csv_path("mcar"), "python benchmarks/imputation.py --report")


if __name__ == "__main__":
    main()
