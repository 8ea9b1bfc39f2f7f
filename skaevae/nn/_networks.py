"""Building blocks of the torch core: activations, MLP stacks and the PCA start.

Torch only. ``make_mlp`` builds the encoders and decoders; ``embed_pca``
sets a built network to reproduce PCA exactly (``init="pca"``).
"""

import torch
from torch import nn

# Activation registry, in the spirit of sklearn.neural_network._base.ACTIVATIONS.
ACTIVATIONS = {
    "identity": nn.Identity,
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "gelu": nn.GELU,
    "logistic": nn.Sigmoid,
    "elu": nn.ELU,
    "silu": nn.SiLU,
}


def make_activation(name):
    """A new activation module for ``name``.

    ReLU runs in place: it follows a ``Linear`` layer whose output nothing else
    reads, so overwriting it saves one batch-sized allocation and one memory
    pass per layer and step.
    """
    if name == "relu":
        return nn.ReLU(inplace=True)
    return ACTIVATIONS[name]()


def make_mlp(sizes, activation, dropout=0.0, activate_last=False):
    """A stack of ``Linear`` layers with ``activation`` (and dropout) between them.

    ``sizes`` lists the widths from input to output. No activation follows
    the last layer unless ``activate_last`` (a trunk that feeds heads), in
    which case dropout follows it too. A single width gives ``nn.Identity``.
    """
    if len(sizes) < 2:
        return nn.Identity()
    layers = []
    n_layers = len(sizes) - 1
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(n_in, n_out))
        if i < n_layers - 1 or activate_last:
            layers.append(make_activation(activation))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def linear_layers(module):
    """The ``Linear`` layers of ``module``, in order."""
    return [m for m in module.modules() if isinstance(m, nn.Linear)]


