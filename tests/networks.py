"""Small user networks for the tests (importable, so estimators using them pickle)."""

import torch
from torch import nn


class TinyEncoder(nn.Module):
    """A user encoder: one hidden layer with a LayerNorm, ``n_inputs`` to ``n_outputs``."""

    def __init__(self, n_inputs, n_outputs, width=8):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_inputs, width), nn.LayerNorm(width), nn.Tanh(), nn.Linear(width, n_outputs)
        )

    def forward(self, x):
        return self.net(x)


class TinyDecoder(nn.Module):
    """A user decoder: a residual map of the code, ``n_inputs`` to ``n_outputs``."""

    def __init__(self, n_inputs, n_outputs, width=8):
        super().__init__()
        self.hidden = nn.Linear(n_inputs, width)
        self.out = nn.Linear(width, n_outputs)

    def forward(self, z):
        return self.out(torch.tanh(self.hidden(z)))


class ConvEncoder(nn.Module):
    """A convolutional encoder of 8x8 images given as rows of 64 pixels."""

    def __init__(self, n_inputs, n_outputs, channels=4):
        super().__init__()
        if n_inputs != 64:
            raise ValueError(f"ConvEncoder reads 8x8 images (64 inputs), got {n_inputs}.")
        self.conv = nn.Sequential(
            nn.Conv2d(1, channels, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten()
        )
        self.head = nn.Linear(channels * 16, n_outputs)

    def forward(self, x):
        return self.head(self.conv(x.reshape(-1, 1, 8, 8)))
