"""Mixed-type tables: column types, and the encoding to and from the model space.

A :class:`TableEncoder` is fitted on a pandas DataFrame (or an array with
``column_types``). It standardises continuous and integer columns, codes
binary columns as 0/1 and categorical columns one-hot, in the order of
:class:`~skaevae.utils._layout.ColumnLayout`, and turns model-space rows back into
a DataFrame with the fitted columns, dtypes and categories. Plain numpy and
pandas; the estimators own one as ``_table``.
"""

import numpy as np
import pandas as pd
from pandas.api import types

from ._layout import ColumnLayout
from ._validation import check_n_features

COLUMN_TYPES = ("continuous", "integer", "binary", "categorical")


def _is_categorical_dtype(dtype):
    return (
        isinstance(dtype, pd.CategoricalDtype)
        or types.is_object_dtype(dtype)
        or (types.is_string_dtype(dtype))
    )


# Most decimals a continuous column's values are rounded to on the way out.
MAX_DECIMALS = 6


def _is_whole(values):
    return bool(np.all(values == np.round(values)))


def decimals_of(values):
    """The fewest decimals (at most ``MAX_DECIMALS``) that write every value exactly, or None."""
    tolerance = 1e-9 * np.maximum(1.0, np.abs(values))
    for decimals in range(MAX_DECIMALS + 1):
        if np.all(np.abs(values - np.round(values, decimals)) <= tolerance):
            return decimals
    return None


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


def _as_frame(X, columns=None):
    if isinstance(X, pd.DataFrame):
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
    """

    def __init__(self, column_types=None):
        self.column_types = column_types

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
            if len(values) == 1:
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
            std = float(np.std(data))
            return {
                "mean": float(np.mean(data)),
                "std": std if std > 0 else 1.0,
                "low": float(data.min()),
                "high": float(data.max()),
                # Continuous values come back with the decimals seen in fit.
                "decimals": decimals_of(data) if kind == "continuous" else 0,
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

        def numeric(d):
            return types.is_numeric_dtype(d) and not types.is_bool_dtype(d)

        changed = (numeric(fitted) and not numeric(dtype)) or (
            _is_categorical_dtype(fitted) and numeric(dtype)
        )
        if changed:
            raise ValueError(
                f"Column {name!r} has dtype {dtype}, but it had dtype {fitted} in fit."
            )

    def encode(self, X, dtype=np.float64):
        """X (with the fitted columns) in model space, ``(n_samples, layout.width)``."""
        if not isinstance(X, pd.DataFrame):
            # An array (also after a fit on a DataFrame, as scikit-learn
            # allows with a warning): its columns in the fitted order.
            frame = _as_frame(X)
            check_n_features(frame.shape[1], len(self.columns_), "the model")
            frame = frame.set_axis(self.columns_, axis=1).infer_objects()
        else:
            frame = X
        n = len(frame)
        out = np.zeros((n, self.layout_.width), dtype=dtype)
        position = 0
        for name, value in self.constant_.items():
            self._check_dtype(name, frame[name])
            self._check_categories(name, frame[name], np.asarray([value], dtype=object))
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
                out[:, position] = (data - params["mean"]) / params["std"]
                position += 1
                continue
            codes = self._check_categories(name, column, params["categories"])
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

    @staticmethod
    def _check_categories(name, column, categories):
        """The code of each value of ``column`` among ``categories`` (-1 where missing)."""
        values = column.to_numpy(dtype=object)
        codes = pd.Index(categories).get_indexer(values)
        unknown = (codes < 0) & ~column.isna().to_numpy()
        if unknown.any():
            unknown = pd.unique(values[unknown])
            raise ValueError(
                f"Found unknown categories {list(unknown)[:10]} in column {name!r}; the "
                f"model knows the categories seen when it was first fitted, {list(categories)} "
                "(for partial_fit, the first call's: give that chunk a pandas Categorical "
                "column listing every category)."
            )
        return codes

    # ------------------------------------------------------------- decoding

    def decode(self, M):
        """Model-space rows (means or draws) as rows of the fitted table.

        Numeric columns are unstandardised, clipped to the range seen in fit
        and rounded to the decimals seen in fit (integer columns to whole
        numbers; a continuous column whose values need more than
        ``MAX_DECIMALS`` decimals is not rounded); binary columns take the value of
        probability ≥ ½; categorical columns the category of highest value.
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
