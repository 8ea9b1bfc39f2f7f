"""The estimators' hyperparameters, declared once: constraint and documentation.

Each estimator writes out its full signature (scikit-learn style) and takes
its ``_parameter_constraints`` from :func:`constraints`; its docstring names a
shared parameter on a line of its own as ``[[name]]``, which
:func:`fill_parameter_docs` replaces with the entry below, so the two
estimators cannot drift apart. Parameters documented differently by each
estimator (``init``, ``alpha``, ``tol`` ...) keep their entry in its
docstring and their constraint here.
"""

import re
from numbers import Integral, Real
from textwrap import dedent, indent
from typing import NamedTuple

import torch
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions

from ..nn._networks import ACTIVATIONS
from ..train._net import PRECISIONS


class Count(Interval):
    """An integer ``Interval`` that refuses booleans: ``True`` is not a count.

    scikit-learn's ``Interval(Integral, ...)`` accepts ``True`` and ``False``,
    since ``bool`` subclasses ``int``.
    """

    def __init__(self, left, right=None, *, closed="left"):
        super().__init__(Integral, left, right, closed=closed)

    def is_satisfied_by(self, val):
        return not isinstance(val, bool) and super().is_satisfied_by(val)


class Param(NamedTuple):
    constraint: list
    doc: str | None = None


