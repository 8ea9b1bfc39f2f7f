"""Fit time and peak memory of the default detector on a categorical column of many levels.

A table of ``--rows`` rows: a standard normal column and a string column
with ``--levels`` levels, each level once in the first rows and the other
rows drawn uniformly among them (so most levels are rare).
``OutlierDetector(random_state=0).fit`` is timed with ``time.perf_counter``
and the peak resident memory of the process is read from
``resource.getrusage`` after the fit (run each setting in its own process).

Run: ``python benchmarks/high_cardinality.py --levels 3133`` (and ``--levels 10``).
"""

import argparse
import resource
import time

import numpy as np
import pandas as pd
import torch

from skaevae import OutlierDetector


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--levels", type=int, default=3133)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    levels = np.array([f"level{i}" for i in range(args.levels)])
    codes = np.concatenate(
        [np.arange(args.levels), rng.integers(args.levels, size=args.rows - args.levels)]
    )
    df = pd.DataFrame({"x": rng.normal(size=args.rows), "c": levels[codes]})
    start = time.perf_counter()
    detector = OutlierDetector(random_state=0).fit(df)
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    network = detector.estimator_[-1]
    print(
        f"rows={args.rows} levels={args.levels} seen={df.c.nunique()} "
        f"n_components={network.n_components} hidden={network.hidden_layer_sizes} "
        f"fit={seconds:.1f}s peak_rss={peak_mb:.0f}MB "
        f"flagged={np.mean(detector.predict(df) == -1):.3f}"
    )


if __name__ == "__main__":
    main()
