"""Subnormal floats flushed to zero on a CPU, for the duration of one call."""

import contextlib

import torch


def _flushing_denormals():
    # torch has no getter for the mode: a subnormal float32 times 1 is 0 when
    # denormals are flushed (DAZ/FTZ) and itself otherwise.
    return (torch.tensor([1e-39]) * 1.0).item() == 0.0


@contextlib.contextmanager
def flush_denormals(device):
    """On a CPU, treat subnormal floats as zero for the block, then restore the mode.

    With weight decay, the weights and Adam moments of dead ReLU units shrink
    into the subnormal range (below 1.2e-38) after a few thousand steps, and
    every matmul touching them then takes a slow microcode path. Values that
    small do not matter to training. The mode is per thread; it is set on
    the calling thread, which runs the whole step when training on one thread.
    """
    if torch.device(device).type != "cpu" or _flushing_denormals():
        yield
        return
    if not torch.set_flush_denormal(True):  # not supported on this CPU
        yield
        return
    try:
        yield
    finally:
        torch.set_flush_denormal(False)
