"""The autoencoder's reconstruction loss as one autograd node (CPU training).

For the plain :class:`~skaevae.nn._modules.AutoencoderModule` with ReLU (or no)
activations, the mean squared error between its output and its input is
computed by :class:`_ReLUStackMSE`: the kernels that the eager layers,
``mse_loss`` and autograd run, in the same order, so the loss and the
gradients are theirs bit for bit, with autograd's bookkeeping for about three
nodes per layer, and the memory they allocate, saved.
"""

import torch
from torch import nn

from ...nn._modules import AutoencoderModule
from ._gates import cpu_float32, eager_context


def _has_hooks(module):
    return bool(module._forward_hooks or module._forward_pre_hooks)


def _has_global_hooks():
    module = nn.modules.module
    return bool(module._global_forward_hooks or module._global_forward_pre_hooks)


def _has_any_hooks(module):
    return _has_hooks(module) or bool(module._backward_hooks or module._backward_pre_hooks)


def _has_any_global_hooks():
    module = nn.modules.module
    return _has_global_hooks() or bool(
        module._global_backward_hooks or module._global_backward_pre_hooks
    )


def _functorch_active():
    active = getattr(torch._C, "_are_functorch_transforms_active", None)
    return active is not None and active()


# Training batches of fewer rows go through autograd layer by layer, where
# the Python backward of _ReLUStackMSE would cost more than it saves.
MIN_FUSED_TRAINING_ROWS = 1024


def _relu_stack(stacks, x):
    """``(relu_after, params)`` of ``stacks`` run in sequence, if :class:`_ReLUStackMSE` applies.

    That is: every stack a ``Sequential`` of ``Linear`` layers (float32 CPU
    weights, with bias), each followed by at most one ``ReLU`` (not the last,
    whose output the loss compares with ``x``), and no hooks; ``x`` a 2-D
    float32 CPU batch of data (no gradient) with at least
    ``MIN_FUSED_TRAINING_ROWS`` rows; autograd on, and no autocast, anomaly
    detection (which should name the layer that made a NaN), tracing,
    compiling or torch.func transform. Otherwise None.
    """
    if (
        not torch.is_grad_enabled()
        or not cpu_float32(x)
        or x.dim() != 2
        or x.shape[0] < MIN_FUSED_TRAINING_ROWS
        or x.requires_grad
        or not eager_context()
        or torch.is_anomaly_enabled()
        or _functorch_active()
        or _has_any_global_hooks()
    ):
        return None
    relu_after, params = [], []
    for stack in stacks:
        if type(stack) is not nn.Sequential or _has_any_hooks(stack):
            return None
        for layer in stack:
            if _has_any_hooks(layer):
                return None
            if type(layer) is nn.Linear:
                if layer.bias is None or not cpu_float32(layer.weight):
                    return None
                relu_after.append(False)
                params += [layer.weight, layer.bias]
            elif type(layer) is nn.ReLU and relu_after and not relu_after[-1]:
                relu_after[-1] = True
            else:
                return None
    if not relu_after or relu_after[-1]:
        return None
    return tuple(relu_after), params


class _ReLUStackMSE(torch.autograd.Function):
    """Mean squared error between a ReLU MLP's output and its input, as one autograd node.

    ``forward(x, relu_after, weight_0, bias_0, ...)`` runs ``Linear`` layers,
    with ReLU after those flagged in ``relu_after`` (never the last), and
    returns ``mean((mlp(x) - x)²)``. Forward and backward run the kernels
    that the eager layers, ``mse_loss`` and autograd run, in the same order,
    so the loss and the gradients are theirs bit for bit
    (``tests/test_fast.py``). What it saves is autograd's
    bookkeeping for about three nodes per layer and the memory they
    allocate: ReLU's backward overwrites the gradient that the layer above
    has just made instead of allocating another. Saved tensors are left as
    they are, so a graph kept with ``retain_graph`` can be run again. Once
    differentiable: a second derivative raises.
    """

    @staticmethod
    def forward(ctx, x, relu_after, *params):
        weights, biases = params[0::2], params[1::2]
        inputs = []
        h = x
        for weight, bias, relu in zip(weights, biases, relu_after, strict=True):
            inputs.append(h)
            h = torch.addmm(bias, h, weight.t())
            if relu:
                h.relu_()
        diff = h.sub_(x)  # the output itself is not needed again
        loss = diff.square().mean()
        ctx.relu_after = relu_after
        ctx.save_for_backward(*inputs, diff, *weights)
        return loss

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_loss):
        relu_after = ctx.relu_after
        n = len(relu_after)
        saved = ctx.saved_tensors
        inputs, diff, weights = saved[:n], saved[n], saved[n + 1 :]
        needs = ctx.needs_input_grad  # (x, relu_after, weight_0, bias_0, ...)
        # mse_loss's backward, 2 (output - x) / size * grad, in that order.
        grad = torch.mul(diff, 2.0 / diff.numel()).mul_(grad_loss)
        grads = [None] * (2 * n)
        for i in reversed(range(n)):
            if relu_after[i]:  # the layer's output is its ReLU's mask
                torch.ops.aten.threshold_backward.grad_input(
                    grad, inputs[i + 1], 0, grad_input=grad
                )
            if needs[2 + 2 * i]:
                grads[2 * i] = grad.t().mm(inputs[i])
            if needs[3 + 2 * i]:
                grads[2 * i + 1] = grad.sum(0)
            if not any(needs[2 : 2 + 2 * i]):  # no layer below needs a gradient
                break
            grad = grad.mm(weights[i])
        return (None, None, *grads)


def fused_reconstruction_loss(module, x):
    """``mse_loss(module.decode(module.encode(x)), x)`` as one autograd node, or None.

    It applies to :class:`~skaevae.nn._modules.AutoencoderModule` itself (not a
    subclass, whose own ``forward``, ``encode`` or ``decode`` it would skip)
    with ReLU or no activation, no dropout and no hooks, in CPU float32
    training on batches of ``MIN_FUSED_TRAINING_ROWS`` rows or more
    (:func:`_relu_stack` lists the conditions). None where it does not
    apply: the caller then runs the layers one by one.
    """
    if type(module) is not AutoencoderModule or _has_any_hooks(module):
        return None
    plan = _relu_stack((module.encoder, module.decoder), x)
    if plan is None:
        return None
    relu_after, params = plan
    return _ReLUStackMSE.apply(x, relu_after, *params)
