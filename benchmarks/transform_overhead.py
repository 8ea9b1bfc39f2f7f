"""``AutoencoderTransformer.transform`` against a plain torch encode, on one thread.

Times, interleaved in one process, ``ours`` (``est.transform(X)`` of the
benchmark's default ``AutoencoderTransformer(n_components=8,
hidden_layer_sizes=(128, 64))``, a 64-128-64-8 ReLU encoder) and ``raw``
(the plain loop of ``benchmarks/throughput.py``: a no-grad encode of the same
network in 8192-row slices of ``torch.from_numpy(X)``, each written into one
preallocated float32 array) on 100,000 x 64 float32 rows, both returning
numpy. ``raw_onednn`` is that loop with each ``Linear`` as oneDNN's linear,
the kernel ``transform`` runs on a CPU: how much of the difference is the
kernel and how much is everything around it.

Each repeat runs every method once, in a rotating order, so a slow spell of a
shared machine slows all of them. Reported: each method's best and median
time, and the ratios ours / raw (lower is faster; the target is <= 1.0) as
best over best and as the median of each repeat's ratio.

Run from the repository root::

    python benchmarks/transform_overhead.py             # 100,000 rows, 41 repeats
    python benchmarks/transform_overhead.py --rows 200000 --repeats 11

Results are in ``benchmarks/results/transform_overhead.md``.
"""

import argparse
import functools
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _throughput.methods import encode_raw, make_ours, onednn_forward  # noqa: E402
from _throughput.network import N_FEATURES  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=41)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)

    X = np.random.default_rng(0).standard_normal((args.rows, N_FEATURES), dtype=np.float32)
    est = make_ours(256, 1).fit(X[:2048])
    encoder = est.net_.module_.encoder
    calls = {"ours": est.transform, "raw": functools.partial(encode_raw, encoder)}
    if torch.backends.mkldnn.is_available():
        calls["raw_onednn"] = functools.partial(
            encode_raw, functools.partial(onednn_forward, encoder)
        )
    # Both return the same codes (to float32 rounding of the kernel).
    np.testing.assert_allclose(calls["ours"](X), calls["raw"](X), rtol=1e-5, atol=1e-5)

    times = {name: [] for name in calls}
    names = list(calls)
    for rep in range(args.repeats):
        first = rep % len(names)
        for name in names[first:] + names[:first]:
            start = time.perf_counter()
            calls[name](X)
            times[name].append(time.perf_counter() - start)
    times = {name: np.array(t) for name, t in times.items()}

    print(f"{args.rows:,} x {N_FEATURES} float32, 1 torch thread, {args.repeats} repeats")
    for name, t in times.items():
        print(f"  {name:<11} best {1e3 * t.min():7.2f} ms   median {1e3 * np.median(t):7.2f} ms")
    for base in [n for n in names if n != "ours"]:
        best = times["ours"].min() / times[base].min()
        median = float(np.median(times["ours"] / times[base]))
        print(f"  ours / {base:<11} best {best:.3f}   median of ratios {median:.3f}")


if __name__ == "__main__":
    main()
