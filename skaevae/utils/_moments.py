"""Running mean and covariance of rows seen in chunks (numpy, float64)."""

import numpy as np


class RunningMoments:
    """Mean and covariance of all the rows passed to :meth:`update` so far.

    The sums are kept around a shift, the mean of the first chunk, so that
    the one-pass formula stays accurate when the mean is far from zero (as
    :class:`~sklearn.decomposition.IncrementalPCA` keeps running statistics
    for ``partial_fit``).
    """

    def __init__(self, n_features):
        self.n_samples_seen = 0
        self.shift = None
        self.total = np.zeros(n_features)
        self.outer = np.zeros((n_features, n_features))

    def update(self, Z):
        """Add the rows of ``Z`` (float64, modified in place) to the sums."""
        if self.shift is None:
            self.shift = Z.mean(axis=0)
        Z -= self.shift
        self.n_samples_seen += len(Z)
        self.total += Z.sum(axis=0)
        self.outer += Z.T @ Z
        return self

    @classmethod
    def from_state(cls, state):
        """The moments whose ``vars()`` were ``state``."""
        moments = cls.__new__(cls)
        vars(moments).update(state)
        return moments

    @property
    def mean(self):
        return self.shift + self.total / self.n_samples_seen

    @property
    def covariance(self):
        """The unbiased covariance (``n - 1`` in the denominator)."""
        n = self.n_samples_seen
        mean = self.total / n
        return (self.outer - n * np.outer(mean, mean)) / (n - 1)
