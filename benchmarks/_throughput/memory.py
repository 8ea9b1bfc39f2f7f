"""Peak memory of one call, measured in a fresh interpreter.

The benchmark runs itself again with ``--child TASK N_ROWS BATCH_SIZE
THREADS``; the child prepares its data, resets the RSS high-water mark, makes
the one call and prints its report as a JSON line.
"""

import json
import resource
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import torch

from .methods import encode_raw, fit_ours, fit_raw, make_ours
from .network import N_FEATURES, MiB, make_mlp


def peak_rss_child(script, task, n_rows, batch_size, threads):
    """Run ``task`` in a fresh interpreter running ``script``; return its memory report (MiB)."""
    cmd = [sys.executable, str(script), "--child", task, str(n_rows), str(batch_size), str(threads)]
    repo = Path(script).resolve().parents[1]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=repo)
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
