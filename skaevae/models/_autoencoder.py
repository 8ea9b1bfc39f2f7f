"""AutoencoderTransformer: a deterministic autoencoder as a scikit-learn transformer."""

import numpy as np

from ..nn._losses import (
    PROBABILITY_FLOOR,
    MixedReconstructionLoss,
    ReconstructionLoss,
    column_reconstruction_errors,
)
from ..nn._modules import AutoencoderModule
from ..utils._memory import chunk_rows
from ..utils._moments import RunningMoments
from ._base import BaseAutoencoder
from ._params import constraints, fill_parameter_docs


def hoyer_sparsity(Z):
    """Hoyer's (2004) sparsity of each row of ``Z``, in [0, 1]; 1 for an all-zero row."""
    k = Z.shape[1]
    if k == 1:
        return np.zeros(len(Z))
    l1 = np.abs(Z).sum(axis=1)
    l2 = np.sqrt(np.square(Z).sum(axis=1))
    ratio = np.divide(l1, l2, out=np.ones_like(l1), where=l2 > 0)
    return (np.sqrt(k) - ratio) / (np.sqrt(k) - 1)


@fill_parameter_docs
class AutoencoderTransformer(BaseAutoencoder):
    """Autoencoder for non-linear dimensionality reduction.

    An encoder MLP maps each row to a point ``z`` in an ``n_components``-wide
    latent space; a mirrored decoder maps it back. Both are trained to minimise
    the mean squared reconstruction error. With ``hidden_layer_sizes=()`` and
    ``activation="identity"`` it is a linear autoencoder, whose optimum spans
    the same subspace as :class:`~sklearn.decomposition.PCA`.

    The network is a PyTorch module trained through a skorch ``NeuralNet``
    (fitted attribute ``net_``), on the CPU or a GPU.

    Parameters
    ----------
    [[n_components]]

    [[hidden_layer_sizes]]

    [[activation]]

    [[dropout]]

    [[encoder]]

    [[encoder_params]]

    [[decoder]]

    [[decoder_params]]

    [[corruption]]

    [[corruption_level]]

    sparsity : float, default=0.0
        Weight of an L1 activity penalty on the code: ``sparsity`` times
        each row's mean absolute code value is added to its loss (a sparse
        autoencoder). It drives most code entries of a row towards zero, so
        each row is described by a few active dimensions; use it for
        interpretable or over-complete codes (``n_components`` near or above
        the data's intrinsic dimension), at some cost in reconstruction.
        ``code_sparsity_`` measures the effect. ``alpha`` keeps the decoder
        from undoing the penalty with large weights. The penalty is part of
        ``loss_curve_``, not of :meth:`score_samples`.

    init : {"random", "pca"}, default="random"
        How the network's weights start. ``"random"`` is torch's default
        initialisation. ``"pca"`` starts from PCA of the (weighted) training
        rows (with ``early_stopping``, without the validation rows): the
        initial network reconstructs each row exactly as
        :class:`~sklearn.decomposition.PCA` with ``n_components`` does
        (through ReLU layers, a hidden layer of width ``h`` carries ``h // 2``
        principal scores), and training refines it from there. Hidden units
        not needed to carry the scores keep random weights, so the network can
        still learn what PCA cannot. Fits then depend much less on
        ``random_state`` (as for :class:`~sklearn.manifold.TSNE`'s
        ``init="pca"``). Needs ``activation="relu"`` or ``"identity"``.
        The code starts as the principal scores (as many as the narrowest
        hidden layer carries; the other code dimensions start at zero).

    prior : {"normal", "mixture"} or estimator, default="normal"
        The distribution of the codes :meth:`sample` draws from, fitted to
        the codes of the training rows (up to 20,000 of them) once the
        network is trained. ``"normal"`` is one Gaussian, ``latent_mean_``
        and ``latent_covariance_``. ``"mixture"`` is a
        :class:`~sklearn.mixture.GaussianMixture` of up to 10
        full-covariance components (at most one per 50 rows): use it when
        the codes form clusters or curved shapes, which one Gaussian covers
        with empty space where decoded codes give unrealistic rows. Any
        estimator with ``fit`` and ``sample`` (another ``GaussianMixture``,
        :class:`~sklearn.neighbors.KernelDensity`) is cloned and fitted
        instead. It changes :meth:`sample` only; a mixture adds one EM fit
        on the codes to :meth:`fit` (and to each :meth:`partial_fit` call,
        on that call's rows).

    [[max_iter]]

    [[batch_size]]

    [[learning_rate_init]]

    alpha : float, default=1e-4
        Strength of the L2 penalty, applied as Adam's ``weight_decay`` to every
        trainable parameter (biases included).

    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows and stop when their loss
        stops improving; the parameters of the best epoch are restored. Without
        it, training stops when the training loss stops improving.

    [[validation_fraction]]

    [[n_iter_no_change]]

    tol : float, default=1e-4
        Minimum improvement of the monitored loss.

    [[warm_start]]

    [[device]]

    [[precision]]

    [[compile]]

    [[callbacks]]

    [[column_types]]

    [[handle_unknown]]

    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling, dropout and the validation
        split, through local generators: global numpy and torch RNG states are
        left untouched. Pass an int for reproducible results on a CPU.

    verbose : int, default=0
        ``1`` prints a line per epoch (training loss, validation loss, time).

    [[progress_bar]]

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The trained net; ``net_.module_`` is the :class:`torch.nn.Module`.

    n_components_ : int
        Width of the latent code.

    n_iter_ : int
        Number of epochs run.

    loss_curve_ : list of float
        Mean training loss (mean squared error) per epoch.

    validation_loss_curve_ : list of float or None
        Mean validation loss per epoch when ``early_stopping=True``.

    best_loss_ : float or None
        Lowest training loss, when ``early_stopping=False``.

    best_validation_loss_ : float or None
        Lowest validation loss, when ``early_stopping=True``.

    latent_mean_ : ndarray of shape (n_components,)
        Mean of the training codes, used by :meth:`sample`.

    latent_covariance_ : ndarray of shape (n_components, n_components)
        Covariance of the training codes, used by :meth:`sample`.

    prior_ : estimator or None
        The prior fitted to the training codes (a
        :class:`~sklearn.mixture.GaussianMixture` for ``prior="mixture"``),
        or None for ``prior="normal"``.

    code_sparsity_ : float
        How sparse the training codes are: the mean over rows of Hoyer's
        measure ``(sqrt(k) - |z|_1 / |z|_2) / (sqrt(k) - 1)`` of each code
        ``z`` of ``k = n_components`` entries, 0 when every entry has the
        same magnitude, 1 when one entry alone is non-zero (0 when
        ``n_components=1``). Grows with ``sparsity``.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`, when X has string column
        names.

    column_types_ : dict or None
        The type of each column of a mixed table (``"continuous"``,
        ``"integer"``, ``"binary"`` or ``"categorical"``), by name; ``None``
        when X was one float matrix. See ``column_types``.

    See Also
    --------
    VAETransformer : Variational autoencoder, a generative model with a
        smooth latent space.
    sklearn.decomposition.PCA : The linear baseline.

    Notes
    -----
    The autoencoder maps a row to a point and has no probabilistic model of
    its latent space, which can be irregular, with holes between clusters.
    :meth:`sample` therefore uses a two-stage approximation: a Gaussian fitted
    to the training codes, decoded. Use :class:`VAETransformer` for a
    generative model.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skaevae import AutoencoderTransformer
    >>> X = StandardScaler().fit_transform(load_digits().data)
    >>> ae = AutoencoderTransformer(n_components=8, max_iter=20, random_state=0)
    >>> Z = ae.fit_transform(X)
    >>> Z.shape
    (1797, 8)
    >>> ae.inverse_transform(Z).shape
    (1797, 64)
    >>> ae.score_samples(X[:3]).shape
    (3,)
    """

    _parameter_constraints: dict = {
        **BaseAutoencoder._parameter_constraints,
        **constraints("sparsity"),
    }

    _module_cls = AutoencoderModule
    _criterion_cls = ReconstructionLoss

    def __init__(
        self,
        n_components=2,
        *,
        hidden_layer_sizes=(128, 64),
        activation="relu",
        dropout=0.0,
        encoder=None,
        encoder_params=None,
        decoder=None,
        decoder_params=None,
        corruption=None,
        corruption_level=0.2,
        sparsity=0.0,
        init="random",
        prior="normal",
        max_iter=200,
        batch_size="auto",
        learning_rate_init=1e-3,
        alpha=1e-4,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        warm_start=False,
        device="auto",
        precision="float32",
        compile=False,
        callbacks=None,
        column_types=None,
        handle_unknown="error",
        random_state=None,
        verbose=0,
        progress_bar=False,
    ):
        self.n_components = n_components
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.dropout = dropout
        self.encoder = encoder
        self.encoder_params = encoder_params
        self.decoder = decoder
        self.decoder_params = decoder_params
        self.corruption = corruption
        self.corruption_level = corruption_level
        self.sparsity = sparsity
        self.init = init
        self.prior = prior
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.alpha = alpha
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.warm_start = warm_start
        self.device = device
        self.precision = precision
        self.compile = compile
        self.callbacks = callbacks
        self.column_types = column_types
        self.handle_unknown = handle_unknown
        self.random_state = random_state
        self.verbose = verbose
        self.progress_bar = progress_bar

    def _encode(self, x):
        return self._module.encode(*self._observed(x))

    def _criterion_params(self):
        return {"sparsity": self.sparsity}

    def _criterion(self):
        layout = self._layout()
        if layout is None:
            return super()._criterion()
        return MixedReconstructionLoss, {"layout": layout, **self._criterion_params()}

    def _resume_model(self, net):
        net.criterion_.sparsity = self.sparsity

    def _score_batch(self, x):
        module = self._module
        layout = self._layout()
        x, mask = module.observed(x)
        raw = module.decoder(module.encode(x, mask))
        if layout is not None:
            errors = column_reconstruction_errors(x, raw, layout)
        else:
            errors = (x - raw).square()
        # The mean over the observed entries (0 for a row with none).
        return -(errors * mask).sum(dim=-1) / mask.sum(dim=-1).clamp(min=1.0)

    def _score_unseen(self, scores, M, n_unknown):
        # The score is minus the mean error over a row's observed columns:
        # each unseen category joins them with the cross-entropy of the
        # least probability counted, -log PROBABILITY_FLOOR.
        n_observed = self._table.observed_columns(M)
        total = scores * np.maximum(n_observed, 1) - n_unknown * -np.log(PROBABILITY_FLOOR)
        return total / np.maximum(n_observed + n_unknown, 1)

    def _update_statistics(self, X, first_pass):
        # Mean and covariance of the codes, kept as running sums over the rows
        # seen and accumulated one chunk at a time, so that fit never holds
        # every code in float64.
        k = self.n_components_
        if first_pass:
            self._latent_moments = RunningMoments(k)
            self._hoyer_sum = 0.0
        step = chunk_rows(8 * k, X.shape[0])
        for start in range(0, X.shape[0], step):
            Z = self._map_batches(self._encode, {"x": X[start : start + step]}, k, np.float64)
            self._hoyer_sum += hoyer_sparsity(Z).sum()
            self._latent_moments.update(Z)
        self.latent_mean_ = self._latent_moments.mean
        self.latent_covariance_ = self._latent_moments.covariance
        self.code_sparsity_ = float(self._hoyer_sum / self._latent_moments.n_samples_seen)

    def _default_codes(self, n_samples, rng):
        return rng.multivariate_normal(self.latent_mean_, self.latent_covariance_, size=n_samples)

    def _prior_fit_codes(self, M, side, rng):
        return self._map_batches(self._encode, {"x": M}, self.n_components_, np.float64)

    def score_samples(self, X):
        """Negative mean squared reconstruction error of each row.

        Higher means better reconstructed, i.e. more normal (scikit-learn's
        sign convention for :term:`score_samples`).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            ``-mean_j (x_j - x̂_j)²`` per row. For a mixed table, minus the
            mean over columns of the squared standardised error (numeric
            columns) and the cross-entropy in nats (binary and categorical
            columns). With missing entries (NaN), the mean over the observed
            entries, so rows with different numbers of holes compare on the
            same scale; a row with nothing observed scores 0.
        """
        return super().score_samples(X)
