"""Synthetic rows of real mixed-type tables: skaevae against SDV's synthesizers.

On the nine tables of ``shared/data/tabular`` (see its README for the
protocol and reference figures), each method is fitted on the training part
with its defaults and samples as many rows:

- ``skaevae``: ``VAETransformer(random_state=0)`` fitted on the DataFrame as
  it is (types from dtypes), ``sample(len(train), random_state=0)``;
- ``one-hot + VAE`` (what a user had to build before mixed tables):
  ``ColumnTransformer`` (mean / mode imputation, ``StandardScaler``,
  ``OneHotEncoder``) → ``VAETransformer(n_components=min(8, width),
  random_state=0)`` → ``sample``, decoded by the scaler's inverse and the
  argmax of each one-hot block (integer columns rounded);
- SDV's ``GaussianCopulaSynthesizer`` and ``TVAESynthesizer``, defaults.

Protocol: rows capped at 5,000 (the first 5,000 of
``numpy.random.default_rng(0).permutation``), the first 80% train, the rest
test; non-numeric and boolean columns categorical. Metrics:

- quality: SDMetrics ``QualityReport`` overall score of the synthetic rows
  against train (metadata from SDV's ``Metadata.detect_from_dataframes``);
- two-sample AUC: ``HistGradientBoostingClassifier(categorical_features=
  "from_dtype", random_state=0)`` telling the test rows from as many
  synthetic rows, mean ROC-AUC of ``cross_val_score`` with 5 folds
  (scikit-learn's default unshuffled stratified folds);
- CPU: ``time.process_time()`` of fit + sample, torch on one thread;
- held-out log-likelihood per row (nats) of the two VAE rows on test:
  numeric columns in their own units (the one-hot row's standardisation is
  undone by its log-Jacobian; its one-hot entries are scored as Gaussian
  densities, the mixed model's categories as probabilities).

Missing values (Males, SLID, penguins): SDV's synthesizers take them; the two
VAE rows are given train and test with missing numeric values filled by the
training median and missing categories by the training mode.

Run (SDV and SDMetrics are benchmark-only, never package dependencies)::

    pip install torch==2.13.0 && pip install -e . "sdv==2.0.0" tabulate
    python benchmarks/synthetic_tabular.py

About 5 minutes on 2 cores. ``--methods skaevae`` runs one method;
``--tables`` a subset; ``--n-modes 1`` (an ablation) gives the mixed model one
Gaussian per numeric column instead of a mixture. Writes
``benchmarks/results/synthetic_tabular.md`` and ``.csv`` (only for a run of
every method on every table).
"""

import argparse
import os
import platform
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skaevae import VAETransformer

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DATA = ROOT.parent / "shared" / "data" / "tabular"
TABLES = [
    "Participation",
    "Computers",
    "Star",
    "SLID",
    "Housing",
    "Hdma",
    "Males",
    "diamonds",
    "penguins",
]
METHODS = ["GaussianCopula", "TVAE", "one-hot + VAE", "skaevae"]


def split(df):
    order = np.random.default_rng(0).permutation(len(df))[:5000]
    df = df.iloc[order].reset_index(drop=True)
    n_train = int(0.8 * len(df))
    return df.iloc[:n_train].reset_index(drop=True), df.iloc[n_train:].reset_index(drop=True)


def is_categorical(series):
    return not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)


def filled(train, frame):
    """``frame`` with missing values filled from ``train``: median or mode."""
    values = {
        c: train[c].mode()[0] if is_categorical(train[c]) else train[c].median()
        for c in train.columns
    }
    return frame.fillna(values).astype(train.dtypes.to_dict())


# ------------------------------------------------------------------ methods


def fit_skaevae(train, test):
    model = VAETransformer(random_state=0).fit(filled(train, train))
    synthetic = model.sample(len(train), random_state=0)
    return synthetic, lambda: float(model.score(filled(train, test)))


