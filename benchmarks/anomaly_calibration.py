"""False alarms at a nominal rate: OutlierDetector's conformal p-values on 16 ADBench sets.

For each data set (``../shared/data/adbench``, 10_cover left out as in
``anomaly_adbench.py``) and seed, the rows are split in two halves at random
(``numpy.random.default_rng(seed)``); the normal rows of the second half are
test rows that no fit sees. The detector is fitted on the first half with
``calibration_size=0.3`` and flags the test rows with ``p_values(X) <=
alpha``; the false-alarm rate is the share of those normal test rows
flagged, at alpha = 1% and 5%. Two training sets:

- ``clean``: the normal rows of the first half (a reference set known to be
  normal, the setting whose rate conformal p-values guarantee);
- ``contaminated``: the whole first half, anomalies included (the
  unsupervised protocol), where anomalies among the calibration rows can
  only lower the rate.

StandardScaler is fitted on all X, as in ``anomaly_adbench.py``. Also
reported: the share of the second half's anomalies flagged (recall).

Run from the repository root::

    python benchmarks/anomaly_calibration.py

Writes ``benchmarks/results/anomaly_calibration.{csv,md}``.
"""

import argparse
import shlex
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from threadpoolctl import threadpool_limits

from skaevae import OutlierDetector

sys.path.insert(0, str(Path(__file__).resolve().parent))
from anomaly_adbench import RESULTS, load_datasets, machine  # noqa: E402

ALPHAS = (0.01, 0.05)
CALIBRATION_SIZE = 0.3


def one_run(X, y, seed):
    rows = np.random.default_rng(seed).permutation(len(X))
    first, second = rows[: len(X) // 2], rows[len(X) // 2 :]
    test = second[y[second] == 0]
    anomalies = second[y[second] == 1]
    settings = {"clean": first[y[first] == 0], "contaminated": first}
    results = []
    for setting, train in settings.items():
        detector = OutlierDetector(calibration_size=CALIBRATION_SIZE, random_state=seed)
        detector.fit(X[train])
        p = detector.p_values(X[test])
        row = {"setting": setting, "seed": seed, "n_calibration": len(detector.calibration_scores_)}
        for alpha in ALPHAS:
            row[f"false alarms at {alpha:.0%}"] = np.mean(p <= alpha)
        # The share of the second half's anomalies flagged.
        p_anomalies = detector.p_values(X[anomalies])
        for alpha in ALPHAS:
            row[f"recall at {alpha:.0%}"] = np.mean(p_anomalies <= alpha)
        results.append(row)
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--datasets", nargs="*", help="file stems, e.g. 42_WBC (default: all)")
    parser.add_argument("--output", default=str(RESULTS / "anomaly_calibration"))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    command = shlex.join(
        [
            "python",
            "benchmarks/anomaly_calibration.py",
            *(argv if argv is not None else sys.argv[1:]),
        ]
    )
    runs = []
    for dataset, (X, y) in load_datasets(args.datasets).items():
        for seed in range(args.seeds):
            with warnings.catch_warnings(), threadpool_limits(1):
                warnings.simplefilter("ignore")
                for row in one_run(X, y, seed):
                    runs.append({"dataset": dataset, **row})
        print(dataset, flush=True)
    runs = pd.DataFrame(runs)
    output = Path(args.output)
    runs.to_csv(output.with_suffix(".csv"), index=False, float_format="%.5f")
    rates = [f"false alarms at {alpha:.0%}" for alpha in ALPHAS]
    recalls = [f"recall at {alpha:.0%}" for alpha in ALPHAS]
    per_set = runs.groupby(["setting", "dataset"], sort=False)[
        ["n_calibration", *rates, *recalls]
    ].mean()
    lines = [
        "# False alarms of conformal p-values on 16 ADBench data sets",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {machine()}",
        "",
        "Protocol: see the script's docstring. The normal rows of a random half of each set "
        f"are test rows; `OutlierDetector(calibration_size={CALIBRATION_SIZE})` is fitted on "
        "the other half (its normal rows only, or all of it); a test row is flagged when "
        "`p_values <= alpha`. "
        f"Mean over {args.seeds} seeds and the data sets; the spread is the lowest and highest "
        "data set's mean.",
        "",
        "## Summary",
        "",
        "| training rows | " + " | ".join(f"{r}: mean (min to max)" for r in rates) + " |",
        "|---" * (len(rates) + 1) + "|",
    ]
    for setting, frame in per_set.groupby(level="setting", sort=False):
        cells = [
            f"{frame[r].mean():.2%} ({frame[r].min():.1%} to {frame[r].max():.1%})" for r in rates
        ]
        lines.append(f"| {setting} | " + " | ".join(cells) + " |")
    lines += ["", "## Per data set", ""]
    shown = per_set.reset_index()
    shown["n_calibration"] = shown["n_calibration"].round().astype(int)
    for column in [*rates, *recalls]:
        shown[column] = shown[column].map(lambda v: "" if np.isnan(v) else f"{v:.1%}")
    lines.append(shown.to_markdown(index=False))
    output.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines[: 16 + len(per_set.index.levels[0])]))


if __name__ == "__main__":
    main()
