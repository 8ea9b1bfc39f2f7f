"""Mixed-type tables: column types, and the encoding to and from the model space.

A :class:`TableEncoder` is fitted on a pandas DataFrame (or an array with
``column_types``). It standardises continuous and integer columns, codes
binary columns as 0/1 and categorical columns one-hot, in the order of
:class:`~skaevae.utils._layout.ColumnLayout`, and turns model-space rows back into
a DataFrame with the fitted columns, dtypes and categories. Plain numpy and
pandas; the estimators own one as ``_table``.
"""

import copy

import numpy as np
import pandas as pd
from pandas.api import types

from ._layout import ColumnLayout
from ._validation import check_n_features

COLUMN_TYPES = ("continuous", "integer", "binary", "categorical")

HANDLE_UNKNOWN = ("error", "ignore")


def _is_categorical_dtype(dtype):
    return (
        isinstance(dtype, pd.CategoricalDtype)
        or types.is_object_dtype(dtype)
        or (types.is_string_dtype(dtype))
    )


# Most decimals a continuous column's values are rounded to on the way out.
MAX_DECIMALS = 6

# A numeric column keeps its distinct values (its support) while it has at
# most MAX_SUPPORT of them (at most 80 kB a column). Where the values repeat
# (at most half as many distinct values as observed entries), generated
# values of the column are put on the nearest one, so that values a column
# takes often (round numbers, codes stored as floats) stay exact in
# generated rows; a column of mostly unique values stays continuous.
MAX_SUPPORT = 10_000


def repeats(support, n_observed):
    """Whether ``support`` (or None) is a few values taken by a column's ``n_observed`` entries."""
    return support is not None and 2 * len(support) <= n_observed


def _is_whole(values):
    return bool(np.all(values == np.round(values)))


def decimals_of(values):
    """The fewest decimals (at most ``MAX_DECIMALS``) that write every value exactly, or None.

    "Exactly" is to a relative 1e-9 of each value (float rounding of a value
    written with few decimals), so a column of small values (1e-10, say)
    keeps every significant digit instead of rounding to 0.
    """
    tolerance = 1e-9 * np.abs(values)
    for decimals in range(MAX_DECIMALS + 1):
        if np.all(np.abs(values - np.round(values, decimals)) <= tolerance):
            return decimals
    return None


def nearest_of(support, values):
    """The nearest value of the sorted 1-D ``support`` to each of ``values`` (lower at a tie)."""
    if len(support) == 1:
        return np.full_like(values, support[0])
    right = np.clip(np.searchsorted(support, values), 1, len(support) - 1)
    below, above = support[right - 1], support[right]
    return np.where(values - below <= above - values, below, above)


def infer_column_type(series):
    """The type of a column from its dtype: bool → binary, int → integer, and so on.

    A float column whose values are all whole numbers is an integer column
    (pandas stores an integer column with missing values as floats).
    """
    dtype = series.dtype
    if types.is_bool_dtype(dtype):
        return "binary"
    if _is_categorical_dtype(dtype):
        return "categorical"
    if types.is_integer_dtype(dtype):
        return "integer"
    if types.is_float_dtype(dtype):
        values = series.dropna().to_numpy(dtype=np.float64)
        if len(values) and np.isfinite(values).all() and _is_whole(values):
            return "integer"
        return "continuous"
    raise ValueError(
        f"Column {series.name!r} has dtype {dtype}, which is not supported: columns must be "
        "numeric, boolean or categorical (category, object or string dtype). Convert it, e.g. "
        "a datetime to a number, or drop it."
    )


def is_mixed(X, column_types):
    """Whether X goes through a :class:`TableEncoder`: a DataFrame with a categorical
    (category, object or string) column, or any X when ``column_types`` is given."""
    if column_types is not None:
        return True
    if not isinstance(X, pd.DataFrame):
        return False
    # Boolean columns alone do not make a table mixed: with numeric columns
    # they are one float matrix of 0/1 values, as scikit-learn reads them.
    return any(_is_categorical_dtype(dtype) for dtype in X.dtypes)


