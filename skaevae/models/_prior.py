"""The prior that ``sample`` draws codes from, and sampling given column values.

A VAE is trained towards N(0, I), but the codes of its training rows (the
aggregate posterior) do not fill N(0, I) evenly: decoded prior draws can fall
between the data's modes (the "prior hole" of Dai & Wipf, 2019; Tomczak &
Welling, 2018). With ``prior="mixture"`` an estimator fits a Gaussian mixture
to the codes of its training rows once the network is trained (the two-stage
recipe of Dai & Wipf, and of TabSyn, whose second stage is a diffusion model)
and draws codes from it. Any estimator with ``fit`` and ``sample`` (a
:class:`~sklearn.mixture.GaussianMixture` with other settings, a
:class:`~sklearn.mixture.BayesianGaussianMixture`, a
:class:`~sklearn.neighbors.KernelDensity`) can take its place.

Sampling *given* the values of some columns draws codes by sampling
importance resampling from the prior: a pool of prior codes, each weighted by
the likelihood of the given values under its decoded distribution, ``p(x_S |
z)``, and resampled by weight, so the codes follow ``p(z | x_S)`` without a
rejection loop. The given values are then written into the generated rows.
"""

import copy
import inspect
from collections.abc import Mapping
from numbers import Real

import numpy as np
import pandas as pd
import torch
from sklearn.base import clone
from sklearn.mixture import GaussianMixture
from sklearn.utils import column_or_1d

# Codes the prior is fitted on, at most (a random subset of the training rows).
PRIOR_ROWS = 20_000

# The default mixture: up to this many full-covariance components, at most
# one per ROWS_PER_COMPONENT codes, so that each has rows enough for its
# covariance.
MIXTURE_COMPONENTS = 10
ROWS_PER_COMPONENT = 50

# Sampling given column values: the rows are made in chunks of CHUNK_ROWS,
# each from its own pool of POOL_FACTOR prior codes per row. The chunks are
# fixed here, so the rows do not depend on how inference batches them.
CHUNK_ROWS = 1024
POOL_FACTOR = 32


def seed_for_prior(seed):
    """The seed of the prior's fit, derived from a fit's seed (a stream of its own)."""
    return int(np.random.SeedSequence([seed, 1]).generate_state(1)[0])


def check_prior(prior):
    """Refuse, before any training, a ``prior`` that cannot be cloned or seeded.

    A prior estimator must draw from a generator it is given: a ``sample``
    taking ``random_state`` (:class:`~sklearn.neighbors.KernelDensity`), or a
    ``random_state`` parameter (:class:`~sklearn.mixture.GaussianMixture`);
    one that draws from numpy's global generator would make ``sample``
    irreproducible.
    """
    if isinstance(prior, str):
        return
    if isinstance(prior, type):
        raise ValueError(
            f"prior must be an estimator instance, got the class {prior.__name__}; "
            f"pass {prior.__name__}() instead."
        )
    try:
        params = clone(prior).get_params()
    except TypeError as error:
        raise ValueError(
            f"prior must be a scikit-learn estimator (clone and get_params), got {prior!r}."
        ) from error
    if "random_state" not in params and (
        "random_state" not in inspect.signature(prior.sample).parameters
    ):
        raise ValueError(
            f"prior {prior!r} has no random_state (parameter or argument of sample): its "
            "draws would come from numpy's global generator; use an estimator that takes one."
        )