def fit_one_hot(train, test):
    categorical = [c for c in train.columns if is_categorical(train[c])]
    numeric = [c for c in train.columns if c not in categorical]
    encoder = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(), StandardScaler()), numeric),
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"),
                    OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                ),
                categorical,
            ),
        ]
    )
    M = encoder.fit_transform(train.astype({c: object for c in categorical}))
    vae = VAETransformer(n_components=min(8, M.shape[1]), random_state=0).fit(M)
    S = vae.sample(len(train), random_state=0).astype(np.float64)
    scaler = encoder.named_transformers_["num"][-1]
    columns = {}
    numeric_part = scaler.inverse_transform(S[:, : len(numeric)]) if numeric else None
    for i, c in enumerate(numeric):
        columns[c] = numeric_part[:, i]
        if pd.api.types.is_integer_dtype(train[c]):
            columns[c] = np.round(columns[c])
    start = len(numeric)
    one_hot = encoder.named_transformers_["cat"][-1]
    for c, categories in zip(categorical, one_hot.categories_, strict=True):
        block = S[:, start : start + len(categories)]
        columns[c] = categories[block.argmax(axis=1)]
        start += len(categories)
    synthetic = pd.DataFrame(columns)[list(train.columns)]
    synthetic = synthetic.astype(
        {
            c: train[c].dtype
            for c in train.columns
            if not train[c].isna().any() or is_categorical(train[c])
        }
    )
    log_jacobian = float(np.log(scaler.scale_).sum())

    def held_out():
        test_m = encoder.transform(test.astype({c: object for c in categorical}))
        return float(vae.score(test_m) - log_jacobian)

    return synthetic, held_out


def fit_sdv(name):
    def fit(train, test):
        from sdv.metadata import Metadata
        from sdv.single_table import GaussianCopulaSynthesizer, TVAESynthesizer

        cls = {"GaussianCopula": GaussianCopulaSynthesizer, "TVAE": TVAESynthesizer}[name]
        metadata = Metadata.detect_from_dataframes({"table": train}, infer_keys=None)
        synthesizer = cls(metadata)
        # SDV 2 takes and returns {table name: DataFrame}.
        synthesizer.fit({"table": train})
        return synthesizer.sample(len(train))["table"], None

    return fit


FIT = {
    "GaussianCopula": fit_sdv("GaussianCopula"),
    "TVAE": fit_sdv("TVAE"),
    "one-hot + VAE": fit_one_hot,
    "skaevae": fit_skaevae,
}


# ------------------------------------------------------------------ metrics


def quality(train, synthetic):
    from sdmetrics.reports.single_table import QualityReport
    from sdv.metadata import Metadata

    metadata = Metadata.detect_from_dataframes({"table": train}, infer_keys=None)
    report = QualityReport()
    report.generate(train, synthetic, metadata.to_dict()["tables"]["table"], verbose=False)
    return float(report.get_score())


def two_sample_auc(test, synthetic):
    fake = synthetic.iloc[: len(test)]
    both = pd.concat([test, fake[test.columns]], ignore_index=True)
    for c in both.columns:
        if is_categorical(test[c]):
            both[c] = both[c].astype(str).astype("category")
    y = np.r_[np.zeros(len(test)), np.ones(len(fake))]
    classifier = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=0)
    return float(cross_val_score(classifier, both, y, cv=5, scoring="roc_auc").mean())


# ------------------------------------------------------------------ report


def machine():
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import sdmetrics
    import sdv
    import sklearn

    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return (
        f"{cpu}, {torch.get_num_threads()} torch thread of {os.cpu_count()} cores; "
        f"sdv {sdv.__version__}, sdmetrics {sdmetrics.__version__}, torch "
        f"{torch.__version__}, scikit-learn {sklearn.__version__}, pandas {pd.__version__}, "
        f"skaevae at {commit}"
    )


