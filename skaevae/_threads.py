"""Torch's intra-op thread count, lowered for the duration of one call.

Every change here is undone when the call returns (under OpenMP, torch's
thread count is a setting of the calling thread). Measured on a 2-core machine
(``benchmarks/throughput.py``, results in ``benchmarks/results/throughput.md``):
a training step on a batch of 256 rows is a chain of small GEMMs (256 × 128
and smaller) that a second thread speeds up by at most ~1.1× when the second
core is idle, but slows down several-fold as soon as another process competes
for it, because the threads meet at a barrier after every operation. Batches
of thousands of rows and inference split well across threads, so they keep
torch's setting.
"""

import contextlib

import torch

# Training batches below this many rows run on one CPU thread.
MIN_ROWS_PER_THREADED_BATCH = 1024


def training_threads(batch_size, device):
    """Thread cap for training on ``device`` with ``batch_size`` rows, or ``None``."""
    if torch.device(device).type == "cpu" and batch_size < MIN_ROWS_PER_THREADED_BATCH:
        return 1
    return None


@contextlib.contextmanager
def limit_torch_threads(n_threads):
    """Run the block with at most ``n_threads`` torch threads, then restore the setting.

    ``None`` leaves torch's setting (one thread per physical core unless the
    user or the environment, e.g. ``OMP_NUM_THREADS`` in joblib's workers, set
    fewer) alone. The count is only ever lowered, never raised. With OpenMP the
    count belongs to the calling thread, so each caller saves and restores its
    own, and concurrent fits in other threads are unaffected.
    """
    previous = torch.get_num_threads()
    if n_threads is None or n_threads >= previous:
        yield
        return
    torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
