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
"""

import argparse
import csv
import functools
import json
import os
import platform
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import sklearn
import torch
from torch import nn

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from skaevae import AutoencoderTransformer  # noqa: E402

N_FEATURES = 64
WIDTHS = [64, 128, 64, 8, 64, 128, 64]
LAYER_FLOPS = sum(2 * a * b for a, b in zip(WIDTHS[:-1], WIDTHS[1:], strict=True))
TRAIN_FLOPS_PER_ROW = 3 * LAYER_FLOPS  # forward, backward dX, backward dW
# The GEMMs a step runs: all but the first layer's input gradient.
STEP_GEMM_FLOPS_PER_ROW = TRAIN_FLOPS_PER_ROW - 2 * WIDTHS[0] * WIDTHS[1]
ENCODE_BATCH = 8192
MiB = 2**20
# A reference roofline of one core: ~100 GFLOP/s over the training FLOPs of a row.
REFERENCE_ROOFLINE = 100e9 / TRAIN_FLOPS_PER_ROW
# skorch's and PyOD's fits take 5-20 s at 200k rows and minutes at 2M.
SLOW_REPEATS = {20_000: 3, 200_000: 1}
# transform is a few milliseconds at 20k rows: many repeats, interleaved.
TRANSFORM_REPEATS = {20_000: 41, 200_000: 11, 2_000_000: 3}


# ---------------------------------------------------------------- machine


def paired_ratio(base, other, key="_wall"):
    """Median over repeats of ``base`` time / ``other`` time, repeat by repeat.

    The methods of a repeat run back to back, so a slow spell of the shared
    machine slows both sides of each ratio. A method run in fewer repeats is
    paired with the first repeats of the other.
    """
    k = min(len(base[key]), len(other[key]))
    return float(np.median(base[key][:k] / other[key][:k]))


def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def gemm_gflops(size=2048, repeats=7):
    """Median fp32 ``torch.mm`` rate at the current thread setting, in GFLOP/s."""
    a = torch.randn(size, size)
    b = torch.randn(size, size)
    torch.mm(a, b)
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        rates.append(2 * size**3 / (time.perf_counter() - start) / 1e9)
    return float(np.median(rates)), float(np.max(rates))


def step_gemm_gflops(batch, rows=40_960):
    """Rate of one training step's GEMMs at their real shapes, back to back, in GFLOP/s.

    The 17 matmuls of a step on the benchmark's network (six forward
    ``addmm`` with bias, six weight gradients and five input gradients: the
    first layer needs none), with nothing between them: the ceiling of a
    step whose other work (activations, loss, optimizer, gather) were free.
    Median over the steps of ``rows`` rows (at least 10 steps; a batch-256
    step is too short to time alone), after one untimed.
    """
    steps = max(10, rows // batch)
    pairs = list(zip(WIDTHS[:-1], WIDTHS[1:], strict=True))
    acts = [torch.randn(batch, w) for w in WIDTHS]
    weights = [torch.randn(n_out, n_in) for n_in, n_out in pairs]
    biases = [torch.randn(n_out) for _, n_out in pairs]

    def step():
        for i in range(len(pairs)):
            torch.addmm(biases[i], acts[i], weights[i].t())
        for i in reversed(range(len(pairs))):
            acts[i + 1].t().mm(acts[i])
            if i:
                acts[i + 1].mm(weights[i])

    step()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return batch * STEP_GEMM_FLOPS_PER_ROW / float(np.median(times)) / 1e9


def repeat_fraction(samples_per_s, gflops, flops_per_row=TRAIN_FLOPS_PER_ROW):
    """Median over repeats of a repeat's samples/s over its own GEMM roofline."""
    return float(np.median(samples_per_s / (gflops * 1e9 / flops_per_row)))


# ---------------------------------------------------------------- methods


def make_mlp():
    layers = []
    for i, (n_in, n_out) in enumerate(zip(WIDTHS[:-1], WIDTHS[1:], strict=True)):
        layers.append(nn.Linear(n_in, n_out))
        if i not in (2, len(WIDTHS) - 2):  # linear code and output
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def fit_raw(X, batch_size, epochs, fused, select=False):
    torch.manual_seed(0)
    net = make_mlp()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3, fused=fused)
    x = torch.from_numpy(X)
    n = len(x)
    for _ in range(epochs):
        order = torch.randperm(n)
        for start in range(0, n, batch_size):
            index = order[start : start + batch_size]
            batch = x.index_select(0, index) if select else x[index]
            optimizer.zero_grad(set_to_none=True)
            loss = (net(batch) - batch).square().mean()
            loss.backward()
            optimizer.step()
    return net


