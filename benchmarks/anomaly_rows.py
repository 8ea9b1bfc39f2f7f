"""Fit + score cost of OutlierDetector against IsolationForest as the rows grow.

On the largest ADBench sets of ``../shared/data/adbench-large`` (11_donors,
619,326 × 10, and 16_http, 567,498 × 3), the first N rows of
``numpy.random.default_rng(0).permutation`` for N = 50,000, 200,000 and
600,000 (all rows where a set has fewer), standardised; each detector, with
its defaults and ``random_state=0``, is fitted on the rows and scores them.
Time is the process CPU time of fit + score (BLAS and torch on one thread);
rows/s is N over it. A method whose cost grows linearly in the rows keeps
its rows/s. ROC-AUC on the same rows is shown for reference.

Run from the repository root::

    python benchmarks/anomaly_rows.py

Writes ``benchmarks/results/anomaly_rows.md``.
"""

import argparse
import shlex
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from skaevae import OutlierDetector

sys.path.insert(0, str(Path(__file__).resolve().parent))
from anomaly_adbench import RESULTS, ROOT, machine  # noqa: E402

LARGE = ROOT / ".." / "shared" / "data" / "adbench-large"
SETS = ["11_donors", "16_http"]
ROWS = [50_000, 200_000, 600_000]
METHODS = {
    "OutlierDetector()": lambda: OutlierDetector(random_state=0),
    "IsolationForest": lambda: IsolationForest(random_state=0),
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="*", default=ROWS)
    parser.add_argument("--output", default=str(RESULTS / "anomaly_rows"))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    command = shlex.join(
        ["python", "benchmarks/anomaly_rows.py", *(argv if argv is not None else sys.argv[1:])]
    )
    results = []
    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.simplefilter("ignore")
        warm = np.random.default_rng(0).normal(size=(500, 3))
        for make in METHODS.values():
            make().fit(warm).score_samples(warm)
        for name in SETS:
            data = np.load(LARGE / f"{name}.npz")
            order = np.random.default_rng(0).permutation(len(data["y"]))
            for n in args.rows:
                rows = order[:n]
                X = StandardScaler().fit_transform(data["X"][rows].astype(np.float64))
                y = data["y"][rows]
                for method, make in METHODS.items():
                    start = time.process_time()
                    anomaly = -make().fit(X).score_samples(X)
                    seconds = time.process_time() - start
                    results.append(
                        {
                            "data set": name,
                            "rows": len(rows),
                            "method": method,
                            "CPU s": round(seconds, 2),
                            "rows/s": round(len(rows) / seconds),
                            "ROC-AUC": round(roc_auc_score(y, anomaly), 3),
                        }
                    )
                    print(results[-1], flush=True)
    table = pd.DataFrame(results)
    lines = [
        "# Fit + score cost as the rows grow: OutlierDetector and IsolationForest",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {machine()}",
        "",
        "Protocol: see the script's docstring (one fit and score per row count, process CPU "
        "time, BLAS and torch on one thread).",
        "",
        table.to_markdown(index=False),
    ]
    Path(args.output).with_suffix(".md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