def make_prior(prior, n_rows, seed):
    """An unfitted prior estimator for ``n_rows`` codes, seeded by ``seed`` unless it has one."""
    if isinstance(prior, str):
        n_components = max(1, min(MIXTURE_COMPONENTS, n_rows // ROWS_PER_COMPONENT))
        return GaussianMixture(n_components=n_components, covariance_type="full", random_state=seed)
    estimator = clone(prior)
    if estimator.get_params().get("random_state", 0) is None:
        estimator.set_params(random_state=seed)
    return estimator


def prior_rows(n_rows, sample_weight, rng):
    """The training rows whose codes fit the prior: all, or ``PRIOR_ROWS`` drawn by weight."""
    if sample_weight is not None:
        # Rows drawn in proportion to their weight (with replacement): the
        # weighted distribution, for priors whose fit takes no weights.
        # Rows of weight 0 alone give no row.
        total = sample_weight.sum()
        if not total > 0:
            return np.arange(0)
        p = sample_weight / total
        return np.sort(rng.choice(n_rows, size=min(n_rows, PRIOR_ROWS), p=p))
    if n_rows <= PRIOR_ROWS:
        return np.arange(n_rows)
    return np.sort(rng.choice(n_rows, size=PRIOR_ROWS, replace=False))


def draw_codes(prior, n_samples, rng):
    """``n_samples`` codes from a fitted prior estimator, drawn from ``rng`` alone.

    ``KernelDensity.sample`` takes a ``random_state``; a mixture's ``sample``
    reads its own ``random_state`` parameter, so a shallow copy is given
    ``rng`` instead. A mixture returns its draws grouped by component; they
    are put in random order.
    """
    if "random_state" in inspect.signature(prior.sample).parameters:
        codes = prior.sample(n_samples, random_state=rng)
    else:
        prior = copy.copy(prior)
        prior.random_state = rng
        codes = prior.sample(n_samples)
    if isinstance(codes, tuple):
        codes = codes[0]
    return np.asarray(codes, dtype=np.float64)[rng.permutation(n_samples)]


class ColumnConditions:
    """The checked column values of ``sample(..., conditions=...)``.

    ``conditions`` maps columns (names for a table fitted with column names,
    else positions) to one value each. ``row`` is a one-row input with those
    values and nothing else observed, in the form the model was fitted on.
    """

    def __init__(self, conditions, estimator):
        if not isinstance(conditions, Mapping) or not conditions:
            raise ValueError(
                "conditions must be a non-empty dict mapping columns to values, got "
                f"{conditions!r}."
            )
        table = estimator._table
        names = getattr(estimator, "feature_names_in_", None)
        if table is not None:
            # The table's own column labels (names, or positions for an array).
            columns = list(table.columns_)
        elif names is not None:
            columns = list(names)
        else:
            columns = list(range(estimator.n_features_in_))
        unknown = [c for c in conditions if c not in columns]
        if unknown:
            raise ValueError(
                f"conditions names columns {unknown!r} that are not among the columns seen "
                f"in fit: {columns[:20]!r}{' ...' if len(columns) > 20 else ''}."
            )
        self.columns = columns
        self.values = {}
        if table is None:
            for column, value in conditions.items():
                self.values[column] = self._number(column, value, None)
            row = np.full((1, len(columns)), np.nan)
            for column, value in self.values.items():
                row[0, columns.index(column)] = value
            if names is not None:
                row = pd.DataFrame(row, columns=names)
            self.row = row
            return
        for column, value in conditions.items():
            self.values[column] = self._table_value(table, column, value)
        row = {}
        for column in columns:
            dtype = table.dtypes_[column]
            if column in self.values and isinstance(dtype, pd.CategoricalDtype):
                row[column] = pd.Series(pd.Categorical([self.values[column]], dtype=dtype))
            else:
                row[column] = pd.Series([self.values.get(column)], dtype=object)
        row = pd.DataFrame(row).infer_objects()
        self.row = row if table.is_frame_ else row.to_numpy(dtype=object)

    @classmethod
    def _table_value(cls, table, column, value):
        """``value`` checked for ``column`` of a mixed table, as the column holds it."""
        kind = table.types_.get(column)
        if column in table.constant_:
            if not _same(value, table.constant_[column]):
                raise ValueError(
                    f"Column {column!r} had the single value {table.constant_[column]!r} in "
                    f"fit; it cannot be {value!r}."
                )
            return table.constant_[column]
        if kind in ("binary", "categorical"):
            categories = table.params_[column]["categories"]
            matches = [c for c in categories if _same(value, c)]
            if not matches:
                raise ValueError(
                    f"{value!r} is not a category of column {column!r} seen in fit; its "
                    f"categories are {list(categories)!r}."
                )
            # The category as fit saw it (2008 for 2008.0, True for 1).
            return matches[0]
        return cls._number(column, value, table.dtypes_[column], integer=kind == "integer")

    @staticmethod
    def _number(column, value, dtype, integer=False):
        """A checked number: real, finite, whole for an integer column, within its dtype."""
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, Real):
            raise ValueError(
                f"The value of numeric column {column!r} must be a real number, got {value!r}."
            )
        if not np.isfinite(value):
            raise ValueError(f"The value of column {column!r} must be finite, got {value!r}.")
        if integer and value != np.round(value):
            raise ValueError(f"Column {column!r} is integer; got the value {value!r}.")
        # pandas' nullable integers (Int64 ...) name their numpy dtype.
        kind = np.dtype(getattr(dtype, "numpy_dtype", dtype)).kind if dtype is not None else "f"
        if kind in "iu":
            info = np.iinfo(getattr(dtype, "numpy_dtype", dtype))
            if not info.min <= value <= info.max:
                raise ValueError(
                    f"The value {value!r} of column {column!r} does not fit its dtype {dtype} "
                    f"({info.min} to {info.max})."
                )
            return int(value)
        if integer and kind == "O" and abs(value) < 2**63:
            # An object array's integer column holds Python ints.
            return int(value)
        return float(value)

    def apply(self, X, table):
        """Write the given values into the generated rows ``X`` (in place for an array)."""
        if table is None or not table.is_frame_:
            for column, value in self.values.items():
                X[:, self.columns.index(column)] = value
            return X
        for column, value in self.values.items():
            filled = pd.Series(np.full(len(X), value, dtype=object), index=X.index, name=column)
            X[column] = table._restore_dtype(filled, table.dtypes_[column])
        return X


def _same(value, category):
    try:
        return bool(value == category)
    except (TypeError, ValueError):
        return False


def resample_codes(log_weights, n_rows, rng):
    """Indices of ``n_rows`` pool entries drawn in proportion to ``exp(log_weights)``."""
    log_weights = np.asarray(log_weights, dtype=np.float64)
    if not np.isfinite(log_weights.max()):
        raise ValueError(
            "The given values have no likelihood under the model for any code drawn from "
            "the prior; are they far outside the range seen in fit?"
        )
    weights = np.exp(log_weights - log_weights.max())
    return rng.choice(len(weights), size=n_rows, p=weights / weights.sum())


def condition_log_likelihood(module, target):
    """``fn(x, **side)`` giving ``log p(x_S | z)`` of the one model-space row ``target``.

    ``target`` holds the given values and NaN elsewhere; each batch's codes
    arrive as ``x``.
    """
    given, mask = module.observed(torch.as_tensor(target, dtype=torch.float32))

    def log_likelihood(x, **side):
        px = module.generative(x, **side)
        g, m = given.to(x.device), mask.to(x.device)
        return px.log_prob(g.expand(len(x), -1), m.expand(len(x), -1))

    return log_likelihood


class PriorMixin:
    """``prior``: the distribution :meth:`sample` draws codes from, fitted after the network.

    A model supplies :meth:`_default_codes` (its codes under
    ``prior="normal"``) and :meth:`_prior_fit_codes` (codes of training rows
    to fit a learned prior on).
    """

    def _default_codes(self, n_samples, rng):
        """Codes under ``prior="normal"``, ``(n_samples, n_components)``."""
        raise NotImplementedError

    def _prior_fit_codes(self, M, side, rng):
        """Codes of the model-space rows ``M`` (with side inputs ``side``) to fit the prior on."""
        raise NotImplementedError

    def _sample_codes(self, n_samples, rng, side):
        return self._codes_from(getattr(self, "prior_", None), n_samples, rng)

    def _codes_from(self, prior, n_samples, rng):
        """``n_samples`` codes from the fitted ``prior``, or the default codes where it is None."""
        if prior is None:
            return self._default_codes(n_samples, rng)
        return draw_codes(prior, n_samples, rng)

    def _fit_prior(self, X, sample_weight, condition, seed):
        """Fit ``prior_`` to the codes of (up to ``PRIOR_ROWS``) training rows."""
        if isinstance(self.prior, str) and self.prior == "normal":
            self.prior_ = None
            return
        rng = np.random.RandomState(seed_for_prior(seed))
        self.prior_ = self._learned_prior(X, sample_weight, condition, rng, seed)

    def _learned_prior(self, X, sample_weight, condition, rng, seed):
        """The fitted ``prior_`` of the model-space rows X (a conditional model: per class)."""
        rows = prior_rows(len(X), sample_weight, rng)
        side = {} if condition is None else {"condition": condition[rows]}
        return self._fitted_prior(X[rows], side, rng, getattr(self, "prior_", None), seed)

    def _fitted_prior(self, M, side, rng, previous, seed):
        """A prior fitted to the codes of the rows ``M``; ``previous`` where they are too few.

        A distribution needs two codes at least: a ``partial_fit`` chunk of
        one row (or of one row of a class) keeps the prior fitted before.
        """
        if len(M) < 2:
            return previous
        codes = self._prior_fit_codes(M, side, rng)
        return make_prior(self.prior, len(codes), seed_for_prior(seed)).fit(codes)

    def _conditioned_codes(self, n_samples, y, given, rng):
        """Codes (and side inputs) of ``n_samples`` rows given column values, by resampling.

        Each chunk of rows draws a pool of ``POOL_FACTOR`` codes per row from
        the prior (with their side inputs: classes drawn from the class prior
        where ``y`` is None), weights each by ``p(x_S | z)``, the likelihood
        of the given values, and resamples the chunk's codes by weight.
        """
        log_likelihood = condition_log_likelihood(self._module, self._check_input(given.row))
        if y is None or np.ndim(y) == 0:
            return self._resampled_codes(n_samples, y, log_likelihood, rng)
        # Rows of each class are drawn given their class.
        side = self._sample_side_inputs(n_samples, y, rng)  # checks y
        y = column_or_1d(y)
        codes = np.empty((n_samples, self.n_components_))
        for label in pd.unique(y):
            rows = np.flatnonzero(y == label)
            codes[rows] = self._resampled_codes(len(rows), label, log_likelihood, rng)[0]
        return codes, side

    def _resampled_codes(self, n_samples, y, log_likelihood, rng):
        """Codes and side inputs of rows of one class ``y`` (or any), resampled by likelihood."""
        codes, sides = [], []
        for start in range(0, n_samples, CHUNK_ROWS):
            n_rows = min(CHUNK_ROWS, n_samples - start)
            pool_side = self._sample_side_inputs(POOL_FACTOR * n_rows, y, rng)
            pool = self._sample_codes(POOL_FACTOR * n_rows, rng, pool_side)
            log_w = self._map_batches(log_likelihood, {"x": pool, **pool_side}, None, np.float64)
            pick = resample_codes(log_w, n_rows, rng)
            codes.append(pool[pick])
            sides.append({name: value[pick] for name, value in pool_side.items()})
        side = {name: np.concatenate([s[name] for s in sides]) for name in sides[0]}
        return np.concatenate(codes), side
