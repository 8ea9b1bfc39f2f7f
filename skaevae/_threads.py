"""Torch's intra-op thread count, lowered for the duration of one call.

``torch.set_num_threads`` is process-wide, so every change here is undone when
the call returns. Measured on a 2-core machine (``benchmarks/throughput.py``,
results in ``benchmarks/results/throughput.md``): a training step on a batch
of 256 rows is a chain of small GEMMs (256 × 128 and smaller) that a second
thread speeds up by at most ~1.1× when the second core is idle, but slows down
several-fold as soon as another process competes for it, because the threads
meet at a barrier after every operation. Batches of thousands of rows and
inference split well across threads, so they keep torch's setting.
"""

import contextlib
import threading

import torch

# Training batches below this many rows run on one CPU thread.
MIN_ROWS_PER_THREADED_BATCH = 1024


def training_threads(batch_size, device):
    """Thread cap for training on ``device`` with ``batch_size`` rows, or ``None``."""
    if torch.device(device).type == "cpu" and batch_size < MIN_ROWS_PER_THREADED_BATCH:
        return 1
    return None


# Fits may run concurrently in one process (joblib's threading backend): the
# first caller to lower the setting saves it and the last one out restores it.
_lock = threading.Lock()
_holders = 0
_restore_to = None


@contextlib.contextmanager
def limit_torch_threads(n_threads):
    """Run the block with at most ``n_threads`` torch threads, then restore the setting.

    ``None`` leaves torch's setting (one thread per physical core unless the
    user or the environment, e.g. ``OMP_NUM_THREADS`` in joblib's workers, set
    fewer) alone. The count is only ever lowered, never raised, and is
    restored when the last of any concurrent callers leaves.
    """
    global _holders, _restore_to
    holding = False
    if n_threads is not None:
        with _lock:
            current = torch.get_num_threads()
            if _holders > 0 or n_threads < current:
                if _holders == 0:
                    _restore_to = current
                if n_threads < current:
                    torch.set_num_threads(n_threads)
                _holders += 1
                holding = True
    try:
        yield
    finally:
        if holding:
            with _lock:
                _holders -= 1
                if _holders == 0:
                    torch.set_num_threads(_restore_to)
