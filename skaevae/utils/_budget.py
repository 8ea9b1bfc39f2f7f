"""How long and in what batches the models train: the device, the batch size, a step budget.

One rule for each, shared by the estimators and the applications that build
them (the outlier detector, the imputer, the over-sampler).
"""

import math

import torch


def default_batch_size(n_samples, device):
    """``batch_size="auto"``: 4096 rows on a GPU, 256 elsewhere, at most ``n_samples``.

    Large batches pay on a GPU, where a step costs about the same for 256 or
    4096 rows; on a CPU, 256 trades speed for more updates.
    """
    default = 4096 if torch.device(resolve_device(device)).type == "cuda" else 256
    return min(default, n_samples)


def batch_rows(batch_size, n_samples, device):
    """The rows of a training batch for the ``batch_size`` parameter (an int or ``"auto"``)."""
    if batch_size == "auto":
        return default_batch_size(n_samples, device)
    return min(batch_size, n_samples)


def epochs_for_steps(steps, n_samples, batch_size, *, at_least=1, at_most=None):
    """Epochs holding about ``steps`` optimiser steps of ``batch_size`` rows, bounded.

    Training lengths counted in steps suit tables of any size: a small table
    gets many epochs, a large one a few.
    """
    steps_per_epoch = math.ceil(n_samples / min(batch_size, n_samples))
    epochs = max(at_least, math.ceil(steps / steps_per_epoch))
    return epochs if at_most is None else min(at_most, epochs)


def resolve_device(device):
    """Map ``"auto"`` to ``"cuda"`` when available, and check CUDA requests."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    device = str(device)
    try:
        kind = torch.device(device).type
    except RuntimeError:
        kind = None
    if kind not in ("cpu", "cuda", "mps"):
        raise ValueError(
            f"device={device!r} is not a device the models can train on; use 'auto', "
            "'cpu', 'cuda', 'cuda:N' or (on Apple silicon) 'mps'."
        )
    if kind == "mps" and not torch.backends.mps.is_available():
        raise ValueError(
            f"device={device!r} was requested but MPS is not available on this machine; "
            "use device='cpu' or device='auto'."
        )
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but CUDA is not available on this "
            "machine; use device='cpu' or device='auto'."
        )
    return device
