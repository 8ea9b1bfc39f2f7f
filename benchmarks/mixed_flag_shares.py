"""Share of rows the default detector flags on clean mixed tables, overall and per level.

The nine tables of ``shared/data/tabular`` are real and have no planted
anomalies. Each is read as its README says (rows capped at 5,000: the first
of ``numpy.random.default_rng(0).permutation``; non-numeric columns are
categorical) and ``OutlierDetector(random_state=0)`` (``contamination="auto"``)
is fitted on it and predicts its rows. Reported per table: the share flagged
overall, and, over the levels of every categorical column (levels of at
least 10 rows), the largest share flagged within a level divided by the
overall share, with the column and level. A detector that scores rows by how
unlikely they are, not by the rarity of a level, flags no level at a
multiple of the overall share.

References: ``IsolationForest(random_state=0)`` on one-hot codes (its
``"auto"`` threshold) for the overall share, and the default detector on a
few numeric ADBench sets (labels ignored) for the share ``"auto"`` flags on
numeric tables.

Run with the checkout to measure first on the path::

    PYTHONPATH=. python benchmarks/mixed_flag_shares.py after
    PYTHONPATH=/path/to/before python benchmarks/mixed_flag_shares.py before

Each run writes ``benchmarks/results/mixed_flag_shares_<label>.json``; the
markdown table ``benchmarks/results/mixed_flag_shares.md`` is written from
the two files once both exist.
"""

import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.compose import make_column_transformer
from sklearn.ensemble import IsolationForest
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skaevae import OutlierDetector

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "tabular"
ADBENCH = ROOT.parent / "shared" / "data" / "adbench"
TABLES = [
    "Computers", "Hdma", "Housing", "Males", "Participation", "SLID", "Star", "diamonds",
    "penguins",
]  # fmt: skip
NUMERIC_SETS = ["4_breastw", "6_cardio", "38_thyroid", "29_Pima", "2_annthyroid"]
MIN_LEVEL_ROWS = 10


def load(table):
    df = pd.read_csv(DATA / f"{table}.csv")
    order = np.random.default_rng(0).permutation(len(df))[:5000]
    df = df.iloc[order].reset_index(drop=True)
    categorical = [
        c
        for c in df.columns
        if not pd.api.types.is_numeric_dtype(df[c]) or pd.api.types.is_bool_dtype(df[c])
    ]
    return df, categorical


def level_shares(flagged, df, categorical):
    overall = flagged.mean()
    worst = (0.0, "", "")
    for column in categorical:
        groups = pd.Series(flagged).groupby(df[column].astype(object), observed=True)
        shares = groups.mean()[groups.size() >= MIN_LEVEL_ROWS]
        if len(shares) and shares.max() > worst[0]:
            worst = (float(shares.max()), column, str(shares.idxmax()))
    ratio = worst[0] / overall if overall > 0 else float("nan")
    return overall, ratio, f"{worst[1]}={worst[2]}"


def one_hot(df, categorical):
    numeric = [c for c in df.columns if c not in categorical]
    filled = df.copy()
    filled[numeric] = filled[numeric].fillna(filled[numeric].median())
    codes = make_column_transformer(
        (StandardScaler(), numeric),
        (OneHotEncoder(handle_unknown="ignore"), categorical),
        sparse_threshold=0,
    )
    return codes.fit_transform(filled[numeric + categorical].astype({c: str for c in categorical}))


def measure():
    results = {"tables": {}, "numeric": {}}
    for table in TABLES:
        df, categorical = load(table)
        detector = OutlierDetector(random_state=0).fit(df)
        flagged = detector.predict(df) == -1
        overall, ratio, level = level_shares(flagged, df, categorical)
        forest = IsolationForest(random_state=0).fit(one_hot(df, categorical))
        forest_share = float(np.mean(forest.predict(one_hot(df, categorical)) == -1))
        results["tables"][table] = {
            "overall": float(overall),
            "max level / overall": ratio,
            "level": level,
            "lowest score": float(detector.score_samples(df).min()),
            "IsolationForest": forest_share,
        }
        print(table, results["tables"][table], flush=True)
    for name in NUMERIC_SETS:
        X = np.load(ADBENCH / f"{name}.npz")["X"]
        share = np.mean(OutlierDetector(random_state=0).fit_predict(X) == -1)
        results["numeric"][name] = float(share)
        print(name, share, flush=True)
    return results


def write_markdown():
    paths = {label: ROOT / "benchmarks" / "results" / f"mixed_flag_shares_{label}.json"
             for label in ("before", "after")}  # fmt: skip
    if not all(path.exists() for path in paths.values()):
        return
    runs = {label: json.loads(path.read_text()) for label, path in paths.items()}
    rows = []
    for table in TABLES:
        b, a = runs["before"]["tables"][table], runs["after"]["tables"][table]
        rows.append({
            "table": table,
            "flagged before": f"{b['overall']:.3f}",
            "max level/overall before": f"{b['max level / overall']:.1f} ({b['level']})",
            "lowest score before": f"{b['lowest score']:.3g}",
            "flagged after": f"{a['overall']:.3f}",
            "max level/overall after": f"{a['max level / overall']:.1f} ({a['level']})",
            "lowest score after": f"{a['lowest score']:.3g}",
            "IsolationForest (one-hot)": f"{a['IsolationForest']:.3f}",
        })  # fmt: skip
    frame = pd.DataFrame(rows).set_index("table")
    numeric = pd.DataFrame({label: run["numeric"] for label, run in runs.items()}).map(
        lambda v: f"{v:.3f}"
    )
    lines = [
        "# Share of rows flagged on clean mixed tables",
        "",
        "Command: `PYTHONPATH=<before checkout> python benchmarks/mixed_flag_shares.py before; "
        "PYTHONPATH=. python benchmarks/mixed_flag_shares.py after` (see the script's docstring).",
        "",
        '`OutlierDetector(random_state=0)`, `contamination="auto"`, on each table of '
        "`shared/data/tabular` (no planted anomalies). *max level/overall*: the largest share "
        f"flagged within one level (of at least {MIN_LEVEL_ROWS} rows) of a categorical column, "
        "divided by the overall share.",
        "",
        frame.to_markdown(),
        "",
        "Reference: share flagged by the default detector on numeric ADBench sets "
        "(labels ignored), which the change leaves alone:",
        "",
        numeric.to_markdown(),
        "",
    ]
    out = ROOT / "benchmarks" / "results" / "mixed_flag_shares.md"
    machine = out.with_suffix(".machine.txt")
    if machine.exists():
        lines += ["Machine (`lscpu | head`):", "", "```", machine.read_text().strip(), "```", ""]
    # Measurements added by hand below this line are kept.
    notes = "<!-- notes -->"
    if out.exists() and notes in out.read_text():
        lines += [notes + out.read_text().split(notes, 1)[1]]
    out.write_text("\n".join(lines))


def main():
    torch.set_num_threads(1)
    warnings.simplefilter("ignore", ConvergenceWarning)
    label = sys.argv[1] if len(sys.argv) > 1 else "after"
    results = measure()
    path = ROOT / "benchmarks" / "results" / f"mixed_flag_shares_{label}.json"
    path.write_text(json.dumps(results, indent=1))
    write_markdown()


if __name__ == "__main__":
    main()