def make_ours(batch_size, epochs):
    return AutoencoderTransformer(
        n_components=8,
        hidden_layer_sizes=(128, 64),
        max_iter=epochs,
        batch_size=batch_size,
        device="cpu",
        random_state=0,
    )


def fit_ours(X, batch_size, epochs):
    return make_ours(batch_size, epochs).fit(X)


def fit_skorch_default(X, batch_size, epochs):
    from skorch import NeuralNet

    torch.manual_seed(0)
    net = NeuralNet(
        make_mlp,
        criterion=nn.MSELoss,
        optimizer=torch.optim.Adam,
        lr=1e-3,
        max_epochs=epochs,
        batch_size=batch_size,
        verbose=0,
    )
    return net.fit(X, X)


def fit_pyod_default(X, batch_size, epochs):
    from pyod.models.auto_encoder import AutoEncoder

    return AutoEncoder(
        epoch_num=epochs, batch_size=batch_size, device="cpu", verbose=0, random_state=0
    ).fit(X)


def have_pyod():
    try:
        import pyod  # noqa: F401
    except ImportError:
        return False
    return True


FIT_METHODS = {
    "raw": lambda X, bs, ep: fit_raw(X, bs, ep, fused=None),
    "raw_fused": lambda X, bs, ep: fit_raw(X, bs, ep, fused=True),
    "raw_select": lambda X, bs, ep: fit_raw(X, bs, ep, fused=None, select=True),
    "ours": fit_ours,
    "skorch_default": fit_skorch_default,
    "pyod_default": fit_pyod_default,
}


def encode_raw(encoder, X):
    """Plain no-grad encode of ``X`` in ``ENCODE_BATCH``-row slices into one array.

    ``encoder`` is the network, or any function of a batch (``onednn_forward``).
    """
    out = np.empty((len(X), WIDTHS[3]), dtype=np.float32)
    x = torch.from_numpy(X)
    with torch.no_grad():
        for start in range(0, len(x), ENCODE_BATCH):
            out[start : start + ENCODE_BATCH] = encoder(x[start : start + ENCODE_BATCH]).numpy()
    return out


def onednn_forward(encoder, h):
    """``encoder(h)`` with each ``Linear`` as oneDNN's linear (bias inside the matmul).

    The kernel ``transform`` runs on a CPU, written out here independently of
    skaevae: the ratio of ours to the encode on it is the cost of everything
    but the kernel.
    """
    for layer in encoder:
        if isinstance(layer, nn.Linear):
            h = torch.ops.mkldnn._linear_pointwise(h, layer.weight, layer.bias, "none", [], "")
        else:
            h = layer(h)
    return h


def transform_assume_finite(est):
    """``est.transform`` under scikit-learn's ``assume_finite=True`` (no NaN/inf pass)."""

    def call(X):
        with sklearn.config_context(assume_finite=True):
            return est.transform(X)

    return call


def timed(fn, *args):
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn(*args)
    return time.perf_counter() - wall, time.process_time() - cpu, result


# ------------------------------------------------------------ subprocesses