def check_min_rows(X, minimum=2, estimator=None):
    """scikit-learn's error for a table with fewer than ``minimum`` rows."""
    if len(X) < minimum:
        by = f" by {type(estimator).__name__}" if estimator is not None else ""
        raise ValueError(
            f"Found array with {len(X)} sample(s) (shape={X.shape}) while a minimum of "
            f"{minimum} is required{by}."
        )


def _shown(values):
    """Values as Python objects, for messages: ``0.0``, not ``np.float64(0.0)``."""
    return [v.item() if isinstance(v, np.generic) else v for v in values]


def check_unique_columns(X):
    """Raise a ValueError naming the column names that a DataFrame X repeats."""
    columns = getattr(X, "columns", None)
    if columns is None or columns.is_unique:
        return
    repeated = columns[columns.duplicated()].unique()
    raise ValueError(
        f"Expected unique column names, got repeated names: {list(repeated)[:10]}. Rename "
        "or drop the repeated columns."
    )


def _as_frame(X, columns=None):
    if isinstance(X, pd.DataFrame):
        check_unique_columns(X)
        return X
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"Expected a 2D array, got an array of shape {X.shape}.")
    return pd.DataFrame(X, columns=columns)


class TableEncoder:
    """Fitted description of a table, and its encoding.

    Parameters
    ----------
    column_types : dict or None
        Type of some or all columns, by name (DataFrame) or position (array):
        ``"continuous"``, ``"integer"``, ``"binary"`` or ``"categorical"``.
        Other columns are inferred from their dtypes.

    handle_unknown : {"error", "ignore"}, default="error"
        What :meth:`encode` does with a value the model space cannot hold: a
        value of a binary or categorical column that fit did not see (also
        a value other than the one of such a column with a single value in
        fit), and a value other than the one of a numeric column with a
        single value in fit (a point mass, left out of the model space).
        ``"error"`` raises a ``ValueError`` naming the values; ``"ignore"``
        encodes an unknown category as missing (NaN: a one-hot block of NaN
        for a categorical column) and leaves the other value of a constant
        column out, as the column is; the caller then scores such entries
        as very unlikely, from :meth:`unseen_entries`.
    """

    def __init__(self, column_types=None, handle_unknown="error"):
        self.column_types = column_types
        self.handle_unknown = handle_unknown

    # ------------------------------------------------------------------ fit

    def _resolve_types(self, frame):
        given = dict(self.column_types or {})
        unknown = [key for key in given if key not in frame.columns]
        if unknown:
            raise ValueError(
                f"column_types names columns that X does not have: {unknown}. X's columns "
                f"are {list(frame.columns)}."
            )
        bad = {key: kind for key, kind in given.items() if kind not in COLUMN_TYPES}
        if bad:
            raise ValueError(
                f"column_types must map columns to one of {list(COLUMN_TYPES)}; got {bad}."
            )
        return {
            name: given[name] if name in given else infer_column_type(frame[name])
            for name in frame.columns
        }

    def fit(self, X):
        if self.handle_unknown not in HANDLE_UNKNOWN:
            raise ValueError(
                f"handle_unknown must be one of {list(HANDLE_UNKNOWN)}; got "
                f"{self.handle_unknown!r}."
            )
        frame = _as_frame(X)
        if not isinstance(X, pd.DataFrame):
            # An object array: each column's own dtype, as encode reads it.
            frame = frame.infer_objects()
        check_min_rows(frame)
        self.is_frame_ = isinstance(X, pd.DataFrame)
        self.columns_ = list(frame.columns)
        self.dtypes_ = dict(frame.dtypes)
        self.types_ = self._resolve_types(frame)
        self.params_ = {}
        self.constant_ = {}
        groups = {kind: [] for kind in COLUMN_TYPES}
        for name, kind in self.types_.items():
            # Missing entries (NaN, None, pd.NA) are left out of the column's statistics.
            column = frame[name].dropna()
            if len(column) == 0:
                raise ValueError(
                    f"Column {name!r} has no observed value (only missing entries): drop it "
                    "before fitting."
                )
            values = pd.unique(column)
            if len(values) == 1 and not self._declares_levels(name, frame[name], kind):
                # Reproduced as its one value; it does not enter the model.
                self.constant_[name] = values[0]
                continue
            groups[kind].append(name)
            self.params_[name] = self._fit_column(name, column, kind, values)
        self.groups_ = groups
        integer_bounds = tuple(
            (
                (self.params_[n]["low"] - self.params_[n]["mean"]) / self.params_[n]["std"],
                (self.params_[n]["high"] - self.params_[n]["mean"]) / self.params_[n]["std"],
                0.5 / self.params_[n]["std"],
            )
            for n in groups["integer"]
        )
        self.layout_ = ColumnLayout(
            n_continuous=len(groups["continuous"]),
            integer_bounds=integer_bounds,
            n_binary=len(groups["binary"]),
            categories=tuple(len(self.params_[n]["categories"]) for n in groups["categorical"]),
        )
        if self.layout_.n_columns == 0:
            raise ValueError("Every column of X has a single value: there is nothing to model.")
        # Log-determinant of the standardisation of the continuous columns:
        # a density in model units plus this is a density in X's units.
        self.column_log_jacobians_ = np.array(
            [
                -np.log(self.params_[n]["std"]) if self.types_[n] == "continuous" else 0.0
                for n in self.model_columns()
            ]
        )
        self.log_jacobian_ = float(self.column_log_jacobians_.sum())
        return self

    def _declares_levels(self, name, column, kind):
        """Whether a categorical column is modelled even with one observed value.

        A pandas Categorical declares its categories, used or not, and
        ``column_types`` can declare a column categorical: the levels a first
        chunk for ``partial_fit`` lacks are to come, so the column is a
        category of the model, not a constant.
        """
        if kind != "categorical":
            return False
        if isinstance(column.dtype, pd.CategoricalDtype) and len(column.cat.categories) > 1:
            return True
        return name in (self.column_types or {})

    @staticmethod
    def _fit_column(name, column, kind, values):
        dtype = column.dtype
        if kind in ("continuous", "integer"):
            if not (types.is_numeric_dtype(dtype) and not types.is_bool_dtype(dtype)):
                raise ValueError(
                    f"Column {name!r} is {kind} but has dtype {dtype}; {kind} columns must "
                    "be numeric."
                )
            data = column.to_numpy(dtype=np.float64, na_value=np.nan)
            if kind == "integer" and not np.array_equal(data, np.round(data)):
                raise ValueError(
                    f"Column {name!r} is integer but holds values that are not whole numbers."
                )
            # Squares of values near float64's top overflow: such a column
            # cannot be standardised, and is refused as a float matrix's is.
            with np.errstate(over="ignore", invalid="ignore"):
                mean, std = float(np.mean(data)), float(np.std(data))
            if not (np.isfinite(mean) and np.isfinite(std)):
                raise ValueError(
                    f"Column {name!r} holds values too large to standardise (up to "
                    f"{np.max(np.abs(data)):.3g}); rescale it, e.g. to other units."
                )
            support = np.unique(data) if len(values) <= MAX_SUPPORT else None
            return {
                "mean": mean,
                "std": std if std > 0 else 1.0,
                "low": float(data.min()),
                "high": float(data.max()),
                # Continuous values come back with the decimals seen in fit.
                "decimals": decimals_of(data) if kind == "continuous" else 0,
                "support": support,
                "n_observed": len(data),
            }
        if kind == "binary":
            if len(values) != 2:
                raise ValueError(
                    f"Column {name!r} is binary but has {len(values)} distinct values."
                )
            return {"categories": np.sort(np.asarray(values, dtype=object))}
        # A pandas Categorical declares its categories, seen in X or not (a
        # first chunk for partial_fit can list every category).
        categories = (
            column.cat.categories.to_numpy(dtype=object)
            if isinstance(dtype, pd.CategoricalDtype)
            else np.asarray(sorted(values, key=lambda v: (str(type(v)), v)), dtype=object)
        )
        return {"categories": categories}

    # ------------------------------------------------------------- encoding

    @property
    def n_features_in(self):
        return len(self.columns_)

    def model_columns(self):
        """The table columns of the model space, in its order."""
        return [name for kind in COLUMN_TYPES for name in self.groups_[kind]]

    def column_of_each_model_column(self):
        """The table column each model-space column encodes, ``layout.width`` names."""
        owners = []
        for name in self.model_columns():
            kind = self.types_[name]
            width = len(self.params_[name]["categories"]) if kind == "categorical" else 1
            owners += [name] * width
        return owners

    def observed_columns(self, M):
        """The number of observed modelled columns of each model-space row of ``M``, ``(n,)``.

        A categorical column is observed where its one-hot block is not NaN.
        """
        layout = self.layout_
        scalar = layout.n_numeric + layout.n_binary
        count = (~np.isnan(M[:, :scalar])).sum(axis=1)
        for s in layout.category_slices():
            count += ~np.isnan(M[:, s.start])
        return count

    def sum_by_column(self, values):
        """Per-model-column ``values`` ``(n, width)`` summed into table columns ``(n, n_features)``.

        ``values`` may also have one column per modelled table column (a
        categorical column's values already summed). A column with one value
        in training has no model column: its sum is 0.
        """
        owners = self.model_columns()
        if values.shape[1] != len(owners):
            owners = self.column_of_each_model_column()
        owners = np.asarray(owners, dtype=object)
        return np.column_stack([values[:, owners == name].sum(axis=1) for name in self.columns_])

    def by_column(self, values):
        """Values of the modelled table columns ``(n, n_modelled)`` in X's column order.

        ``values`` has one column per modelled table column, in
        :meth:`model_columns` order; the result has one per column of X, NaN
        for a column with one value in training (which the model leaves out).
        """
        position = {name: j for j, name in enumerate(self.model_columns())}
        out = np.full((len(values), len(self.columns_)), np.nan)
        for j, name in enumerate(self.columns_):
            if name in position:
                out[:, j] = values[:, position[name]]
        return out

    def _check_dtype(self, name, column):
        fitted, dtype = self.dtypes_[name], column.dtype
        if column.isna().all():
            # A column of holes only (a CSV chunk without a value in it, a
            # row built from a dict with None) has whatever dtype pandas
            # guessed; it fits any fitted dtype.
            return

        def numeric(d):
            return types.is_numeric_dtype(d) and not types.is_bool_dtype(d)

        changed = (numeric(fitted) and not numeric(dtype)) or (
            _is_categorical_dtype(fitted) and numeric(dtype)
        )
        if changed:
            raise ValueError(
                f"Column {name!r} has dtype {dtype}, but it had dtype {fitted} in fit."
            )

    def _frame(self, X):
        if not isinstance(X, pd.DataFrame):
            # An array (also after a fit on a DataFrame, as scikit-learn
            # allows with a warning): its columns in the fitted order.
            frame = _as_frame(X)
            check_n_features(frame.shape[1], len(self.columns_), "the model")
            return frame.set_axis(self.columns_, axis=1).infer_objects()
        check_unique_columns(X)
        return X

    def with_support_of(self, X):
        """A copy of the encoder whose numeric supports also hold the values of X.

        For ``partial_fit``: a support that grows beyond ``MAX_SUPPORT``
        values is dropped, for good. The encoder itself is left as it was, so
        a call that fails changes nothing.
        """
        encoder = copy.copy(self)
        encoder.params_ = dict(self.params_)
        frame = self._frame(X)
        for name, params in self.params_.items():
            if params.get("support") is None:
                continue
            values = frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
            values = values[~np.isnan(values)]
            support = np.union1d(params["support"], values)
            n_observed = params["n_observed"] + len(values)
            encoder.params_[name] = {
                **params,
                "support": support if len(support) <= MAX_SUPPORT else None,
                "n_observed": n_observed,
            }
        return encoder

    def _is_numeric(self, name):
        return self.types_[name] in ("continuous", "integer")

    def encode(self, X, dtype=np.float64, handle_unknown=None, handle_departures=None):
        """X (with the fitted columns) in model space, ``(n_samples, layout.width)``.

        Missing entries are NaN. An unknown category raises under
        ``handle_unknown="error"`` and is NaN (missing) under ``"ignore"``;
        another value of a numeric column with a single value in fit (which
        has no model column) raises under ``handle_departures="error"`` and
        is left out under ``"ignore"``. ``None`` is the encoder's own
        ``handle_unknown``. :meth:`unseen_entries` says where such values
        are.
        """
        own = self.handle_unknown
        handle_unknown = handle_unknown or own
        handle_departures = handle_departures or own
        frame = self._frame(X)
        n = len(frame)
        out = np.zeros((n, self.layout_.width), dtype=dtype)
        position = 0
        for name, value in self.constant_.items():
            self._check_dtype(name, frame[name])
            if not self._is_numeric(name):
                self._check_categories(
                    name, frame[name], np.asarray([value], dtype=object), handle_unknown
                )
            elif handle_departures == "error":
                self._check_departures(name, frame[name], value)
        for name in self.model_columns():
            column = frame[name]
            self._check_dtype(name, column)
            # Missing entries stay NaN (a whole one-hot block for a category).
            missing = column.isna().to_numpy()
            kind, params = self.types_[name], self.params_[name]
            if kind in ("continuous", "integer"):
                data = column.to_numpy(dtype=np.float64, na_value=np.nan)
                if np.isinf(data).any():
                    raise ValueError(
                        f"Input X contains infinity or a value too large in column {name!r}."
                    )
                # A value standardised beyond float64's range becomes inf, which
                # the caller's float32 check refuses as "too large".
                with np.errstate(over="ignore"):
                    out[:, position] = (data - params["mean"]) / params["std"]
                position += 1
                continue
            codes = self._check_categories(name, column, params["categories"], handle_unknown)
            # Under handle_unknown="ignore" an unknown category is missing.
            missing = missing | (codes < 0)
            if kind == "binary":
                out[:, position] = np.where(missing, np.nan, codes)
                position += 1
            else:
                width = len(params["categories"])
                rows = np.flatnonzero(~missing)
                out[rows, position + codes[rows]] = 1.0
                out[missing, position : position + width] = np.nan
                position += width
        return out

    def unseen_entries(self, X, categories=True):
        """Where X's observed entries hold values the model never saw.

        ``categories=False`` looks at the numeric columns with a single value
        in fit only (``unknown`` is then all False): under
        ``handle_unknown="error"`` :meth:`encode` has refused any unknown
        category already.

        Returns
        -------
        unknown : ndarray of bool of shape (n_samples, n_features)
            Values of binary and categorical columns that are not among the
            fitted categories (only possible under ``handle_unknown="ignore"``,
            as :meth:`encode` refuses them otherwise), including a value
            other than the one of such a column with a single value in fit.
        departures : ndarray of bool of shape (n_samples, n_features)
            Values of a numeric column with a single value in fit that differ
            from it (beyond a relative 1e-6, float32 rounding): that column is
            a point mass, under which another value has probability 0.
        """
        frame = self._frame(X)
        n = len(frame)
        unknown = np.zeros((n, len(self.columns_)), dtype=bool)
        departures = np.zeros_like(unknown)
        for j, name in enumerate(self.columns_):
            numeric = self._is_numeric(name)
            point_mass = numeric and name in self.constant_
            if not point_mass and (numeric or not categories):
                # A modelled numeric column holds no unseen value; nor, when
                # categories are not looked at, does a categorical one.
                continue
            column = frame[name]
            observed = ~column.isna().to_numpy()
            if not observed.any():
                continue
            if point_mass:
                departures[:, j] = self._departures(column, self.constant_[name])
                continue
            if name in self.constant_:
                known = np.asarray([self.constant_[name]], dtype=object)
            else:
                known = self.params_[name]["categories"]
            codes = pd.Index(known).get_indexer(column.to_numpy(dtype=object))
            unknown[:, j] = observed & (codes < 0)
        return unknown, departures

    @staticmethod
    def _departures(column, value):
        """Where ``column`` holds a value other than ``value`` (to float32 rounding)."""
        data = column.to_numpy(dtype=np.float64, na_value=np.nan)
        close = np.isclose(data, float(value), rtol=1e-6, atol=0.0)
        return ~column.isna().to_numpy() & ~close

    def _check_departures(self, name, column, value):
        departed = self._departures(column, value)
        if departed.any():
            values = pd.unique(column.to_numpy(dtype=object)[departed])
            raise ValueError(
                f"Column {name!r} held the single value {_shown([value])[0]!r} in fit, so it "
                "is left out of the model, which cannot score the other values "
                f"{_shown(values[:10])} it "
                "now holds. Set handle_unknown='ignore' to score them as very unlikely."
            )

    @staticmethod
    def _check_categories(name, column, categories, handle_unknown):
        """The code of each value of ``column`` among ``categories`` (-1 where missing).

        An unknown value raises under ``handle_unknown="error"`` and has the
        code -1 under ``"ignore"``.
        """
        values = column.to_numpy(dtype=object)
        codes = pd.Index(categories).get_indexer(values)
        unknown = (codes < 0) & ~column.isna().to_numpy()
        if unknown.any() and handle_unknown == "error":
            unknown = pd.unique(values[unknown])
            raise ValueError(
                f"Found unknown categories {_shown(unknown[:10])} in column {name!r}; the "
                f"model knows the categories seen when it was first fitted, {_shown(categories)} "
                "(for partial_fit, the first call's: give that chunk a pandas Categorical "
                "column listing every category). Set handle_unknown='ignore' to score "
                "unknown categories as very unlikely instead."
            )
        return codes

    # ------------------------------------------------------------- decoding

    def decode(self, M, on_support=False):
        """Model-space rows (means or draws) as rows of the fitted table.

        Numeric columns are unstandardised, clipped to the range seen in fit
        and rounded to the decimals seen in fit (integer columns to whole
        numbers; a continuous column whose values need more than
        ``MAX_DECIMALS`` decimals is not rounded); binary columns take the value of
        probability ≥ ½; categorical columns the category of highest value.
        With ``on_support`` (generated rows), a numeric column whose values
        repeat (see :func:`repeats`) takes the nearest of them instead (the
        lower one at a tie).
        Returns a DataFrame if the encoder was fitted on one, else an array.
        """
        n = len(M)
        data = {}
        position = 0
        for name in self.model_columns():
            kind, params = self.types_[name], self.params_[name]
            if kind in ("continuous", "integer"):
                values = M[:, position].astype(np.float64) * params["std"] + params["mean"]
                values = np.clip(values, params["low"], params["high"])
                if params["decimals"] is not None:
                    values = np.round(values, params["decimals"])
                support = params.get("support")
                if on_support and repeats(support, params.get("n_observed", 0)):
                    values = nearest_of(support, values)
                data[name] = values
                position += 1
            elif kind == "binary":
                data[name] = params["categories"][(M[:, position] >= 0.5).astype(int)]
                position += 1
            else:
                width = len(params["categories"])
                block = M[:, position : position + width]
                data[name] = params["categories"][np.argmax(block, axis=1)]
                position += width
        for name, value in self.constant_.items():
            data[name] = np.full(n, value, dtype=object)
        frame = pd.DataFrame({name: data[name] for name in self.columns_})
        for name in self.columns_:
            frame[name] = self._restore_dtype(frame[name], self.dtypes_[name])
        if self.is_frame_:
            return frame
        return frame.to_numpy()

    @staticmethod
    def _restore_dtype(series, dtype):
        if isinstance(dtype, pd.CategoricalDtype):
            return pd.Series(pd.Categorical(series, dtype=dtype), name=series.name)
        try:
            return series.astype(dtype)
        except (TypeError, ValueError):
            return series