@torch.no_grad()
def embed_linear_map(layers, first, last, paired):
    """Set a chain of ``Linear`` layers to compute ``last(first(x))`` exactly.

    ``first`` is an ``(m, n_in)`` weight and ``(m,)`` bias pair mapping the
    input to ``m`` channels; ``last`` an ``(n_out, m)`` weight and ``(n_out,)``
    bias pair mapping the channels to the output. Between consecutive layers
    sits the activation: with ``paired=True`` (ReLU) each channel ``c``
    travels as the pair ``relu(c), relu(-c)``, since ``relu(c) - relu(-c) =
    c``; with ``paired=False`` (identity) as itself. A hidden layer of width
    ``h`` carries the first ``h // 2`` (paired) or ``h`` channels.

    The remaining hidden units keep their (random) incoming weights, but the
    structured units read only structured units and the output reads only
    structured units, so the chain computes the map exactly while the other
    units are free to learn from the first step on.
    """
    (w_first, b_first), (w_last, b_last) = first, last
    if len(layers) == 1:
        layers[0].weight.copy_(w_last @ w_first)
        layers[0].bias.copy_(w_last @ b_first + b_last)
        return
    copies = 2 if paired else 1
    m = w_first.shape[0]
    for i, layer in enumerate(layers):
        weight, bias = layer.weight, layer.bias
        if i == len(layers) - 1:
            # The output: channel c is relu(c) - relu(-c), read through `last`.
            weight.zero_()
            weight[:, :m] = w_last[:, :m]
            if paired:
                weight[:, m : 2 * m] = -w_last[:, :m]
            bias.copy_(b_last)
            break
        m_next = min(layer.out_features // copies, m)
        weight[: copies * m_next] = 0.0
        bias[: copies * m_next] = 0.0
        if i == 0:
            weight[:m_next] = w_first[:m_next]
            bias[:m_next] = b_first[:m_next]
        else:
            index = torch.arange(m_next)
            weight[index, index] = 1.0
            if paired:
                weight[index, index + m] = -1.0
        if paired:
            weight[m_next : 2 * m_next] = -weight[:m_next]
            bias[m_next : 2 * m_next] = -bias[:m_next]
        m = m_next


def check_pca_activation(activation):
    """Raise unless ``init="pca"`` can start a network with ``activation``; True for ReLU."""
    if activation not in ("relu", "identity"):
        raise ValueError(
            f"init='pca' needs activation='relu' or 'identity', got activation={activation!r}."
        )
    return activation == "relu"


def as_tensor_like(a, like):
    """``a`` as a tensor of ``like``'s dtype and device."""
    return torch.as_tensor(a, dtype=like.dtype, device=like.device)


def embed_pca(encoder_layers, decoder_layers, mean, components, scale, paired):
    """Set the encoder to ``(x - mean) @ components.T / scale`` and the decoder back.

    The decoder maps a code ``z`` to ``mean + (z * scale) @ components``, so
    the two together reconstruct as PCA does. ``scale`` is ones for the
    autoencoder (codes are the principal scores) and the scores' standard
    deviations for the VAE (codes are whitened).
    """
    k = components.shape[0]
    identity = torch.eye(k, dtype=components.dtype, device=components.device)
    zeros = torch.zeros(k, dtype=components.dtype, device=components.device)
    whiten = components / scale[:, None]
    embed_linear_map(encoder_layers, (whiten, -whiten @ mean), (identity, zeros), paired)
    embed_linear_map(decoder_layers, (identity, zeros), (components.T * scale, mean), paired)


class ObservedEntries(nn.Module):
    """Missing entries of a row: how the encoder reads them.

    ``forward(x)`` replaces NaN in ``x`` (model space, ``n_features`` wide)
    by ``fill`` (the training means) and returns the mask of observed
    entries, one per table column: per model column for a plain matrix, per
    column of ``layout`` for a mixed table (a categorical column's one-hot
    block is missing as a whole). With ``missing``, a bias-free linear map
    of the missing indicators ``1 - mask`` to ``first_width`` units, zero at
    the start, is added to the output of the encoder's first layer
    (:meth:`first_layer_then`).
    """

    def __init__(self, n_features, layout=None, fill=None, missing=False, first_width=None):
        super().__init__()
        fill = torch.zeros(n_features) if fill is None else torch.tensor(fill).float()
        self.register_buffer("fill", fill)
        if layout is None:
            self.register_buffer("starts", None)
            n_columns = n_features
        else:
            self.register_buffer("starts", torch.tensor(layout.column_starts(), dtype=torch.long))
            n_columns = layout.n_columns
        self.missing_input = None
        if missing:
            self.missing_input = nn.Linear(n_columns, first_width, bias=False)
            nn.init.zeros_(self.missing_input.weight)

    def forward(self, x):
        observed = ~torch.isnan(x)
        x = torch.where(observed, x, self.fill.to(x.dtype))
        mask = observed if self.starts is None else observed[..., self.starts]
        return x, mask.to(x.dtype)

    def first_layer_then(self, stack, x, mask):
        """``stack(x)``, with the missing indicators read at its first layer's output."""
        if self.missing_input is None or mask is None or isinstance(stack, nn.Identity):
            return stack(x)
        h = stack[0](x) + self.missing_input(1.0 - mask)
        return stack[1:](h)


class Corruption(nn.Module):
    """Noise applied to a row before the encoder reads it, in training only.

    A denoising autoencoder (Vincent et al., 2008) learns to reconstruct the
    clean row from a corrupted one, so the corruption is applied to the
    encoder's input and the loss still compares with the clean row.

    ``kind="gaussian"`` adds ``level · ε``, ``ε ~ N(0, 1)``, to each
    numeric entry (the first ``n_numeric`` model columns of a mixed table,
    every column of a plain matrix); binary and categorical columns keep
    their values. ``kind="masking"`` hides each table column with
    probability ``level``: its entries are replaced by the fill values (the
    training means; for a categorical column, the category frequencies,
    i.e. "unknown") and its entry of the mask becomes 0, as for a missing
    value. ``column`` maps each model column to its table column (a
    categorical one-hot block is hidden as a whole).
    """

    def __init__(self, kind, level, n_numeric, column=None):
        super().__init__()
        self.kind = kind
        self.level = float(level)
        self.n_numeric = n_numeric
        self.register_buffer("column", None if column is None else torch.as_tensor(column))

    def forward(self, x, mask, fill):
        if self.level == 0.0:
            return x, mask
        if self.kind == "gaussian":
            noise = torch.randn_like(x[..., : self.n_numeric]) * self.level
            if self.n_numeric == x.shape[-1]:
                return x + noise, mask
            return torch.cat([x[..., : self.n_numeric] + noise, x[..., self.n_numeric :]], -1), mask
        n_columns = x.shape[-1] if self.column is None else int(self.column.max()) + 1
        keep = (torch.rand(*x.shape[:-1], n_columns, device=x.device) >= self.level).to(x.dtype)
        entry_keep = keep if self.column is None else keep[..., self.column]
        x = torch.where(entry_keep > 0, x, fill.to(x.dtype))
        return x, keep if mask is None else mask * keep


class ParamsSlice(nn.Module):
    """The columns ``start:stop`` of the input: one head of a user encoder's output."""

    def __init__(self, start, stop):
        super().__init__()
        self.start, self.stop = start, stop

    def forward(self, h):
        return h[..., self.start : self.stop]


def make_user_network(cls, params, n_inputs, n_outputs, role):
    """``cls(n_inputs=..., n_outputs=..., **params)``, checked to be an ``nn.Module``."""
    try:
        network = cls(n_inputs=n_inputs, n_outputs=n_outputs, **(params or {}))
    except TypeError as error:
        raise TypeError(
            f"The {role} {getattr(cls, '__name__', cls)!r} could not be built as "
            f"{role}(n_inputs={n_inputs}, n_outputs={n_outputs}, **{role}_params): {error}. "
            f"A {role} class takes the keyword arguments n_inputs and n_outputs, and "
            f"those in {role}_params."
        ) from error
    if not isinstance(network, nn.Module):
        raise TypeError(
            f"The {role} must build a torch.nn.Module; {getattr(cls, '__name__', cls)!r} "
            f"returned {type(network).__name__}."
        )
    # One forward pass of two zero rows, in evaluation mode (no dropout draw),
    # checks the output's shape before training can fail inside torch.
    training = network.training
    network.eval()
    try:
        with torch.no_grad():
            out = network(torch.zeros(2, n_inputs))
    except Exception as error:
        raise ValueError(
            f"The {role} {getattr(cls, '__name__', cls)!r} failed on rows of shape "
            f"(n, {n_inputs}): {error}"
        ) from error
    finally:
        network.train(training)
    if not torch.is_tensor(out) or tuple(out.shape) != (2, n_outputs):
        shape = tuple(out.shape) if torch.is_tensor(out) else type(out).__name__
        raise ValueError(
            f"The {role} must map rows of shape (n, {n_inputs}) to (n, {n_outputs}); "
            f"{getattr(cls, '__name__', cls)!r} returned {shape} for 2 rows."
        )
    return network