def peak_rss_child(task, n_rows, batch_size, threads):
    """Run ``task`` in a fresh interpreter; return its memory report (MiB)."""
    cmd = [sys.executable, __file__, "--child", task, str(n_rows), str(batch_size), str(threads)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=REPO)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _rss_now():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _rss_peak():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_peak():
    """Reset the RSS high-water mark to the current RSS (Linux ``clear_refs``)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def child(task, n_rows, batch_size, threads):
    warnings.filterwarnings("ignore")
    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    X_small = rng.standard_normal((2048, N_FEATURES), dtype=np.float32)
    X = rng.standard_normal((n_rows, N_FEATURES), dtype=np.float32)
    input_mib = X.nbytes / MiB
    if task == "transform":
        est = make_ours(256, 1).fit(X_small)
        est.transform(X_small)  # warm the code path
        call = lambda: est.transform(X)  # noqa: E731
        output_mib = n_rows * 8 * 4 / MiB
    elif task == "transform_raw":
        encoder = make_mlp()[:5]
        encode_raw(encoder, X_small)
        call = lambda: encode_raw(encoder, X)  # noqa: E731
        output_mib = n_rows * 8 * 4 / MiB
    elif task == "fit":
        make_ours(256, 1).fit(X_small)
        call = lambda: fit_ours(X, batch_size, 1)  # noqa: E731
        output_mib = 0.0
    elif task == "fit_raw":
        fit_raw(X_small, 256, 1, fused=None)
        call = lambda: fit_raw(X, batch_size, 1, fused=None)  # noqa: E731
        output_mib = 0.0
    else:
        raise ValueError(task)
    before = _rss_now()
    reset = _reset_peak()
    call()
    peak = _rss_peak()
    report = {
        "input_mib": input_mib,
        "output_mib": output_mib,
        "rss_before_mib": before,
        "peak_mib": peak,
        "extra_mib": peak - before - output_mib,
        "peak_reset": reset,
    }
    print(json.dumps(report))


# ------------------------------------------------------------------- main


def fmt_rate(x):
    if not np.isfinite(x):
        return "–"
    return f"{x / 1e6:.2f}M" if x >= 1e6 else f"{x / 1e3:.1f}k"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20k and 200k rows, 2 repeats")
    parser.add_argument("--sizes", default=None, help="comma-separated row counts")
    parser.add_argument("--batch-sizes", default="256,4096")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the main runs")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
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
    # Repeats per size; the slow baselines are skipped at 2M rows (below).
    # A fit of 20k rows takes well under a second, so it is repeated often
    # enough for the median to settle on a shared virtual machine.
    repeats = {20_000: 9, 200_000: 5, 2_000_000: 3}
    if args.quick:
        repeats = {20_000: 5, 200_000: 2}
    slow = {"skorch_default", "pyod_default"}
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

    # Warm-up: imports, first-call dispatch and allocator caches, untimed.
    X_warm = np.random.default_rng(2).standard_normal((8192, N_FEATURES), dtype=np.float32)
    for method in methods:
        FIT_METHODS[method](X_warm, 256, 1)

    rows = []  # one dict per (method, n, batch_size)
    gemm_by_n = {}
    step_gemm_by_n = {}  # (n, batch): each repeat's rate of a step's GEMMs
    for n in sizes:
        X = np.random.default_rng(0).standard_normal((n, N_FEATURES), dtype=np.float32)
        n_rep = repeats.get(n, 1)
        fit_times = {}
        rep_gflops = gemm_by_n[n] = []  # each repeat's GEMM rate: the machine's speed drifts
        rep_step_gflops = {bs: step_gemm_by_n.setdefault((n, bs), []) for bs in batch_sizes}
        for rep in range(n_rep):
            rep_gflops.append(gemm_gflops(repeats=3)[0])
            for bs in batch_sizes:
                rep_step_gflops[bs].append(step_gemm_gflops(bs))
                for method in methods:
                    if method in slow and rep >= SLOW_REPEATS.get(n, int(n < 2_000_000)):
                        continue
                    wall, cpu, fitted = timed(FIT_METHODS[method], X, bs, epochs)
                    fit_times.setdefault((method, bs), []).append((wall, cpu))
                    if method == "ours":
                        # The training epochs alone, without fit()'s validation,
                        # setup and the encoding pass for latent_mean_.
                        epochs_s = float(sum(fitted.net_.history[:, "dur"]))
                        fit_times.setdefault(("ours_epochs", bs), []).append(
                            (epochs_s, epochs_s * cpu / wall)
                        )
                    print(
                        f"n={n} bs={bs} rep={rep} {method}: {wall:.2f}s wall, {cpu:.2f}s cpu",
                        flush=True,
                    )
        # Transform: ours against a plain no-grad encode of the same network.
        est = make_ours(256, 1).fit(X[:2048])
        encoder = est.net_.module_.encoder
        tr_calls = {
            "ours": est.transform,
            "ours_assume_finite": transform_assume_finite(est),
            "raw": functools.partial(encode_raw, encoder),
        }
        if torch.backends.mkldnn.is_available():
            tr_calls["raw_onednn"] = functools.partial(
                encode_raw, functools.partial(onednn_forward, encoder)
            )
        tr_times = {name: [] for name in tr_calls}
        for rep in range(TRANSFORM_REPEATS.get(n, 3)):
            # The order rotates, so that no method always follows the same one.
            names = list(tr_calls)
            first = rep % len(names)
            for name in names[first:] + names[:first]:
                tr_times[name].append(timed(tr_calls[name], X)[:2])
        for (method, bs), times in fit_times.items():
            wall = np.array([t[0] for t in times])
            cpu = np.array([t[1] for t in times])
            rows.append(
                {
                    "kind": "fit",
                    "method": method,
                    "n_rows": n,
                    "batch_size": bs,
                    "epochs": epochs,
                    "repeats": len(times),
                    "wall_s_median": float(np.median(wall)),
                    "samples_per_s": n * epochs / float(np.median(wall)),
                    "samples_per_s_best": n * epochs / float(np.min(wall)),
                    "cpu_samples_per_s": n * epochs / float(np.median(cpu)),
                    "_wall": wall,
                    "_cpu": cpu,
                    # Each repeat's rate over that repeat's GEMM roofline (a
                    # method run in fewer repeats ran in the first ones).
                    "_gemm": np.array(rep_gflops[: len(times)]),
                    "_step_gemm": np.array(rep_step_gflops[bs][: len(times)]),
                }
            )
        for method, times in tr_times.items():
            wall = np.array([t[0] for t in times])
            cpu = np.array([t[1] for t in times])
            rows.append(
                {
                    "kind": "transform",
                    "method": method,
                    "n_rows": n,
                    "batch_size": ENCODE_BATCH,
                    "epochs": 1,
                    "repeats": len(times),
                    "wall_s_median": float(np.median(wall)),
                    "samples_per_s": n / float(np.median(wall)),
                    "samples_per_s_best": n / float(np.min(wall)),
                    "cpu_samples_per_s": n / float(np.median(cpu)),
                    "_wall": wall,
                    "_cpu": cpu,
                }
            )
        del X

    # Ratios to the plain loop of the same size and batch, paired by repeat.
    index = {(r["kind"], r["method"], r["n_rows"], r["batch_size"]): r for r in rows}
    for r in rows:
        ref = index.get((r["kind"], "raw", r["n_rows"], r["batch_size"]))
        r["ratio_to_raw"] = paired_ratio(ref, r) if ref else float("nan")
        r["cpu_ratio_to_raw"] = paired_ratio(ref, r, "_cpu") if ref else float("nan")
        fractions = dict.fromkeys(
            [
                "fraction_of_roofline",
                "fraction_of_step_gemms",
                "fraction_of_reference_roofline",
                "cpu_fraction_of_roofline",
            ],
            float("nan"),
        )
        if r["kind"] == "fit":
            samples = r["n_rows"] * r["epochs"]
            rates = samples / r["_wall"]  # each repeat's samples/s
            fractions.update(
                fraction_of_roofline=repeat_fraction(rates, r["_gemm"]),
                fraction_of_step_gemms=repeat_fraction(
                    rates, r["_step_gemm"], STEP_GEMM_FLOPS_PER_ROW
                ),
                fraction_of_reference_roofline=r["samples_per_s"] / REFERENCE_ROOFLINE,
                # Per CPU-second: what the process got of a core, whatever else ran.
                cpu_fraction_of_roofline=repeat_fraction(samples / r["_cpu"], r["_gemm"]),
            )
        r.update(fractions)

    # Threads: 1 vs 2 for ours, fit and transform, interleaved. Small (20k rows,
    # 2 epochs), as two threads can be many times slower on a busy machine.
    thread_rows = []
    n_thr, epochs_thr = min(20_000, min(sizes)), 2
    X = np.random.default_rng(1).standard_normal((n_thr, N_FEATURES), dtype=np.float32)
    thr_times = {}
    for _ in range(3):
        for threads in (1, 2):
            torch.set_num_threads(threads)
            for bs in batch_sizes:
                # The plain loop shows what a second thread does to a training
                # step; ours shows the effect of its thread cap (see _threads.py).
                for name, fit in (
                    ("fit raw_fused", FIT_METHODS["raw_fused"]),
                    ("fit ours", fit_ours),
                ):
                    thr_times.setdefault((name, bs, threads), []).append(
                        timed(fit, X, bs, epochs_thr)[0] / (n_thr * epochs_thr)
                    )
            est = make_ours(256, 1).fit(X[:2048])
            thr_times.setdefault(("transform ours", ENCODE_BATCH, threads), []).append(
                timed(est.transform, X)[0] / n_thr
            )
            thr_times.setdefault(("gemm", 2048, threads), []).append(
                1 / (gemm_gflops(repeats=3)[0] * 1e9)
            )
    torch.set_num_threads(args.threads)
    for (kind, bs, threads), per_row in sorted(thr_times.items()):
        thread_rows.append(
            {
                "kind": kind,
                "batch_size": bs,
                "threads": threads,
                "rate": 1 / float(np.median(per_row)),
                "runs": [1 / p for p in per_row],
            }
        )
    del X

    # Peak memory, each in a fresh subprocess (1 epoch: memory does not grow with epochs).
    memory_rows = []
    for n in sizes:
        for task in ("transform", "transform_raw", "fit", "fit_raw"):
            bs = 4096
            rep = peak_rss_child(task, n, bs, args.threads)
            rep.update(task=task, n_rows=n, batch_size=bs)
            memory_rows.append(rep)
            print(f"memory {task} n={n}: {rep}", flush=True)

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
    write_results(out_dir, args, setup, rows, thread_rows, memory_rows)


def target_lines(rows):
    """The CPU targets, each checked at every size measured."""
    index = {(r["kind"], r["method"], r["n_rows"], r["batch_size"]): r for r in rows}
    sizes = sorted({r["n_rows"] for r in rows})
    pct = "{:.0%}"

    def row(label, batch, value, threshold, method="ours", kind="fit", ref=None, fmt="{:.2f}"):
        cells = []
        for n in sizes:
            r = index.get((kind, method, n, batch))
            base = index.get((kind, ref, n, batch)) if ref else None
            if r is None or (ref and base is None):
                cells.append("–")
                continue
            v = value(r, base)
            cells.append(("" if v >= threshold else "**short** ") + fmt.format(v))
        return f"| {label} | {' / '.join(cells)} |"

    def ratio(r, _):
        return r["ratio_to_raw"]

    def speedup(r, base):
        return paired_ratio(base, r)

    def reference_roofline(r, _):
        return r["fraction_of_reference_roofline"]

    def gemm_roofline(r, _):
        return r["fraction_of_roofline"]

    def step_gemms(r, _):
        return r["fraction_of_step_gemms"]

    return [
        "## Targets",
        "",
        f"| target | {' / '.join(f'{n:,}' for n in sizes)} rows |",
        "|---|---|",
        row("fit ≥ 1.0× plain loop (default Adam), batch 256", 256, ratio, 1.0),
        row("fit ≥ 1.15× plain loop, batch 256 (ours: fused Adam)", 256, ratio, 1.15),
        row("fit ≥ 1.0× plain loop, batch 4096", 4096, ratio, 1.0),
        row("fit ≥ 2× skorch defaults, batch 256", 256, speedup, 2.0, ref="skorch_default"),
        row("fit ≥ 2× skorch defaults, batch 4096", 4096, speedup, 2.0, ref="skorch_default"),
        row(
            "fit ≥ 2.5× PyOD AutoEncoder defaults, batch 256",
            256,
            speedup,
            2.5,
            ref="pyod_default",
        ),
        row(
            "fit ≥ 2.5× PyOD AutoEncoder defaults, batch 4096",
            4096,
            speedup,
            2.5,
            ref="pyod_default",
        ),
        row("transform ≥ 0.9× plain no-grad encode", ENCODE_BATCH, ratio, 0.9, kind="transform"),
        row(
            "(transform under scikit-learn's `assume_finite=True`: ratio to the plain encode)",
            ENCODE_BATCH,
            ratio,
            0.0,
            method="ours_assume_finite",
            kind="transform",
        ),
        row(
            "(transform: ratio to the plain encode on oneDNN's linear, the kernel ours runs)",
            ENCODE_BATCH,
            speedup,
            0.0,
            ref="raw_onednn",
            kind="transform",
        ),
        row(
            "(plain encode on oneDNN's linear: ratio to the plain encode)",
            ENCODE_BATCH,
            ratio,
            0.0,
            method="raw_onednn",
            kind="transform",
        ),
        row(
            "batch 4096: ≥ 70% of the reference roofline (493k samples/s)",
            4096,
            reference_roofline,
            0.7,
            fmt=pct,
        ),
        row(
            "batch 4096: ≥ 70% of the 2048² GEMM rate measured in the same repeat",
            4096,
            gemm_roofline,
            0.7,
            fmt=pct,
        ),
        row(
            "(plain loop, batch 4096: fraction of the same GEMM rate)",
            4096,
            gemm_roofline,
            0.0,
            method="raw",
            fmt=pct,
        ),
        row(
            "(batch 4096: fraction of a step's 17 GEMMs run back to back, the same repeat)",
            4096,
            step_gemms,
            0.0,
            fmt=pct,
        ),
        row(
            "(plain loop, batch 4096: fraction of the same)",
            4096,
            step_gemms,
            0.0,
            method="raw",
            fmt=pct,
        ),
        row(
            "(plain loop gathering with index_select: ratio to raw, batch 256)",
            256,
            ratio,
            0.0,
            method="raw_select",
        ),
        row(
            "(plain loop gathering with index_select: ratio to raw, batch 4096)",
            4096,
            ratio,
            0.0,
            method="raw_select",
        ),
        "",
        "Peak memory of `transform`: table at the end.",
        "",
    ]


def write_results(out_dir, args, setup, rows, thread_rows, memory_rows):
    sizes, batch_sizes, epochs = setup["sizes"], setup["batch_sizes"], setup["epochs"]
    repeats, roofline, notes = setup["repeats"], setup["roofline"], setup["notes"]
    gflops, gflops_best = setup["gflops"], setup["gflops_best"]
    command = "python " + " ".join([os.path.relpath(__file__, REPO), *sys.argv[1:]])
    targets = target_lines(rows)

    rows = [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]
    with open(out_dir / "throughput.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        1, len(batch_sizes), figsize=(6 * len(batch_sizes), 4.5), squeeze=False
    )
    for ax, bs in zip(axes[0], batch_sizes, strict=True):
        for method in dict.fromkeys(r["method"] for r in rows if r["kind"] == "fit"):
            pts = sorted(
                (r["n_rows"], r["wall_s_median"] / r["epochs"])
                for r in rows
                if r["kind"] == "fit" and r["method"] == method and r["batch_size"] == bs
            )
            if pts:
                ax.plot(*zip(*pts, strict=True), marker="o", label=method)
        n_grid = np.array([min(sizes), max(sizes)], dtype=float)
        ax.plot(n_grid, n_grid / roofline, "k--", lw=1, label="FLOP roofline")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("rows n")
        ax.set_ylabel("fit time per epoch (s)")
        ax.set_title(f"batch {bs}: slope 1 on log-log = linear in n")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_dir / "throughput_fit_time.png", dpi=110)

    lines = [
        "# skaevae throughput benchmark",
        "",
        f"Command: `{command}`  ",
        f"Machine: {cpu_model()}, {os.cpu_count()} logical CPUs, no GPU "
        f"(torch {torch.__version__}, CUDA available: {torch.cuda.is_available()}); "
        f"torch threads in the main runs: {args.threads}; shared machine, so read ratios.  ",
        f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}  ",
        f"Model: {'-'.join(map(str, WIDTHS))} ReLU MLP, MSE, Adam lr 1e-3, {epochs} epochs, "
        f"float32 X with {N_FEATURES} features; samples/s = rows × epochs / median wall time; "
        "ratios to raw = median over repeats of each repeat's ratio (a repeat runs every "
        "method back to back).  ",
        f"GEMM roofline: 2048² fp32 `torch.mm`, {args.threads} thread(s): {gflops:.1f} GFLOP/s "
        f"median ({gflops_best:.1f} best); / {TRAIN_FLOPS_PER_ROW:,} training FLOP per row "
        f"= **{fmt_rate(roofline)} samples/s**.  ",
        "The same GEMM before each fit repeat, GFLOP/s (min–max): "
        + ", ".join(f"{n:,}: {min(g):.0f}–{max(g):.0f}" for n, g in setup["gemm_by_n"].items())
        + "; a fit's fraction of the roofline is the median over repeats of its rate over "
        "that repeat's.  ",
        "A step's 17 GEMMs at their real shapes, back to back, before each fit repeat, "
        "GFLOP/s (min–max): "
        + ", ".join(
            f"{n:,} batch {bs}: {min(g):.0f}–{max(g):.0f}"
            for (n, bs), g in setup["step_gemm_by_n"].items()
        )
        + f"; over their {STEP_GEMM_FLOPS_PER_ROW:,} FLOP per row, the ceiling of a step whose "
        "other work were free.  ",
        "A reference roofline of one core (~100 GFLOP/s): "
        f"{fmt_rate(REFERENCE_ROOFLINE)} samples/s.  ",
        "Fit repeats per size (interleaved): "
        f"{', '.join(f'{n:,}: {r}' for n, r in repeats.items() if n in sizes)}; skorch and "
        f"PyOD: {', '.join(f'{n:,}: {r}' for n, r in SLOW_REPEATS.items() if n in sizes)}, "
        "none from 2M rows (minutes per run). Transform repeats: "
        f"{', '.join(f'{n:,}: {r}' for n, r in TRANSFORM_REPEATS.items() if n in sizes)}. "
        "CPU-time ratios are less sensitive to the other load on the machine.",
        *(f"Note: {note}" for note in notes),
        "",
        *targets,
        "## Fit",
        "",
        "| n | batch | method | samples/s (median) | best | ratio to raw | CPU-time ratio "
        "to raw | fraction of roofline (the repeat's GEMM) | of the step's GEMMs | "
        "of the reference roofline | runs |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r["kind"] == "fit":
            lines.append(
                f"| {r['n_rows']:,} | {r['batch_size']} | {r['method']} | "
                f"**{fmt_rate(r['samples_per_s'])}** | {fmt_rate(r['samples_per_s_best'])} | "
                f"{r['ratio_to_raw']:.2f} | {r['cpu_ratio_to_raw']:.2f} | "
                f"{r['fraction_of_roofline']:.0%} | {r['fraction_of_step_gemms']:.0%} | "
                f"{r['fraction_of_reference_roofline']:.0%} | "
                f"{r['repeats']} |"
            )
    lines += [
        "",
        f"## Transform (ours: `transform`; ours_assume_finite: the same under scikit-learn's "
        f"`assume_finite=True`; raw: no-grad encode in {ENCODE_BATCH}-row slices; raw_onednn: "
        f"the same with each Linear as oneDNN's linear, the kernel ours runs)",
        "",
        "| n | method | rows/s (median) | best | ratio to raw | CPU-time ratio to raw | runs |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r["kind"] == "transform":
            lines.append(
                f"| {r['n_rows']:,} | {r['method']} | **{fmt_rate(r['samples_per_s'])}** | "
                f"{fmt_rate(r['samples_per_s_best'])} | {r['ratio_to_raw']:.2f} | "
                f"{r['cpu_ratio_to_raw']:.2f} | {r['repeats']} |"
            )
    lines += [
        "",
        "## Torch threads, ours (20,000 rows, fit 2 epochs in samples/s, transform in rows/s, "
        "GEMM 2048² in FLOP/s; 3 interleaved runs each)",
        "",
        "| what | batch | 1 thread | 2 threads | 2 / 1 | 2-thread runs |",
        "|---|---|---|---|---|---|",
    ]
    by_key = {(t["kind"], t["batch_size"], t["threads"]): t for t in thread_rows}
    for kind, bs in dict.fromkeys((t["kind"], t["batch_size"]) for t in thread_rows):
        one, two = by_key[(kind, bs, 1)], by_key[(kind, bs, 2)]
        lines.append(
            f"| {kind} | {bs} | {fmt_rate(one['rate'])} | {fmt_rate(two['rate'])} | "
            f"{two['rate'] / one['rate']:.2f} | {', '.join(fmt_rate(x) for x in two['runs'])} |"
        )
    lines += [
        "",
        "## Peak memory (fresh subprocess; MiB; extra = peak RSS − RSS before the call − output)",
        "",
        "| task | n | input | output | extra | within input + output + 64 MiB |",
        "|---|---|---|---|---|---|",
    ]
    for m in memory_rows:
        ok = m["extra_mib"] <= 64 if m["task"].startswith("transform") else None
        lines.append(
            f"| {m['task']} | {m['n_rows']:,} | {m['input_mib']:.0f} | {m['output_mib']:.0f} | "
            f"{m['extra_mib']:.1f} | {'–' if ok is None else ('yes' if ok else 'NO')} |"
        )
    lines += ["", "Plot: `throughput_fit_time.png` (fit time against n, log-log).", ""]
    (out_dir / "throughput.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
