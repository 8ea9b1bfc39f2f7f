"""The fits and encodes compared: ours, a plain torch loop, skorch and PyOD.

Each fit function takes ``(X, batch_size, epochs)`` and returns the fitted
object; each encode maps a float32 array to its codes. Only skaevae's public
API is used.
"""

import numpy as np
import sklearn
import torch
from torch import nn

from skaevae import AutoencoderTransformer

from .network import ENCODE_BATCH, WIDTHS, make_mlp


def fit_raw(X, batch_size, epochs, fused, select=False):
    torch.manual_seed(0)
    net = make_mlp()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3, fused=fused)
    x = torch.from_numpy(X)
    n = len(x)
    for _ in range(epochs):
        order = torch.randperm(n)
        for start in range(0, n, batch_size):
            index = order[start : start + batch_size]
            batch = x.index_select(0, index) if select else x[index]
            optimizer.zero_grad(set_to_none=True)
            loss = (net(batch) - batch).square().mean()
            loss.backward()
            optimizer.step()
    return net


def make_ours(batch_size, epochs):
    return AutoencoderTransformer(
        n_components=8,
        hidden_layer_sizes=(128, 64),
        max_iter=epochs,
        batch_size=batch_size,
        device="cpu",
        random_state=0,
    )


def fit_ours(X, batch_size, epochs):
    return make_ours(batch_size, epochs).fit(X)


def fit_skorch_default(X, batch_size, epochs):
    from skorch import NeuralNet

    torch.manual_seed(0)
    net = NeuralNet(
        make_mlp,
        criterion=nn.MSELoss,
        optimizer=torch.optim.Adam,
        lr=1e-3,
        max_epochs=epochs,
        batch_size=batch_size,
        verbose=0,
    )
    return net.fit(X, X)


def fit_pyod_default(X, batch_size, epochs):
    from pyod.models.auto_encoder import AutoEncoder

    return AutoEncoder(
        epoch_num=epochs, batch_size=batch_size, device="cpu", verbose=0, random_state=0
    ).fit(X)


def have_pyod():
    try:
        import pyod  # noqa: F401
    except ImportError:
        return False
    return True


FIT_METHODS = {
    "raw": lambda X, bs, ep: fit_raw(X, bs, ep, fused=None),
    "raw_fused": lambda X, bs, ep: fit_raw(X, bs, ep, fused=True),
    "raw_select": lambda X, bs, ep: fit_raw(X, bs, ep, fused=None, select=True),
    "ours": fit_ours,
    "skorch_default": fit_skorch_default,
    "pyod_default": fit_pyod_default,
}


def encode_raw(encoder, X):
    """Plain no-grad encode of ``X`` in ``ENCODE_BATCH``-row slices into one array.

    ``encoder`` is the network, or any function of a batch (``onednn_forward``).
    """
    out = np.empty((len(X), WIDTHS[3]), dtype=np.float32)
    x = torch.from_numpy(X)
    with torch.no_grad():
        for start in range(0, len(x), ENCODE_BATCH):
            out[start : start + ENCODE_BATCH] = encoder(x[start : start + ENCODE_BATCH]).numpy()
    return out


def onednn_forward(encoder, h):
    """``encoder(h)`` with each ``Linear`` as oneDNN's linear (bias inside the matmul).

    The kernel ``transform`` runs on a CPU, written out here independently of
    skaevae: the ratio of ours to the encode on it is the cost of everything
    but the kernel.
    """
    for layer in encoder:
        if isinstance(layer, nn.Linear):
            h = torch.ops.mkldnn._linear_pointwise(h, layer.weight, layer.bias, "none", [], "")
        else:
            h = layer(h)
    return h


def transform_assume_finite(est):
    """``est.transform`` under scikit-learn's ``assume_finite=True`` (no NaN/inf pass)."""

    def call(X):
        with sklearn.config_context(assume_finite=True):
            return est.transform(X)

    return call
