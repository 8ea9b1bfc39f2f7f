"""What ``contamination="auto"`` flags on the 16 ADBench data sets.

The default ``OutlierDetector`` (``random_state=0``), fitted on all of each
data set (StandardScaler first, as in ``anomaly_adbench.py``): the fraction of
rows ``predict`` flags, and how many of the flagged rows are true anomalies.
These are the figures the ``contamination`` docstring quotes.

Run from the repository root::

    python benchmarks/auto_contamination.py

Writes ``benchmarks/results/auto_contamination.md`` (a few seconds).
"""

import warnings
from pathlib import Path

import numpy as np
import torch
from anomaly_adbench import RESULTS, load_datasets, machine

from skaevae import OutlierDetector


def main():
    torch.set_num_threads(1)
    lines = [
        '# `contamination="auto"` on 16 ADBench data sets',
        "",
        "Command: `python benchmarks/auto_contamination.py`",
        "",
        f"Machine: {machine()}",
        "",
        "Default `OutlierDetector(random_state=0)`, fitted on all X (StandardScaler first); "
        "`predict` on the same rows.",
        "",
        "| dataset | anomalies in data | flagged | flagged that are anomalies "
        "| anomalies flagged |",
        "|---|---|---|---|---|",
    ]
    flagged_fractions = []
    for name, (X, y) in load_datasets().items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            flagged = OutlierDetector(random_state=0).fit_predict(X) == -1
        flagged_fractions.append(flagged.mean())
        lines.append(
            f"| {name} | {y.mean():.1%} | {flagged.mean():.1%} | "
            f"{y[flagged].mean():.1%} | {flagged[y == 1].mean():.1%} |"
        )
    f = np.array(flagged_fractions)
    lines += [
        "",
        f"Flagged: {f.min():.1%} to {f.max():.1%} of the rows, median {np.median(f):.1%}.",
    ]
    text = "\n".join(lines) + "\n"
    Path(RESULTS).mkdir(parents=True, exist_ok=True)
    (Path(RESULTS) / "auto_contamination.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
