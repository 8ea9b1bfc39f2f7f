"""CPU inference with each ``Linear`` run as oneDNN's linear.

oneDNN's linear kernel adds the bias as each output tile leaves the matmul;
eager ``nn.Linear`` first copies the bias into the output, then accumulates
the matmul onto it: two more passes over every layer's output. The op is
private to torch, so it is used only where it exists. Activations are not
fused into it: oneDNN's ReLU maps NaN to 0, which would hide a non-finite
row from the output checks.

The kernel is swapped in by a :class:`~torch.overrides.TorchFunctionMode`,
which sees every ``torch.nn.functional.linear`` call made on the current
thread while it is active, so any module (a subclass, a user's network) runs
its own ``forward`` and only the matmuls change. A linear is row by row, so
flattening leading axes and padding a lone row cannot mix rows.
"""

import torch
from torch.nn import functional as F
from torch.overrides import TorchFunctionMode

from ._gates import cpu_float32, eager_context

_linear_pointwise = None
if torch.backends.mkldnn.is_available():
    try:
        _linear_pointwise = torch.ops.mkldnn._linear_pointwise
    except (AttributeError, RuntimeError):  # pragma: no cover - torch built without it
        pass


def available():
    """Whether this torch build has oneDNN's linear, and it is switched on."""
    return _linear_pointwise is not None and torch.backends.mkldnn.enabled


def _plain_cpu_float32(tensor):
    # Plain tensors and parameters only: a tensor subclass has its own kernels.
    return type(tensor) in (torch.Tensor, torch.nn.Parameter) and cpu_float32(tensor)


def onednn_linear(input, weight, bias=None):
    """``F.linear(input, weight, bias)`` on oneDNN's kernel, or None where it does not apply.

    It applies outside autograd (and autocast, tracing and compiling), to
    float32 CPU tensors, a 2-D weight and a bias of one value per output.
    A row's result does not depend on the rows that come with it, but for a
    lone row, which oneDNN computes with another kernel: it is computed as
    one of two rows, so it gets what any batch gives it. It agrees with
    ``F.linear`` to float32 rounding (bit for bit on some CPUs).
    """
    x = input
    if (
        torch.is_grad_enabled()
        or bias is None
        or not (_plain_cpu_float32(x) and _plain_cpu_float32(weight) and _plain_cpu_float32(bias))
        or weight.dim() != 2
        or bias.shape != (weight.shape[0],)
        or x.dim() == 0
        or x.shape[-1] != weight.shape[1]
        or x.numel() == 0
        or not eager_context()
    ):
        return None
    shape = x.shape
    h = x.reshape(-1, shape[-1]).contiguous()
    n_rows = h.shape[0]
    if n_rows == 1:
        h = h.expand(2, -1).contiguous()
    out = _linear_pointwise(h, weight, bias, "none", [], "")
    return out[:n_rows].reshape(*shape[:-1], out.shape[-1])


class OneDNNLinear(TorchFunctionMode):
    """Within the block, ``F.linear`` calls run :func:`onednn_linear` where it applies."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is F.linear:
            out = onednn_linear(*args, **kwargs)
            if out is not None:
                return out
        return func(*args, **kwargs)
