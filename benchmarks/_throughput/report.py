"""The results: throughput.csv, the markdown tables of throughput.md, and the fit-time plot."""

import csv
import os
import time

import numpy as np
import torch

from .measure import SLOW_REPEATS, TRANSFORM_REPEATS, paired_ratio
from .network import (
    ENCODE_BATCH,
    N_FEATURES,
    REFERENCE_ROOFLINE,
    STEP_GEMM_FLOPS_PER_ROW,
    TRAIN_FLOPS_PER_ROW,
    WIDTHS,
)
from .roofline import cpu_model


def fmt_rate(x):
    if not np.isfinite(x):
        return "–"
    return f"{x / 1e6:.2f}M" if x >= 1e6 else f"{x / 1e3:.1f}k"


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


def write_results(out_dir, command, threads, setup, rows, thread_rows, memory_rows):
    """Write throughput.csv, throughput_fit_time.png and throughput.md to ``out_dir``.

    ``command`` is the command line that made the results, ``threads`` the
    torch threads of the main runs, and ``setup`` the run's sizes, repeats and
    GEMM rates.
    """
    sizes, batch_sizes, epochs = setup["sizes"], setup["batch_sizes"], setup["epochs"]
    repeats, roofline, notes = setup["repeats"], setup["roofline"], setup["notes"]
    gflops, gflops_best = setup["gflops"], setup["gflops_best"]
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
        f"torch threads in the main runs: {threads}; shared machine, so read ratios.  ",
        f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}  ",
        f"Model: {'-'.join(map(str, WIDTHS))} ReLU MLP, MSE, Adam lr 1e-3, {epochs} epochs, "
        f"float32 X with {N_FEATURES} features; samples/s = rows × epochs / median wall time; "
        "ratios to raw = median over repeats of each repeat's ratio (a repeat runs every "
        "method back to back).  ",
        f"GEMM roofline: 2048² fp32 `torch.mm`, {threads} thread(s): {gflops:.1f} GFLOP/s "
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