PARAMS = {
    "n_components": Param(
        [Count(1)],
        """
        n_components : int, default=2
            Width of the latent code; at most ``n_features``.
        """,
    ),
    "hidden_layer_sizes": Param(
        ["array-like", Count(1)],
        """
        hidden_layer_sizes : int or array-like of shape (n_layers,), default=(128, 64)
            Widths of the encoder's hidden layers (an int means one layer); the
            decoder uses them in reverse. ``()`` gives affine encoder and decoder
            maps.
        """,
    ),
    "activation": Param(
        [StrOptions(set(ACTIVATIONS))],
        """
        activation : {"relu", "tanh", "gelu", "identity", "logistic", "elu", "silu"}, \
                default="relu"
            Activation between hidden layers (none after the code or the output).
        """,
    ),
    "dropout": Param(
        [Interval(Real, 0, 1, closed="left")],
        """
        dropout : float, default=0.0
            Dropout probability after each hidden activation, during training only.
        """,
    ),
    "encoder": Param(
        [callable, None],
        """
        encoder : torch.nn.Module class or None, default=None
            Your own encoder network, in place of the MLP that
            ``hidden_layer_sizes``, ``activation`` and ``dropout`` describe:
            a class (or other callable) built as ``encoder(n_inputs=...,
            n_outputs=..., **encoder_params)`` that maps a float32 tensor of
            shape ``(n, n_inputs)`` to ``(n, n_outputs)``. ``n_inputs`` is
            the width of the rows (of the model space, for a mixed table;
            plus the one-hot class for a conditional model); ``n_outputs`` is
            ``n_components`` for the autoencoder (the code) and ``2 *
            n_components`` for a VAE (the posterior means, then the log
            scales). Use it for structure an MLP lacks, such as a
            convolutional encoder for images given as rows of pixels. The
            class is stored, not an instance, so the estimator clones,
            pickles (define the class at the top level of a module) and
            searches over ``encoder_params`` like any other parameter.
            The network reads missing entries as their fill values; it is
            trained on the plain training step (no fast path).
        """,
    ),
    "encoder_params": Param(
        [dict, None],
        """
        encoder_params : dict or None, default=None
            Keyword arguments of ``encoder``, e.g. ``{"channels": 16}``.
        """,
    ),
    "decoder": Param(
        [callable, None],
        """
        decoder : torch.nn.Module class or None, default=None
            Your own decoder network, built as ``decoder(n_inputs=...,
            n_outputs=..., **decoder_params)``: ``n_inputs`` is
            ``n_components`` (plus the one-hot class for a conditional
            model); ``n_outputs`` is the row's width for the autoencoder (the
            reconstruction; for a mixed table, its model space of values,
            log-odds and logits) and, for a VAE, the number of parameters of
            its likelihood (the Gaussian's means, one per feature, whose
            output scales stay learned per feature). See ``encoder``.
        """,
    ),
    "decoder_params": Param(
        [dict, None],
        """
        decoder_params : dict or None, default=None
            Keyword arguments of ``decoder``.
        """,
    ),
    "corruption": Param(
        [StrOptions({"gaussian", "masking"}), None],
        """
        corruption : {"gaussian", "masking"} or None, default=None
            Noise applied to the rows the encoder reads in training, while
            the loss still compares the output with the clean rows: a
            denoising autoencoder, which learns to map noisy or incomplete
            rows back to clean ones and usually learns more robust codes.
            ``"gaussian"`` adds ``N(0, corruption_level²)`` noise to each
            numeric entry (in X's units; in standardised units for a mixed
            table, whose binary and categorical columns it leaves alone); ``"masking"``
            hides each column with probability ``corruption_level``, as a
            missing value (the encoder reads the training mean, for a
            categorical column "unknown"). Use it when the rows to encode
            or reconstruct will be noisier than clean training rows, with
            the kind and level of noise expected. Inference never adds
            noise.
        """,
    ),
    "corruption_level": Param(
        [Interval(Real, 0, None, closed="left")],
        """
        corruption_level : float, default=0.2
            Standard deviation of the Gaussian noise, or probability of
            hiding a column (below 1), for ``corruption``.
        """,
    ),
    "sparsity": Param([Interval(Real, 0, None, closed="left")]),
    "init": Param([StrOptions({"random", "pca"})]),
    "beta": Param([Interval(Real, 0, None, closed="left")]),
    "kl_warmup": Param([Count(0)]),
    "n_train_draws": Param(
        [Count(1)],
        """
        n_train_draws : int, default=1
            Codes drawn from ``q(z | x)`` per row in training. ``1`` trains on
            the ELBO; more train on the importance-weighted bound (IWAE; MIWAE
            for rows with missing entries), which is tighter and suits
            imputation, at about ``n_train_draws`` times the decoder's cost.
        """,
    ),
    # Documented by each estimator: "normal" is N(0, I) for a VAE and the
    # Gaussian fitted to the codes for an autoencoder.
    "prior": Param([StrOptions({"normal", "mixture"}), HasMethods(["fit", "sample"])]),
    "max_iter": Param(
        [Count(1)],
        """
        max_iter : int, default=200
            Maximum number of epochs.
        """,
    ),
    "batch_size": Param(
        [StrOptions({"auto"}), Count(1)],
        """
        batch_size : int or "auto", default="auto"
            Rows per training step. ``"auto"`` uses ``min(256, n_samples)`` on a
            CPU and ``min(4096, n_samples)`` on a GPU.
        """,
    ),
    "learning_rate_init": Param(
        [Interval(Real, 0, None, closed="neither")],
        """
        learning_rate_init : float, default=1e-3
            Step size of the Adam optimiser.
        """,
    ),
    "alpha": Param([Interval(Real, 0, None, closed="left")]),
    "early_stopping": Param(["boolean"]),
    "validation_fraction": Param(
        [Interval(Real, 0, 1, closed="neither")],
        """
        validation_fraction : float, default=0.1
            Fraction of rows held out when ``early_stopping=True``.
        """,
    ),
    "n_iter_no_change": Param(
        [Count(1)],
        """
        n_iter_no_change : int, default=10
            Epochs without an improvement of at least ``tol`` before stopping.
        """,
    ),
    "tol": Param([Interval(Real, 0, None, closed="left")]),
    "warm_start": Param(
        ["boolean"],
        """
        warm_start : bool, default=False
            When True, ``fit`` continues training the fitted network (its
            weights and optimiser state) for up to ``max_iter`` more epochs,
            instead of building a new one: use it to train longer, or on new
            data of the same columns. The parameters the network is built
            from must be unchanged (see :meth:`partial_fit`); ``n_iter_`` and
            ``loss_curve_`` count every epoch since the network was built,
            and the statistics of the codes are recomputed on the new X.
        """,
    ),
    "device": Param(
        [str, torch.device],
        """
        device : str or torch.device, default="auto"
            ``"cpu"``, ``"cuda"``, ``"cuda:N"``, or ``"auto"`` (CUDA when available).
        """,
    ),
    "precision": Param(
        [StrOptions(set(PRECISIONS))],
        """
        precision : {"float32", "bfloat16"}, default="float32"
            Precision of the forward passes, in training and inference.
            ``"bfloat16"`` runs them under ``torch.autocast`` (mixed precision:
            parameters, optimiser state and loss stay float32); use it on GPUs
            with bf16 tensor cores; it is slower on most CPUs. Outputs keep X's
            dtype.
        """,
    ),
    "compile": Param(
        ["boolean"],
        """
        compile : bool, default=False
            Compile the network with ``torch.compile`` for training (static
            shapes; on CUDA in ``"reduce-overhead"`` mode, which replays each
            step as a CUDA graph, removing the kernel-launch overhead that
            dominates small networks on a GPU). Compilation takes seconds to
            tens of seconds per fit, so it pays for long fits on a GPU and
            rarely on a CPU. Inference and the fitted estimator use the eager
            module, so it pickles as usual.
        """,
    ),
    "callbacks": Param(
        [list, None],
        """
        callbacks : list of skorch callbacks or None, default=None
            Extra skorch callbacks, as ``Callback`` instances or ``(name,
            callback)`` pairs; they receive the usual skorch notifications. A
            batch is skorch's ``(X, y)`` pair, with the batch's rows in ``X``
            (a record whose ``x`` is the tensor) and ``y`` None.
        """,
    ),
    "column_types": Param(
        [dict, None],
        """
        column_types : dict or None, default=None
            Type of some or all columns of X: a mapping from column name (or,
            for an array, position) to ``"continuous"``, ``"integer"``,
            ``"binary"`` or ``"categorical"``. Columns it does not name take
            their type from their dtype: float → continuous (integer when
            every observed value is a whole number), int → integer, bool →
            binary, category, object or string → categorical. A DataFrame
            with a categorical column, or any X when ``column_types`` is
            given, is modelled as a mixed table (see
            the user guide's "Mixed-type tables"): numeric columns are
            standardised inside the model, each column gets a likelihood of
            its type, and ``inverse_transform`` and ``sample`` return rows
            in X's schema. Otherwise X is one float matrix, as for any
            scikit-learn estimator (boolean columns are then 0/1 features).
            Use it to declare a numeric column categorical (codes), or a
            boolean column binary.
        """,
    ),
    "handle_unknown": Param(
        [StrOptions({"error", "ignore"})],
        """
        handle_unknown : {"error", "ignore"}, default="error"
            What a mixed table's binary or categorical column does with a
            value not seen in fit (for ``partial_fit``, in the first call),
            as in :class:`~sklearn.preprocessing.OneHotEncoder`. ``"error"``
            raises a ``ValueError`` naming the unknown categories.
            ``"ignore"`` accepts it as a value the model finds very
            unlikely: the encoder reads it as a missing entry (so
            ``transform`` gives the code of the rest of the row),
            ``score_samples`` counts it as a category of probability 1e-7
            (a log-probability of about -16.1 for the VAE, a cross-entropy
            of about 16.1 nats for the autoencoder), as does
            ``reconstruction_errors``. Use ``"ignore"`` when new data may
            bring new levels (a new city, a new product code) and a row must
            still be scored, e.g. in outlier detection or in cross-validation
            whose folds lack rare levels. A numeric column with a single
            value in fit is never refused: it is a point mass, and another
            value scores ``-inf`` (an infinite reconstruction error).
        """,
    ),
    "random_state": Param(["random_state"]),
    "verbose": Param(["verbose"]),
    "progress_bar": Param(
        ["boolean"],
        """
        progress_bar : bool, default=False
            Show a progress bar of the epochs while training (with tqdm, the
            ``progress`` extra: ``pip install "skaevae[progress]"``): epochs
            done out of ``max_iter``, the latest training (and validation)
            loss, and the time left. Use it for long fits; it does not change
            the fitted model, and may be switched between ``partial_fit``
            calls.
        """,
    ),
}


def constraints(*names):
    """``_parameter_constraints`` for the parameters ``names``."""
    return {name: PARAMS[name].constraint for name in names}


_MARKER = re.compile(r"^(?P<indent>[ \t]*)\[\[(?P<name>\w+)\]\][ \t]*$", re.MULTILINE)


def fill_parameter_docs(cls):
    """Class decorator: replace each ``[[name]]`` line of the docstring with its entry."""

    def entry(match):
        doc = dedent(PARAMS[match["name"]].doc).strip("\n")
        return indent(doc, match["indent"])

    if cls.__doc__ is not None:  # None under python -OO
        cls.__doc__ = _MARKER.sub(entry, cls.__doc__)
    return cls
