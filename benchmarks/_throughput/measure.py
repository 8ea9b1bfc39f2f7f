"""The timed runs: fits and encodes interleaved over repeats, threads, memory.

The machine may be shared, so every method of a repeat runs back to back, and
each ratio between two methods is the median over repeats of that repeat's
ratio: a slow spell of the machine slows both sides of it.
"""

import functools
import time

import numpy as np
import torch

from .memory import peak_rss_child
from .methods import (
    FIT_METHODS,
    encode_raw,
    fit_ours,
    make_ours,
    onednn_forward,
    transform_assume_finite,
)
from .network import ENCODE_BATCH, N_FEATURES, REFERENCE_ROOFLINE, STEP_GEMM_FLOPS_PER_ROW
from .roofline import gemm_gflops, repeat_fraction, step_gemm_gflops

# Fit repeats per size. A fit of 20k rows takes well under a second, so it is
# repeated often enough for the median to settle on a shared virtual machine.
FIT_REPEATS = {20_000: 9, 200_000: 5, 2_000_000: 3}
FIT_REPEATS_QUICK = {20_000: 5, 200_000: 2}
# skorch's and PyOD's fits take 5-20 s at 200k rows and minutes at 2M.
SLOW_METHODS = {"skorch_default", "pyod_default"}
SLOW_REPEATS = {20_000: 3, 200_000: 1}
# transform is a few milliseconds at 20k rows: many repeats, interleaved.
TRANSFORM_REPEATS = {20_000: 41, 200_000: 11, 2_000_000: 3}


def timed(fn, *args):
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn(*args)
    return time.perf_counter() - wall, time.process_time() - cpu, result


def paired_ratio(base, other, key="_wall"):
    """Median over repeats of ``base`` time / ``other`` time, repeat by repeat.

    The methods of a repeat run back to back, so a slow spell of the shared
    machine slows both sides of each ratio. A method run in fewer repeats is
    paired with the first repeats of the other.
    """
    k = min(len(base[key]), len(other[key]))
    return float(np.median(base[key][:k] / other[key][:k]))


def warm_up(methods):
    """Imports, first-call dispatch and allocator caches, untimed."""
    X_warm = np.random.default_rng(2).standard_normal((8192, N_FEATURES), dtype=np.float32)
    for method in methods:
        FIT_METHODS[method](X_warm, 256, 1)


def measure_size(n, batch_sizes, epochs, methods, n_rep):
    """Fit and transform rows of ``n`` rows, with the GEMM rates of each fit repeat.

    Returns the rows (one dict per method and batch size, with each repeat's
    times in its ``_``-prefixed entries), each repeat's 2048² GEMM rate, and
    each repeat's rate of a step's GEMMs per batch size.
    """
    X = np.random.default_rng(0).standard_normal((n, N_FEATURES), dtype=np.float32)
    fit_times = {}
    rep_gflops = []  # each repeat's GEMM rate: the machine's speed drifts
    rep_step_gflops = {bs: [] for bs in batch_sizes}
    for rep in range(n_rep):
        rep_gflops.append(gemm_gflops(repeats=3)[0])
        for bs in batch_sizes:
            rep_step_gflops[bs].append(step_gemm_gflops(bs))
            for method in methods:
                if method in SLOW_METHODS and rep >= SLOW_REPEATS.get(n, int(n < 2_000_000)):
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

    rows = []
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
    return rows, rep_gflops, rep_step_gflops


def add_ratios(rows):
    """Add each row's ratios to the plain loop, and a fit's fractions of the ceilings.

    The ratios are to the plain loop of the same size and batch, paired by
    repeat; the fractions are of the roofline, of the step's GEMMs and of the
    reference roofline.
    """
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


def compare_threads(sizes, batch_sizes, threads):
    """1 against 2 torch threads for ours, fit and transform, interleaved.

    Small (20k rows, 2 epochs), as two threads can be many times slower on a
    busy machine. Leaves torch at ``threads`` threads.
    """
    thread_rows = []
    n_thr, epochs_thr = min(20_000, min(sizes)), 2
    X = np.random.default_rng(1).standard_normal((n_thr, N_FEATURES), dtype=np.float32)
    thr_times = {}
    for _ in range(3):
        for n_threads in (1, 2):
            torch.set_num_threads(n_threads)
            for bs in batch_sizes:
                # The plain loop shows what a second thread does to a training
                # step; ours shows the effect of its thread cap (see _threads.py).
                for name, fit in (
                    ("fit raw_fused", FIT_METHODS["raw_fused"]),
                    ("fit ours", fit_ours),
                ):
                    thr_times.setdefault((name, bs, n_threads), []).append(
                        timed(fit, X, bs, epochs_thr)[0] / (n_thr * epochs_thr)
                    )
            est = make_ours(256, 1).fit(X[:2048])
            thr_times.setdefault(("transform ours", ENCODE_BATCH, n_threads), []).append(
                timed(est.transform, X)[0] / n_thr
            )
            thr_times.setdefault(("gemm", 2048, n_threads), []).append(
                1 / (gemm_gflops(repeats=3)[0] * 1e9)
            )
    torch.set_num_threads(threads)
    for (kind, bs, n_threads), per_row in sorted(thr_times.items()):
        thread_rows.append(
            {
                "kind": kind,
                "batch_size": bs,
                "threads": n_threads,
                "rate": 1 / float(np.median(per_row)),
                "runs": [1 / p for p in per_row],
            }
        )
    return thread_rows


def measure_memory(script, sizes, threads):
    """Peak memory, each task in a fresh subprocess (1 epoch: memory does not grow with epochs)."""
    memory_rows = []
    for n in sizes:
        for task in ("transform", "transform_raw", "fit", "fit_raw"):
            bs = 4096
            rep = peak_rss_child(script, task, n, bs, threads)
            rep.update(task=task, n_rows=n, batch_size=bs)
            memory_rows.append(rep)
            print(f"memory {task} n={n}: {rep}", flush=True)
    return memory_rows
