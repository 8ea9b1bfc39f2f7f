"""Synthetic rows of real mixed-type tables: skaevae against SDV's synthesizers.

On the nine tables of ``shared/data/tabular`` (see its README for the
protocol and reference figures), each method is fitted on the training part
with its defaults and samples as many rows:

- ``skaevae``: ``VAETransformer(random_state=0)`` fitted on the DataFrame as
  it is (types from dtypes), ``sample(len(train), random_state=0)``: codes
  from the plain prior N(0, I);
- ``skaevae (learned prior)``: the same with ``prior="mixture"``, codes drawn
  from a Gaussian mixture fitted to the training rows' codes;
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
- DCR overfitting protection: SDMetrics ``DCROverfittingProtection`` of the
  synthetic rows, with the training rows subsampled to the test rows' count
  (``train.sample(len(test), random_state=0)``), since the score is biased
  when the two differ in size. 1.0: synthetic rows are no closer to the
  training rows than to unseen ones; lower: nearer copies of training rows;
- CPU: ``time.process_time()`` of fit + sample, torch on one thread;
- held-out log-likelihood per row (nats) of skaevae's model on test (numeric
  columns in their own units; the prior does not change it).

Missing values (Males, SLID, penguins): SDV's synthesizers take them; skaevae
is given train and test with missing numeric values filled by the training
median and missing categories by the training mode.

Run (SDV and SDMetrics are benchmark-only, never package dependencies)::

    pip install torch==2.13.0 && pip install -e . "sdv==2.0.0" tabulate
    python benchmarks/synthetic_tabular.py

About 10 minutes on 2 cores. ``--methods skaevae`` runs one method;
``--methods "skaevae (aggregate posterior)" --output NAME`` the ablation
that draws each code from a training row's posterior (``sample_near`` of the
training rows), the distribution any learned prior approximates;
``--tables`` a subset; ``--n-modes 1`` (an ablation) gives the mixed model one
Gaussian per numeric column instead of a mixture. Writes
``benchmarks/results/synthetic_tabular.md`` and ``.csv`` (only for a run of
every method on every table).
"""

import argparse
import os
import platform
import shlex
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import cross_val_score

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
METHODS = ["GaussianCopula", "TVAE", "skaevae", "skaevae (learned prior)"]


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


def fit_skaevae(prior):
    def fit(train, test):
        model = VAETransformer(prior=prior, random_state=0).fit(filled(train, train))
        synthetic = model.sample(len(train), random_state=0)
        return synthetic, lambda: float(model.score(filled(train, test)))

    return fit


def fit_aggregate_posterior(train, test):
    """The ceiling of any learned prior: codes drawn from the training rows' own posteriors."""
    model = VAETransformer(random_state=0).fit(filled(train, train))
    synthetic = model.sample_near(filled(train, train), n_samples=len(train), random_state=0)
    return synthetic, lambda: float(model.score(filled(train, test)))


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
    "skaevae": fit_skaevae("normal"),
    "skaevae (learned prior)": fit_skaevae("mixture"),
    # An ablation, not in METHODS: run it with --methods and --output.
    "skaevae (aggregate posterior)": fit_aggregate_posterior,
}


# ------------------------------------------------------------------ metrics


def quality(train, synthetic):
    from sdmetrics.reports.single_table import QualityReport
    from sdv.metadata import Metadata

    metadata = Metadata.detect_from_dataframes({"table": train}, infer_keys=None)
    report = QualityReport()
    report.generate(train, synthetic, metadata.to_dict()["tables"]["table"], verbose=False)
    return float(report.get_score())


