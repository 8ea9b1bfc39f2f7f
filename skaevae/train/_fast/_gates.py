"""Conditions the fast paths share before they take over from torch's own code."""

import torch


def cpu_float32(tensor):
    """Whether ``tensor`` is a float32 tensor on the CPU."""
    return tensor.device.type == "cpu" and tensor.dtype == torch.float32


def eager_context():
    """Neither autocast (which changes the kernels' dtype) nor tracing or compiling.

    Tracing or compiling would record the fast paths' calls instead of the
    layers they replace.
    """
    return not (
        torch.is_autocast_enabled("cpu") or torch.jit.is_tracing() or torch.compiler.is_compiling()
    )
