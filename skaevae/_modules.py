"""Torch core: the encoder/decoder networks of the autoencoder and the VAE.

These modules know nothing of scikit-learn or skorch. Shapes: ``x`` is
``(n, n_features)``, ``z`` is ``(n, n_components)``.
"""

import math

import torch
from torch import nn

from ._losses import (
    gaussian_log_prob,
    kl_to_standard_normal,
    standard_normal_log_prob,
)

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

# Floor of the decoder's output scale. Without it, the likelihood of a feature
# that is constant in the training data grows without bound as its scale
# shrinks; 1e-3 is small next to the unit scale of standardised features.
MIN_LOG_SCALE = math.log(1e-3)


def make_activation(name):
    """A new activation module for ``name``.

    ReLU runs in place: it follows a ``Linear`` layer whose output nothing else
    reads, so overwriting it saves one batch-sized allocation and one memory
    pass per layer and step (about 5% of a CPU training step at batch 4096,
    ``benchmarks/throughput.py``).
    """
    if name == "relu":
        return nn.ReLU(inplace=True)
    return ACTIVATIONS[name]()


def make_mlp(sizes, activation, dropout=0.0):
    """A stack of ``Linear`` layers with ``activation`` (and dropout) between them.

    ``sizes`` lists the widths from input to output; no activation follows
    the last layer.
    """
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(make_activation(activation))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


# oneDNN's linear kernel adds the bias as each output tile leaves the matmul;
# eager ``nn.Linear`` first copies the bias into the output, then accumulates
# the matmul onto it: two more passes over every layer's output. The op is
# private to torch, so it is used only where it exists. Activations are not
# fused into it: oneDNN's ReLU maps NaN to 0, which would hide a non-finite
# row from the output checks.
_fused_linear = None
if torch.backends.mkldnn.is_available():
    try:
        _fused_linear = torch.ops.mkldnn._linear_pointwise
    except (AttributeError, RuntimeError):  # pragma: no cover - torch built without it
        pass

# The layers make_mlp builds. Anything else (a user's own layer may mix rows,
# and this path flattens leading axes and pads a lone row) runs eagerly.
_RUN_MLP_LAYERS = (nn.Linear, nn.Dropout, *ACTIVATIONS.values())


def _has_hooks(module):
    return bool(module._forward_hooks or module._forward_pre_hooks)


def _has_global_hooks():
    module = nn.modules.module
    return bool(module._global_forward_hooks or module._global_forward_pre_hooks)


def _cpu_float32(tensor):
    return tensor.device.type == "cpu" and tensor.dtype == torch.float32


def _eager_context():
    # Neither autocast (which changes the kernels' dtype) nor tracing or
    # compiling (which would record these private calls instead of the layers).
    return not (
        torch.is_autocast_enabled("cpu") or torch.jit.is_tracing() or torch.compiler.is_compiling()
    )


def _fusable(mlp, x):
    # Autograd first: training, the hot path, leaves after one test.
    return (
        not torch.is_grad_enabled()
        and _fused_linear is not None
        and type(mlp) in (nn.Sequential, nn.Linear)
        and not _has_hooks(mlp)
        and torch.backends.mkldnn.enabled
        and _cpu_float32(x)
        and x.numel() > 0
        and _eager_context()
        and not _has_global_hooks()
    )


def _runs_fused(layer):
    # In evaluation mode (dropout is then the identity), with no hooks, and
    # a Linear with float32 CPU weights.
    if type(layer) not in _RUN_MLP_LAYERS or layer.training or _has_hooks(layer):
        return False
    if type(layer) is nn.Linear:
        return _cpu_float32(layer.weight)
    return True


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
        or not _cpu_float32(x)
        or x.dim() != 2
        or x.shape[0] < MIN_FUSED_TRAINING_ROWS
        or x.requires_grad
        or not _eager_context()
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
                if layer.bias is None or not _cpu_float32(layer.weight):
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
    (``tests/test_performance_paths.py``). What it saves is autograd's
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


@torch.jit.ignore
def run_mlp(mlp, x):
    """``mlp(x)`` for a :func:`make_mlp` stack or a ``Linear``, faster in CPU float32 inference.

    Outside autograd (and tracing or compiling), on a CPU, in float32 and in
    evaluation mode, each ``Linear`` runs as oneDNN's linear with the bias
    added inside the matmul (1.2x a whole 64-128-64-8 encode in eager mode
    on this project's benchmark machine); activations run as they are.
    Measured on that machine (an x86 CPU with AVX-512), the result is that
    of ``mlp(x)`` bit for bit with ReLU and to a few ulps with activations
    whose own kernels round a batch's tail differently, and with ReLU a row's
    result does not depend on the rows that come with it. Any layer outside
    those :func:`make_mlp` builds, a layer in training mode or a forward hook
    sends the call to ``mlp(x)`` itself.
    """
    if not _fusable(mlp, x):
        return mlp(x)
    layers = [mlp] if type(mlp) is nn.Linear else list(mlp)
    if not all(_runs_fused(layer) for layer in layers):
        return mlp(x)
    shape = x.shape
    h = x.reshape(-1, shape[-1]).contiguous()
    n_rows = h.shape[0]
    if n_rows == 1:
        # oneDNN computes a lone row with another kernel, which rounds
        # differently; as one of two rows, it gets what any batch gives it.
        h = h.expand(2, -1).contiguous()
    for layer in layers:
        if type(layer) is nn.Linear:
            h = _fused_linear(h, layer.weight, layer.bias, "none", [], "")
        elif type(layer) is not nn.Dropout:  # Dropout is the identity in evaluation.
            h = layer(h)
    return h[:n_rows].reshape(*shape[:-1], h.shape[-1])


