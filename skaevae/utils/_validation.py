"""Input and output checks, and seeds drawn the scikit-learn way."""

from numbers import Integral

import numpy as np
import torch
from sklearn import get_config
from sklearn.utils import check_random_state
from sklearn.utils.validation import _check_sample_weight


def draw_seed(random_state):
    """One int32 seed for torch, drawn from ``random_state`` the sklearn way."""
    return int(local_random_state(random_state).randint(np.iinfo(np.int32).max))


def check_sample_weight(sample_weight, X):
    """Validated non-negative float64 weights with a positive sum, or ``None``."""
    if sample_weight is None:
        return None
    sample_weight = _check_sample_weight(
        sample_weight, X, dtype=np.float64, ensure_non_negative=True
    )
    if not sample_weight.sum() > 0:
        raise ValueError("sample_weight must have a positive sum.")
    return sample_weight


def local_random_state(random_state):
    """A ``RandomState`` for ``random_state`` that never draws from numpy's global RNG.

    ``None`` gives a generator seeded from fresh OS entropy, rather than
    sklearn's usual global singleton, so that sampling leaves ``np.random``'s
    state untouched.
    """
    if random_state is None:
        return np.random.RandomState(np.random.SeedSequence().generate_state(1)[0])
    return check_random_state(random_state)


_FLOAT32_MAX = float(np.finfo(np.float32).max)


def check_float32_range(X):
    """Raise sklearn's error for finite values that overflow float32, the compute dtype.

    NaN (a missing entry) passes.
    """
    if X.dtype == np.float64 and X.size and (np.abs(X) > _FLOAT32_MAX).any():
        raise ValueError("Input X contains infinity or a value too large for dtype('float32').")
    return X


def check_observed_columns(X, feature_names=None):
    """Raise when a column of X (with NaN for missing entries) has no observed value."""
    empty = np.flatnonzero(np.isnan(X).all(axis=0)) if len(X) else []
    if len(empty):
        names = [feature_names[j] for j in empty] if feature_names is not None else empty.tolist()
        raise ValueError(
            f"Columns {names[:10]} of X have no observed value (only NaN): drop them before "
            "fitting."
        )


def has_nan(X):
    """Whether float array X holds a NaN, in one pass and without a mask of X's size.

    X's other values are finite, so its sum is NaN only if X holds one (an
    overflowing sum is infinite, not NaN, unless it overflows both ways,
    which the exact check then settles).
    """
    if not X.size:
        return False
    total = X.sum(dtype=np.float64)
    return not np.isfinite(total) and bool(np.isnan(X).any())


def column_means(X, missing):
    """The mean of each column of X over its observed (non-missing) entries."""
    counts = (~missing).sum(axis=0)
    sums = np.where(missing, 0.0, X).sum(axis=0, dtype=np.float64)
    return sums / np.maximum(counts, 1)


def check_finite_output(out, method, allow_inf=False, table=False):
    """Raise instead of returning NaN (or inf) produced by the network.

    ``table``: the model reads a mixed table, which it standardises itself,
    so the advice is about the values rather than their scaling.
    """
    bad = np.isnan(out) if allow_inf else ~np.isfinite(out)
    if bad.any():
        n_rows = int(bad.reshape(len(bad), -1).any(axis=1).sum())
        if table:
            advice = (
                "numeric values too far outside the range of the training data for the "
                "fitted network (check their units, or drop or clip such rows)"
            )
            if get_config()["assume_finite"]:
                advice = (
                    "NaN or infinite (unchecked under scikit-learn's assume_finite=True), or "
                    + advice
                )
            cause = f"their input values are {advice}."
        elif get_config()["assume_finite"]:
            cause = (
                "their input values are NaN or infinite (unchecked under scikit-learn's "
                "assume_finite=True), or too large for the fitted network (standardise X "
                "the same way as the training data)."
            )
        else:
            cause = (
                "their input values are too large for the fitted network. Standardise X "
                "the same way as the training data."
            )
        raise ValueError(f"{method} produced non-finite values for {n_rows} rows: {cause}")
    return out


def _is_float32_tensor_ready(X):
    # torch.from_numpy shares memory with X only for a writable float32
    # C-contiguous array; read-only arrays would need a copy (torch warns).
    return X.dtype == np.float32 and X.flags.c_contiguous and X.flags.writeable


def as_float32_tensor(X):
    """``X`` as a float32 CPU tensor, sharing its memory when it already is float32."""
    if _is_float32_tensor_ready(X):
        return torch.from_numpy(X)
    return torch.from_numpy(np.array(X, dtype=np.float32, order="C"))


def check_callbacks(callbacks):
    """``callbacks`` as a list of skorch ``Callback`` objects or ``(name, Callback)`` pairs."""
    from skorch.callbacks import Callback

    callbacks = list(callbacks or [])
    for item in callbacks:
        callback = item[1] if isinstance(item, tuple) and len(item) == 2 else item
        named_ok = not isinstance(item, tuple) or isinstance(item[0], str)
        if not (isinstance(callback, Callback) and named_ok):
            raise TypeError(
                "callbacks must be skorch Callback instances or (name, Callback) pairs; "
                f"got {item!r}."
            )
    return callbacks


def check_no_datetimes(X):
    """Raise a ValueError naming the date or time columns of X.

    The models read numbers, booleans and categories. numpy's own error for
    a datetime column is a type-promotion error that names no column, and a
    column of date objects would otherwise be read as categories.
    """
    import datetime

    import pandas as pd

    dtype = getattr(X, "dtype", None)
    if dtype is not None and getattr(dtype, "kind", None) in ("M", "m"):
        raise ValueError(
            "X holds dates or times, which the model cannot read: convert them to "
            "numbers (e.g. days since a reference date) first."
        )
    dtypes = getattr(X, "dtypes", None)
    if dtypes is None or not hasattr(dtypes, "items"):
        return
    temporal = (datetime.date, datetime.time, datetime.timedelta, np.datetime64, np.timedelta64)
    bad = []
    for name, column_dtype in dtypes.items():
        if (
            pd.api.types.is_datetime64_any_dtype(column_dtype)
            or pd.api.types.is_timedelta64_dtype(column_dtype)
            or isinstance(column_dtype, pd.PeriodDtype)
        ):
            bad.append(str(name))
        elif pd.api.types.is_object_dtype(column_dtype):
            # The first observed value tells (no copy of the column).
            values = X[name].to_numpy()
            observed = pd.notna(values)
            if observed.any() and isinstance(values[observed.argmax()], temporal):
                bad.append(str(name))
    if bad:
        raise ValueError(
            f"X has date or time columns ({', '.join(bad)}), which the model cannot read: "
            "convert them to numbers (e.g. days since a reference date, or the year "
            "and month as separate columns) or drop them."
        )


def check_n_features(n_features, expected, who, what="features"):
    """Raise scikit-learn's error when X has ``n_features`` columns where ``expected`` are fitted.

    ``who`` names the estimator (and method) in the message, ``what`` the
    kind of column, e.g. ``"features (n_components)"`` for latent codes.
    """
    if n_features != expected:
        raise ValueError(
            f"X has {n_features} features, but {who} is expecting {expected} {what} as input."
        )


def check_positive_count(value, name):
    """scikit-learn's error for a count that is not a positive integer (booleans are not counts)."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
