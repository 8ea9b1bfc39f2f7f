"""The fill values of missing entries: running means of the observed values."""

import numpy as np

from ..utils._validation import has_nan


def add_observed(counts, sums, X):
    """Add X's observed values to running ``counts`` and ``sums`` (0 to start).

    Returns ``(counts, sums, fill)``: the new counts and sums of the observed
    values of each column, and their means, which fill the missing entries
    (0 for a column with nothing observed yet).
    """
    missing = np.isnan(X) if has_nan(X) else None
    n_observed = len(X) if missing is None else (~missing).sum(axis=0)
    total = (X if missing is None else np.where(missing, 0.0, X)).sum(axis=0, dtype=np.float64)
    counts, sums = counts + n_observed, sums + total
    return counts, sums, sums / np.maximum(counts, 1)
