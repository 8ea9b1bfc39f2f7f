"""Training and inference throughput of skaevae against plain torch, skorch and PyOD.

Side by side in one process, interleaved and repeated (the machine may be
shared, so read medians and ratios, not single times):

- ``ours``: ``AutoencoderTransformer(n_components=8, hidden_layer_sizes=(128, 64))``,
  the 64-128-64-8-64-128-64 ReLU MLP, MSE, Adam, on the CPU; ``fit`` end to end
  (validation, training, and the encoding pass for ``latent_mean_``);
  ``ours_epochs`` is the same fit's training epochs alone (skorch's ``dur``);
- ``raw`` / ``raw_fused``: a plain torch loop on the same network (whole tensor,
  batches by slicing a fresh permutation, ``x[index]``, ``Adam`` default or
  ``fused=True``); ``raw`` is the baseline of every ratio;
- ``raw_select``: ``raw`` gathering each batch with ``x.index_select(0, index)``,
  as ours does, to show how much of ours' lead that gather is;
- ``skorch_default``: skorch ``NeuralNet`` with its defaults (``ValidSplit(5)``,
  per-row ``Dataset``/``DataLoader``), ``fit(X, X)``;
- ``pyod_default``: PyOD's ``AutoEncoder`` with its default network
  (64-32, batch norm, dropout 0.2, weight decay), when PyOD is installed;
  its ``fit`` also scores the training rows, as its users pay for it;
- transform: ``ours`` is ``transform`` as users call it, ``ours_assume_finite``
  the same under ``sklearn.config_context(assume_finite=True)`` (no NaN/inf
  pass over X), ``raw`` a plain no-grad encode of the same network (the
  baseline) and ``raw_onednn`` that encode with each ``Linear`` as
  oneDNN's linear, the kernel ``transform`` runs on a CPU.

Samples/s count ``n_rows * epochs`` for every method. The ratios to the plain
loop are medians over repeats of each repeat's ratio. The FLOP roofline is one
core's measured 2048² fp32 matmul rate divided by the training FLOPs per row
(3 × the forward matmul FLOPs); the rate is measured again before each fit
repeat, and a fit's fraction of it is the median over repeats of its rate over
that repeat's roofline. The same is reported against the rate of a training
step's 17 GEMMs at their real shapes run back to back (``step_gemm_gflops``):
how close a step comes to its matmuls alone. Peak memory is the RSS high-water
mark of a fresh subprocess, net of its state before the measured call.

Run from the repository root::

    python benchmarks/throughput.py            # full run (about 30 min on 2 cores)
    python benchmarks/throughput.py --quick    # 20k and 200k rows, fewer repeats

Writes ``throughput.md``, ``throughput.csv`` and ``throughput_fit_time.png``
to ``benchmarks/results/`` (``--out`` for another folder). The helpers live in
``benchmarks/_throughput/``, one concern per module.
"""

import argparse
import os
import sys
import warnings
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from _throughput.measure import (  # noqa: E402
    FIT_REPEATS,
    FIT_REPEATS_QUICK,
    add_ratios,
    compare_threads,
    measure_memory,
    measure_size,
    warm_up,
)
from _throughput.memory import child  # noqa: E402
from _throughput.methods import FIT_METHODS, have_pyod  # noqa: E402
from _throughput.network import TRAIN_FLOPS_PER_ROW  # noqa: E402
from _throughput.report import fmt_rate, write_results  # noqa: E402
from _throughput.roofline import gemm_gflops  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20k and 200k rows, 2 repeats")
    parser.add_argument("--sizes", default=None, help="comma-separated row counts")
    parser.add_argument("--batch-sizes", default="256,4096")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the main runs")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    # Internal: the memory measurement runs this script again, one task per process.
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    return parser.parse_args()


def main():
    args = parse_args()
    if args.child:
        task, n_rows, batch_size, threads = args.child
        child(task, int(n_rows), int(batch_size), int(threads))
        return

    warnings.filterwarnings("ignore")
    sizes = [20_000, 200_000] if args.quick else [20_000, 200_000, 2_000_000]
    if args.sizes:
        sizes = [int(s) for s in args.sizes.split(",")]
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    epochs = args.epochs
    # Repeats per size; the slow baselines are skipped at 2M rows.
    repeats = FIT_REPEATS_QUICK if args.quick else FIT_REPEATS
    methods = [m for m in FIT_METHODS if m != "pyod_default" or have_pyod()]
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(args.threads)
    notes = []
    if not have_pyod():
        notes.append("PyOD is not installed: its rows are missing.")

    gflops, gflops_best = gemm_gflops()
    roofline = gflops * 1e9 / TRAIN_FLOPS_PER_ROW
    print(
        f"GEMM 2048² fp32, {args.threads} thread(s): {gflops:.1f} GFLOP/s (best {gflops_best:.1f})"
    )
    print(f"FLOP roofline: {fmt_rate(roofline)} samples/s ({TRAIN_FLOPS_PER_ROW:,} FLOP/row)")
    warm_up(methods)

    rows = []  # one dict per (method, n, batch_size)
    gemm_by_n = {}  # n: each fit repeat's 2048² GEMM rate
    step_gemm_by_n = {}  # (n, batch): each repeat's rate of a step's GEMMs
    for n in sizes:
        size_rows, gemm_by_n[n], step_gflops = measure_size(
            n, batch_sizes, epochs, methods, repeats.get(n, 1)
        )
        rows += size_rows
        step_gemm_by_n.update({(n, bs): g for bs, g in step_gflops.items()})
    add_ratios(rows)
    thread_rows = compare_threads(sizes, batch_sizes, args.threads)
    memory_rows = measure_memory(Path(__file__).resolve(), sizes, args.threads)

    setup = {
        "sizes": sizes,
        "batch_sizes": batch_sizes,
        "epochs": epochs,
        "repeats": repeats,
        "gflops": gflops,
        "gflops_best": gflops_best,
        "roofline": roofline,
        "gemm_by_n": gemm_by_n,
        "step_gemm_by_n": step_gemm_by_n,
        "notes": notes,
    }
    command = "python " + " ".join([os.path.relpath(__file__, REPO), *sys.argv[1:]])
    write_results(out_dir, command, args.threads, setup, rows, thread_rows, memory_rows)


if __name__ == "__main__":
    main()