def _linear_layers(module):
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


def _as_tensor(a, like):
    return torch.as_tensor(a, dtype=like.dtype, device=like.device)


def _embed_pca(encoder_layers, decoder_layers, mean, components, scale, paired):
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


class AutoencoderModule(nn.Module):
    """Deterministic autoencoder: ``x → z = f(x) → x̂ = g(z)``.

    The decoder mirrors the encoder's hidden widths. With no hidden layers the
    encoder and decoder are single affine maps, the linear autoencoder whose
    optimum spans the principal subspace.
    """

    def __init__(
        self, n_features, n_components, hidden_layer_sizes=(), activation="relu", dropout=0.0
    ):
        super().__init__()
        widths = [n_features, *hidden_layer_sizes, n_components]
        self.encoder = make_mlp(widths, activation, dropout)
        self.decoder = make_mlp(widths[::-1], activation, dropout)

    def init_pca(self, mean, components, variances, noise_variance, activation):
        """Start from PCA: the network's reconstruction is PCA's, exactly.

        ``components`` (``(n_components, n_features)``, rows orthonormal) and
        ``mean`` come from the training data; the code is the principal
        scores ``(x - mean) @ components.T``. Hidden units beyond those that
        carry the scores keep their random weights, with no effect on the
        output until training gives them one. ``variances`` and
        ``noise_variance`` are unused here (see :meth:`VAEModule.init_pca`).
        """
        paired = check_pca_activation(activation)
        ref = self.encoder[0].weight
        mean, components = _as_tensor(mean, ref), _as_tensor(components, ref)
        unit = torch.ones(components.shape[0], dtype=ref.dtype, device=ref.device)
        _embed_pca(
            _linear_layers(self.encoder),
            _linear_layers(self.decoder),
            mean,
            components,
            unit,
            paired,
        )

    def encode(self, x):
        """The code of each row, ``(n, n_components)``."""
        return run_mlp(self.encoder, x)

    def decode(self, z):
        """The reconstruction of each code, ``(n, n_features)``."""
        return run_mlp(self.decoder, z)

    def forward(self, x):
        z = self.encode(x)
        return {"z": z, "x_loc": self.decode(z)}

    def fused_reconstruction_loss(self, x):
        """``mse_loss(self(x)["x_loc"], x)`` as one autograd node, or None.

        It applies in CPU float32 training on batches of
        ``MIN_FUSED_TRAINING_ROWS`` rows or more, to this class itself (not a
        subclass, whose own ``forward``, ``encode`` or ``decode`` it would
        skip) with ReLU or no activation, no dropout and no hooks
        (:func:`_relu_stack` lists the conditions), and gives the loss and
        gradients of the layer-by-layer graph bit for bit. Measured at batch
        4096 on the 64-128-64-8 autoencoder, whole fits ran 1.04-1.10x as
        fast as with that graph on one thread and 1.01-1.15x on two; at batch
        1024, 1.01x and 1.04x (``benchmarks/results/throughput_notes.md``).
        None where it does not apply: the caller then runs the layers one by
        one.
        """
        if type(self) is not AutoencoderModule or _has_any_hooks(self):
            return None
        plan = _relu_stack((self.encoder, self.decoder), x)
        if plan is None:
            return None
        relu_after, params = plan
        return _ReLUStackMSE.apply(x, relu_after, *params)