def dcr_protection(train, test, synthetic):
    from sdmetrics.single_table import DCROverfittingProtection
    from sdv.metadata import Metadata

    metadata = Metadata.detect_from_dataframes({"table": train}, infer_keys=None).to_dict()
    # Equal sizes: the score is biased when the training rows outnumber the test rows.
    subsample = train.sample(len(test), random_state=0)
    return float(
        DCROverfittingProtection.compute(
            subsample, synthetic[train.columns], test, metadata, "table"
        )
    )


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
        cell=results.apply(
            lambda r: f"{r.quality:.3f} / {r.auc:.3f} / {r.dcr:.2f} / {r.cpu_s:.1f} s", axis=1
        )
    )
    table = cell.pivot(index="table", columns="method", values="cell").loc[TABLES, METHODS]
    means = results.groupby("method").agg(
        quality=("quality", "mean"),
        auc=("auc", "mean"),
        dcr=("dcr", "mean"),
        cpu_s=("cpu_s", "sum"),
    )
    table.loc["**mean** (CPU: sum)"] = [
        f"**{means.loc[m, 'quality']:.3f} / {means.loc[m, 'auc']:.3f} / "
        f"{means.loc[m, 'dcr']:.2f}** / {means.loc[m, 'cpu_s']:.1f} s"
        for m in METHODS
    ]

    def wide(column):
        return results.pivot(index="table", columns="method", values=column).loc[TABLES]

    quality, auc, dcr, cpu = wide("quality"), wide("auc"), wide("dcr"), wide("cpu_s")
    checks = pd.DataFrame(
        {
            f"{m}: {label}": value
            for m in ("skaevae", "skaevae (learned prior)")
            for label, value in (
                ("quality", quality[m]),
                ("AUC", auc[m]),
                ("CPU / TVAE's", cpu[m] / cpu["TVAE"]),
                ("DCR − TVAE's", dcr[m] - dcr["TVAE"]),
            )
        }
    )
    checks["held-out LL"] = wide("loglik")["skaevae"]
    lines = [
        "# Synthetic rows of mixed-type tables",
        "",
        "Command: `python benchmarks/synthetic_tabular.py`  ",
        f"Machine: {machine()}.",
        "",
        "Protocol: `shared/data/tabular/README.md` (5,000 rows at most, 80/20 split, defaults, "
        "`sample(len(train))`). Each cell is SDMetrics quality (higher is better) / two-sample "
        "ROC-AUC of a classifier telling test rows from synthetic ones (.5 is "
        "indistinguishable) / SDMetrics DCR overfitting protection with the training rows "
        "subsampled to the test rows' count (1 is best: synthetic rows no nearer the training "
        "rows than unseen rows) / CPU seconds of fit + sample, one torch thread. skaevae sees "
        "missing values filled (median, mode); SDV's synthesizers see them as they are.",
        "",
        table.to_markdown(),
        "",
        "## Against the targets",
        "",
        "Per table: quality and two-sample AUC, CPU as a share of TVAE's, DCR overfitting "
        "protection minus TVAE's, and the held-out log-likelihood per row (nats; numeric "
        "columns in their own units) of skaevae's model, which the prior does not change.",
        "",
        checks.T.to_markdown(floatfmt=".3f"),
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
                "dcr": dcr_protection(train, test, synthetic),
                "cpu_s": cpu_s,
                "loglik": held_out() if held_out is not None else np.nan,
            }
            rows.append(row)
            print(
                f"{table:14s} {method:23s} quality {row['quality']:.3f}  auc {row['auc']:.3f}  "
                f"dcr {row['dcr']:.3f}  cpu {cpu_s:5.1f} s  loglik {row['loglik']:.2f}",
                flush=True,
            )
    results = pd.DataFrame(rows)
    if set(methods) == set(METHODS) and set(tables) == set(TABLES) and args.n_modes is None:
        report(results)
    if args.output:
        command = shlex.join(["python", "benchmarks/synthetic_tabular.py", *sys.argv[1:]])
        lines = [
            f"# Synthetic rows of mixed-type tables: {args.output}",
            "",
            f"Command: `{command}`  ",
            f"Machine: {machine()}.",
            "",
            results.to_markdown(index=False, floatfmt=".3f"),
            "",
            results.groupby("method")[["quality", "auc", "dcr", "cpu_s", "loglik"]]
            .mean()
            .to_markdown(floatfmt=".3f"),
            "",
        ]
        (RESULTS / f"{args.output}.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
