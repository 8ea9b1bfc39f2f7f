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

import numpy as np
import pandas as pd
import torch
from sklearn.base import clone
from sklearn.mixture import GaussianMixture

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
        p = sample_weight / sample_weight.sum()
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
        columns = list(names) if names is not None else list(range(estimator.n_features_in_))
        unknown = [c for c in conditions if c not in columns]
        if unknown:
            kind = "names" if names is not None else "positions (0 to n_features_in_ - 1)"
            raise ValueError(
                f"conditions names columns {unknown!r} that are not among the columns seen "
                f"in fit; give columns by their {kind}."
            )
        self.columns = columns
        self.values = dict(conditions)
        if table is None:
            for column, value in self.values.items():
                self._check_number(column, value)
            row = np.full((1, len(columns)), np.nan)
            for column, value in self.values.items():
                row[0, columns.index(column)] = value
            if names is not None:
                row = pd.DataFrame(row, columns=names)
        else:
            for column, value in self.values.items():
                kind = table.types_.get(column)
                if column in table.constant_:
                    if value != table.constant_[column]:
                        raise ValueError(
                            f"Column {column!r} had the single value "
                            f"{table.constant_[column]!r} in fit; it cannot be {value!r}."
                        )
                elif kind in ("binary", "categorical"):
                    categories = table.params_[column]["categories"]
                    if not any(_same(value, c) for c in categories):
                        raise ValueError(
                            f"{value!r} is not a category of column {column!r} seen in fit; "
                            f"its categories are {list(categories)!r}."
                        )
                else:
                    self._check_number(column, value)
                    if kind == "integer" and value != np.round(value):
                        raise ValueError(f"Column {column!r} is integer; got the value {value!r}.")
            row = pd.DataFrame(
                {c: pd.Series([self.values.get(c)], dtype=object) for c in columns}
            ).infer_objects()
            if not table.is_frame_:
                row = row.to_numpy(dtype=object)
        self.row = row

    @staticmethod
    def _check_number(column, value):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
            raise ValueError(
                f"The value of numeric column {column!r} must be a number, got {value!r}."
            )
        if not np.isfinite(value):
            raise ValueError(f"The value of column {column!r} must be finite, got {value!r}.")

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
        prior = getattr(self, "prior_", None)
        if prior is None:
            return self._default_codes(n_samples, rng)
        return draw_codes(prior, n_samples, rng)

    def _fit_prior(self, X, sample_weight, condition, seed):
        """Fit ``prior_`` to the codes of (up to ``PRIOR_ROWS``) training rows."""
        if isinstance(self.prior, str) and self.prior == "normal":
            self.prior_ = None
            return
        rng = np.random.RandomState(seed_for_prior(seed))
        rows = prior_rows(len(X), sample_weight, rng)
        side = {} if condition is None else {"condition": condition[rows]}
        codes = self._prior_fit_codes(X[rows], side, rng)
        self.prior_ = make_prior(self.prior, len(codes), seed_for_prior(seed)).fit(codes)

    def _conditioned_codes(self, n_samples, y, given, rng):
        """Codes (and side inputs) of ``n_samples`` rows given column values, by resampling.

        Each chunk of rows draws a pool of ``POOL_FACTOR`` codes per row from
        the prior (with their side inputs: classes drawn from the class prior
        where ``y`` is None), weights each by ``p(x_S | z)``, the likelihood
        of the given values, and resamples the chunk's codes by weight.
        """
        if y is not None and np.ndim(y) > 0:
            # Rows of each class are drawn given their class.
            y = np.asarray(y)
            side = self._sample_side_inputs(n_samples, y, rng)  # checks y
            codes = np.empty((n_samples, self.n_components_))
            for label in pd.unique(y):
                rows = np.flatnonzero(y == label)
                codes[rows] = self._conditioned_codes(len(rows), label, given, rng)[0]
            return codes, side
        target = self._check_input(given.row)
        log_likelihood = condition_log_likelihood(self._module, target)
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