class VAEModule(nn.Module):
    """Variational autoencoder with a diagonal Gaussian encoder and decoder.

    Encoder: ``q(z | x) = N(z_loc(x), diag(z_scale(x)²))``, one trunk and two
    linear heads. Prior: ``p(z) = N(0, I)``. Decoder:
    ``p(x | z) = N(x_loc(z), diag(x_scale²))`` with one learned output scale
    per feature (homoscedastic noise, as in probabilistic PCA, but per feature).
    """

    def __init__(
        self, n_features, n_components, hidden_layer_sizes=(), activation="relu", dropout=0.0
    ):
        super().__init__()
        hidden = list(hidden_layer_sizes)
        if hidden:
            self.trunk = make_mlp([n_features, *hidden], activation, dropout)
            # make_mlp leaves the last layer linear; the heads need it activated.
            self.trunk.append(make_activation(activation))
            if dropout > 0:
                self.trunk.append(nn.Dropout(dropout))
            width = hidden[-1]
        else:
            self.trunk = nn.Identity()
            width = n_features
        self.z_loc = nn.Linear(width, n_components)
        self.z_log_scale = nn.Linear(width, n_components)
        self.decoder = make_mlp([n_components, *hidden[::-1], n_features], activation, dropout)
        self.x_log_scale = nn.Parameter(torch.zeros(n_features))

    def encode(self, x):
        """Posterior parameters ``(z_loc, z_log_scale)``, each ``(n, n_components)``."""
        h = run_mlp(self.trunk, x)
        # Bounding log σ keeps exp() finite on inputs far from the training data.
        return run_mlp(self.z_loc, h), run_mlp(self.z_log_scale, h).clamp(-10.0, 5.0)

    def init_pca(self, mean, components, variances, noise_variance, activation):
        """Start close to probabilistic PCA (Tipping & Bishop, 1999).

        The posterior mean is the whitened principal scores
        ``(x - mean) @ components.T / sqrt(variances)``, so the codes of the
        training data start with unit variance, as the prior N(0, I) asks; the
        posterior scale of component ``i`` is ``sqrt(mean(noise_variance) /
        variances[i])``, PPCA's form; the decoder maps a code back through
        ``components.T * sqrt(variances)``; and the output scale of each
        feature is the square root of its residual variance,
        ``noise_variance`` (a ``(n_features,)`` array). It differs from the
        PPCA solution in two details: PPCA's noise is one variance (the
        discarded variance over ``n_features - n_components``, not a mean
        over all features), and its decoder uses ``sqrt(variances - noise)``,
        so that the decoder mean reconstructs exactly as PCA does here.
        """
        paired = check_pca_activation(activation)
        ref = self.decoder[0].weight
        mean, components = _as_tensor(mean, ref), _as_tensor(components, ref)
        scale = torch.sqrt(_as_tensor(variances, ref))
        noise = _as_tensor(noise_variance, ref)
        _embed_pca(
            [*_linear_layers(self.trunk), self.z_loc],
            _linear_layers(self.decoder),
            mean,
            components,
            scale,
            paired,
        )
        with torch.no_grad():
            self.z_log_scale.weight.zero_()
            self.z_log_scale.bias.copy_(0.5 * torch.log(noise.mean() / scale.square()))
            self.x_log_scale.copy_(0.5 * torch.log(noise).clamp(min=MIN_LOG_SCALE))

    def output_log_scale(self):
        """The decoder's per-feature log output scale, ``(n_features,)``."""
        return self.x_log_scale.clamp(min=MIN_LOG_SCALE)

    def decode(self, z):
        """The decoder's mean ``x_loc``, ``(n, n_features)``."""
        return run_mlp(self.decoder, z)

    def forward(self, x):
        z_loc, z_log_scale = self.encode(x)
        if self.training:
            # Reparameterisation trick: z = μ + σ·ε, ε ~ N(0, I), so the draw is
            # differentiable in μ and σ.
            z = z_loc + torch.exp(z_log_scale) * torch.randn_like(z_loc)
        else:
            z = z_loc
        return {
            "z": z,
            "z_loc": z_loc,
            "z_log_scale": z_log_scale,
            "x_loc": self.decode(z),
            "x_log_scale": self.output_log_scale(),
        }

    def importance_log_likelihood(self, x, eps):
        """Importance-weighted estimate of ``log p(x)`` for each row, in nats.

        With ``K`` fixed standard-normal draws ``eps`` of shape
        ``(K, n_components)``, ``z_k = μ(x) + σ(x)·ε_k`` and

            log p(x) ≈ logsumexp_k [log p(x | z_k) + log p(z_k) - log q(z_k | x)] - log K,

        the IWAE bound (Burda et al., 2016), which tightens the ELBO as ``K``
        grows. Fixed ``eps`` make the estimate a deterministic function of the
        row. Returns ``(n,)``.
        """
        z_loc, z_log_scale = self.encode(x)
        n_draws = eps.shape[0]
        # z: (K, n, n_components)
        z = z_loc + torch.exp(z_log_scale) * eps[:, None, :]
        log_px_z = gaussian_log_prob(x, self.decode(z), self.output_log_scale())
        log_pz = standard_normal_log_prob(z)
        log_qz_x = gaussian_log_prob(z, z_loc, z_log_scale)
        log_w = log_px_z + log_pz - log_qz_x  # (K, n)
        return torch.logsumexp(log_w, dim=0) - math.log(n_draws)

    def kl(self, x):
        """KL(q(z | x) || p(z)) of each row, ``(n,)``."""
        return kl_to_standard_normal(*self.encode(x))