def report(results):
    cell = results.assign(
        cell=results.apply(lambda r: f"{r.quality:.3f} / {r.auc:.3f} / {r.cpu_s:.1f} s", axis=1)
    )
    table = cell.pivot(index="table", columns="method", values="cell").loc[TABLES, METHODS]
    means = results.groupby("method").agg(
        quality=("quality", "mean"), auc=("auc", "mean"), cpu_s=("cpu_s", "sum")
    )
    table.loc["**mean** (CPU: sum)"] = [
        f"**{means.loc[m, 'quality']:.3f} / {means.loc[m, 'auc']:.3f}** / "
        f"{means.loc[m, 'cpu_s']:.1f} s"
        for m in METHODS
    ]
    wide = results.pivot(index="table", columns="method", values="quality").loc[TABLES]
    cpu = results.pivot(index="table", columns="method", values="cpu_s").loc[TABLES]
    loglik = results.pivot(index="table", columns="method", values="loglik").loc[
        TABLES, ["one-hot + VAE", "skaevae"]
    ]
    checks = pd.DataFrame(
        {
            "skaevae − TVAE quality": wide["skaevae"] - wide["TVAE"],
            "skaevae − GaussianCopula quality": wide["skaevae"] - wide["GaussianCopula"],
            "skaevae CPU / TVAE CPU": cpu["skaevae"] / cpu["TVAE"],
            "held-out LL: skaevae": loglik["skaevae"],
            "held-out LL: one-hot + VAE": loglik["one-hot + VAE"],
        }
    )
    lines = [
        "# Synthetic rows of mixed-type tables",
        "",
        "Command: `python benchmarks/synthetic_tabular.py`  ",
        f"Machine: {machine()}.",
        "",
        "Protocol: `shared/data/tabular/README.md` (5,000 rows at most, 80/20 split, defaults, "
        "`sample(len(train))`). Each cell is SDMetrics quality (higher is better) / two-sample "
        "ROC-AUC of a classifier telling test rows from synthetic ones (.5 is "
        "indistinguishable) / CPU seconds of fit + sample, one torch thread. The two VAE rows "
        "see missing values filled (median, mode); SDV's synthesizers see them as they are.",
        "",
        table.to_markdown(),
        "",
        "## Against the targets",
        "",
        "Quality differences (per table), CPU ratio, and the held-out log-likelihood per row "
        "(nats; numeric columns in their own units) of the mixed model and of the one-hot "
        "Gaussian path.",
        "",
        checks.to_markdown(floatfmt=".3f"),
        "",
    ]
    (RESULTS / "synthetic_tabular.md").write_text("\n".join(lines))
    results.to_csv(RESULTS / "synthetic_tabular.csv", index=False)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--tables", default=",".join(TABLES))
    parser.add_argument(
        "--output",
        default=None,
        help="for a partial run or an ablation: write its rows to benchmarks/results/OUTPUT.md",
    )
    parser.add_argument(
        "--n-modes",
        type=int,
        default=None,
        help="ablation: mixture components per numeric column of the mixed model",
    )
    args = parser.parse_args()
    if args.n_modes is not None:
        import skaevae.nn._likelihoods

        skaevae.nn._likelihoods.N_MODES = args.n_modes
    methods, tables = args.methods.split(","), args.tables.split(",")
    torch.set_num_threads(1)
    warnings.simplefilter("ignore", ConvergenceWarning)
    warnings.filterwarnings("ignore", module="sdv|sdmetrics|rdt|copulas")
    rows = []
    for table in tables:
        train, test = split(pd.read_csv(args.data / f"{table}.csv"))
        for method in methods:
            start = time.process_time()
            synthetic, held_out = FIT[method](train, test)
            cpu_s = time.process_time() - start
            row = {
                "table": table,
                "method": method,
                "quality": quality(train, synthetic),
                "auc": two_sample_auc(test, synthetic),
                "cpu_s": cpu_s,
                "loglik": held_out() if held_out is not None else np.nan,
            }
            rows.append(row)
            print(
                f"{table:14s} {method:15s} quality {row['quality']:.3f}  auc {row['auc']:.3f}  "
                f"cpu {cpu_s:5.1f} s  loglik {row['loglik']:.2f}",
                flush=True,
            )
    results = pd.DataFrame(rows)
    if set(methods) == set(METHODS) and set(tables) == set(TABLES) and args.n_modes is None:
        report(results)
    if args.output:
        command = "python benchmarks/synthetic_tabular.py " + " ".join(arg for arg in sys.argv[1:])
        lines = [
            f"# Synthetic rows of mixed-type tables: {args.output}",
            "",
            f"Command: `{command}`  ",
            f"Machine: {machine()}.",
            "",
            results.to_markdown(index=False, floatfmt=".3f"),
            "",
            results.groupby("method")[["quality", "auc", "cpu_s", "loglik"]]
            .mean()
            .to_markdown(floatfmt=".3f"),
            "",
        ]
        (RESULTS / f"{args.output}.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
