"""The benchmark's network: its widths, its FLOP counts and a plain torch version of it."""

from torch import nn

N_FEATURES = 64
WIDTHS = [64, 128, 64, 8, 64, 128, 64]
LAYER_FLOPS = sum(2 * a * b for a, b in zip(WIDTHS[:-1], WIDTHS[1:], strict=True))
TRAIN_FLOPS_PER_ROW = 3 * LAYER_FLOPS  # forward, backward dX, backward dW
# The GEMMs a step runs: all but the first layer's input gradient.
STEP_GEMM_FLOPS_PER_ROW = TRAIN_FLOPS_PER_ROW - 2 * WIDTHS[0] * WIDTHS[1]
ENCODE_BATCH = 8192
MiB = 2**20
# A reference roofline of one core: ~100 GFLOP/s over the training FLOPs of a row.
REFERENCE_ROOFLINE = 100e9 / TRAIN_FLOPS_PER_ROW


def make_mlp():
    layers = []
    for i, (n_in, n_out) in enumerate(zip(WIDTHS[:-1], WIDTHS[1:], strict=True)):
        layers.append(nn.Linear(n_in, n_out))
        if i not in (2, len(WIDTHS) - 2):  # linear code and output
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)
