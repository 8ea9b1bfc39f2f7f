"""Torch's intra-op thread count, lowered for the duration of one call.

A step on a few hundred rows is a chain of small matmuls that a second
thread barely speeds up when its core is idle, and slows down several-fold
when another process competes for it, because the threads meet at a barrier
after every operation. Work on thousands of rows splits well across threads,
so it keeps torch's setting.
"""

import contextlib

import torch

# Torch work on fewer rows than this at a time runs on one CPU thread.
MIN_ROWS_PER_THREAD_SPLIT = 1024


def threads_for(n_rows, device):
    """Thread cap for CPU work on ``n_rows`` rows at a time, or ``None``."""
    if torch.device(device).type == "cpu" and n_rows < MIN_ROWS_PER_THREAD_SPLIT:
        return 1
    return None


@contextlib.contextmanager
def limit_torch_threads(n_threads):
    """Run the block with at most ``n_threads`` torch threads, then restore the setting.

    ``None`` leaves torch's setting (one thread per physical core unless the
    user or the environment, e.g. ``OMP_NUM_THREADS`` in joblib's workers, set
    fewer) alone. The count is only ever lowered, never raised. With OpenMP,
    a thread that already ran torch work keeps its own count, so each caller
    saves and restores its own and fits already running in other threads are
    unaffected. But ``torch.set_num_threads`` also sets the count that a
    thread takes when it first runs torch work, process-wide: a thread whose
    first torch call comes during the block starts with ``n_threads`` and
    keeps it (until it calls ``torch.set_num_threads`` itself). The restore
    at the end sets that process-wide count back as well.
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
