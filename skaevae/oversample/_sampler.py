"""VAEOverSampler: over-sampling rare classes with a conditional VAE, in imbalanced-learn's API.

This module needs imbalanced-learn (``pip install "skaevae[imbalanced]"``):
the sampler is one of its ``BaseOverSampler``s, which bring the
``sampling_strategy`` rules, the input checks and ``fit_resample``.
"""

import warnings

import numpy as np
from imblearn.over_sampling.base import BaseOverSampler
from imblearn.utils import Substitution
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import StrOptions

from ..models._conditional import ConditionalVAETransformer
from ..utils._budget import epochs_for_steps
from ..utils._validation import local_random_state

# The default model's training length, counted in optimiser steps (as
# VAEImputer's "auto" schedule counts it), so that a small table gets enough
# epochs and a large one is not trained for hundreds. Four times the
# imputer's budget: the rows of a rare class are a small share of each step.
DEFAULT_STEPS = 8000
DEFAULT_MAX_EPOCHS = 2000
DEFAULT_PATIENCE_STEPS = 200
DEFAULT_MIN_PATIENCE = 10
DEFAULT_BATCH_SIZE = 256


@Substitution(sampling_strategy=BaseOverSampler._sampling_strategy_docstring)
class VAEOverSampler(BaseOverSampler):
    """Over-sample classes with rows drawn from a conditional VAE.

    A :class:`ConditionalVAETransformer` is fitted on all the rows and their
    classes, then draws new rows of each class to be over-sampled. With
    ``draw_from="posterior"`` each new row starts from a real row of the
    class, picked at random: a code is drawn from that row's posterior
    ``q(z | x, y)`` and a row from ``p(x | z, y)``, so new rows vary around
    the real ones as the model learned rows to vary, rather than on the
    line between two neighbours as with
    :class:`~imblearn.over_sampling.SMOTE`; ``"prior"`` draws codes from
    N(0, I), the class's whole learned distribution. A small class borrows
    what it shares with the others through the shared network and keeps
    what sets it apart through its label. It follows
    imbalanced-learn's sampler API (``fit_resample``, ``sampling_strategy``),
    so it drops into :class:`imblearn.pipeline.Pipeline` in place of
    ``SMOTE``. Features are standardised for the model and the new rows
    returned in X's units and X's dtype, as SMOTE returns them. Every column
    is modelled as continuous, with the decoder's Gaussian noise: for a float
    X, new rows of a constant or whole-number column vary slightly around its
    values; for an integer (or boolean) X, each new value is rounded to the
    nearest whole number within its column's range in X, so a constant column
    stays constant.

    Read more in the user guide's "Conditional sampling" section; needs
    imbalanced-learn (``pip install "skaevae[imbalanced]"``).

    Parameters
    ----------
    {sampling_strategy}

    estimator : ConditionalVAETransformer or None, default=None
        The model to fit (a clone of it is fitted). ``None`` uses
        ``ConditionalVAETransformer(n_components=min(8, n_features))``
        trained for about 8000 optimiser steps of 256 rows (between 4 and
        2000 epochs, stopping when the training loss stops improving), which
        suits tables of a few hundred to a few hundred thousand rows.

    draw_from : {{"posterior", "prior"}}, default="posterior"
        Where the codes of new rows come from: the posteriors of the class's
        real rows (new rows near real ones; the safer choice for a class of
        a few dozen rows) or the prior N(0, I) (the class's whole learned
        distribution, more diverse, and more dependent on how well the
        model learned a small class).

    random_state : int, RandomState instance or None, default=None
        Seeds the model (when ``estimator`` has no ``random_state`` of its
        own) and the draws of new rows; ``None`` seeds from fresh OS
        entropy, leaving numpy's global generator alone.

    Attributes
    ----------
    sampling_strategy_ : dict
        Number of rows generated for each class.

    estimator_ : ConditionalVAETransformer
        The fitted model.

    scaler_ : sklearn.preprocessing.StandardScaler
        The standardisation of the features for the model.

    n_features_in_ : int
        Number of features in the input dataset.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during ``fit_resample``, when X has string
        column names.

    See Also
    --------
    imblearn.over_sampling.SMOTE : Interpolation between minority neighbours.
    ConditionalVAETransformer : The model.

    Examples
    --------
    >>> from collections import Counter
    >>> from sklearn.datasets import make_classification
    >>> from skaevae import VAEOverSampler
    >>> X, y = make_classification(n_samples=300, weights=[0.9], random_state=0)
    >>> sorted(Counter(y).items())
    [(np.int64(0), 269), (np.int64(1), 31)]
    >>> X_res, y_res = VAEOverSampler(random_state=0).fit_resample(X, y)
    >>> sorted(Counter(y_res).items())
    [(np.int64(0), 269), (np.int64(1), 269)]
    """

    _parameter_constraints: dict = {
        **BaseOverSampler._parameter_constraints,
        "estimator": [ConditionalVAETransformer, None],
        "draw_from": [StrOptions({"posterior", "prior"})],
    }

    def __init__(
        self, *, sampling_strategy="auto", estimator=None, draw_from="posterior", random_state=None
    ):
        super().__init__(sampling_strategy=sampling_strategy)
        self.estimator = estimator
        self.draw_from = draw_from
        self.random_state = random_state

    def _check_X_y(self, X, y, accept_sparse=None):
        # A dense float matrix: the model reads no sparse input.
        return super()._check_X_y(X, y, accept_sparse=False)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags

    def _default_estimator(self, n_samples, n_features):
        batch_size = DEFAULT_BATCH_SIZE
        return ConditionalVAETransformer(
            n_components=min(8, n_features),
            max_iter=epochs_for_steps(
                DEFAULT_STEPS, n_samples, batch_size, at_most=DEFAULT_MAX_EPOCHS
            ),
            n_iter_no_change=epochs_for_steps(
                DEFAULT_PATIENCE_STEPS, n_samples, batch_size, at_least=DEFAULT_MIN_PATIENCE
            ),
            batch_size=batch_size,
        )

    def _fit_resample(self, X, y):
        rng = local_random_state(self.random_state)
        n_samples, n_features = X.shape
        if self.estimator is None:
            estimator = self._default_estimator(n_samples, n_features)
        else:
            estimator = clone(self.estimator)
            if estimator.column_types is not None:
                raise ValueError(
                    "VAEOverSampler standardises the features of X itself, so its model "
                    "reads every column as continuous; use an estimator with "
                    "column_types=None."
                )
        if estimator.random_state is None:
            estimator.set_params(random_state=rng.randint(np.iinfo(np.int32).max))
        self.scaler_ = StandardScaler().fit(X)
        X_scaled = self.scaler_.transform(X)
        with warnings.catch_warnings():
            if self.estimator is None:
                # The default's length is a budget of steps, not a failure to converge.
                warnings.simplefilter("ignore", ConvergenceWarning)
            estimator.fit(X_scaled, y)
        self.estimator_ = estimator
        X_parts, y_parts = [X], [y]
        for label, n_new in self.sampling_strategy_.items():
            if n_new == 0:
                continue
            if self.draw_from == "posterior":
                rows = estimator.sample_near(
                    X_scaled[y == label], label, n_samples=n_new, random_state=rng
                )
            else:
                rows = estimator.sample(n_new, y=label, random_state=rng)
            X_parts.append(self._in_dtype_of(X, self.scaler_.inverse_transform(rows)))
            y_parts.append(np.full(n_new, label, dtype=y.dtype))
        return np.vstack(X_parts), np.hstack(y_parts)

    @staticmethod
    def _in_dtype_of(X, rows):
        """New ``rows`` (floats) in X's dtype, as SMOTE returns them.

        For integer or boolean X each value is rounded to the nearest whole
        number and kept within its column's range in X, so that a constant
        column stays constant and a count never leaves the values seen
        (casting alone would truncate towards zero, biasing every column
        down).
        """
        if X.dtype.kind in "biu":
            rows = np.clip(np.rint(rows), X.min(axis=0), X.max(axis=0))
        return rows.astype(X.dtype, copy=False)
