"""The machine's speed: GEMM rates that a fit's throughput is measured against.

The shared machine's speed drifts, so these are measured again before each
fit repeat, and a fit's fraction of a ceiling is taken against its own
repeat's rate.
"""

import platform
import time
from pathlib import Path

import numpy as np
import torch

from .network import STEP_GEMM_FLOPS_PER_ROW, TRAIN_FLOPS_PER_ROW, WIDTHS


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
