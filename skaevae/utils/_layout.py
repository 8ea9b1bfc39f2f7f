"""Where each kind of column sits in a mixed table's model space (plain Python).

The model space of a mixed table is one float matrix whose columns come in
four groups, in this order: continuous columns (standardised), integer
columns (standardised), binary columns (0 or 1), and one one-hot block per
categorical column. :class:`ColumnLayout` names the groups' sizes; the torch
code (likelihoods, losses) and the table encoder both read it, so they agree
on where a column is.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class ColumnLayout:
    """Sizes of the four column groups of a model space.

    Parameters
    ----------
    n_continuous : int
        Continuous columns, one model column each.

    integer_bounds : tuple of (float, float, float)
        For each integer column, in model units: the lowest and highest
        value seen in training, and half the distance between two
        consecutive integers.

    n_binary : int
        Binary columns, one model column each.

    categories : tuple of int
        Number of categories of each categorical column; each takes that
        many model columns (one-hot).
    """

    n_continuous: int = 0
    integer_bounds: tuple = ()
    n_binary: int = 0
    categories: tuple = ()

    @property
    def n_integer(self):
        return len(self.integer_bounds)

    @property
    def n_numeric(self):
        """Continuous and integer columns, which come first."""
        return self.n_continuous + self.n_integer

    @property
    def width(self):
        """Columns of the model space."""
        return self.n_numeric + self.n_binary + sum(self.categories)

    @property
    def n_columns(self):
        """Columns of the table the model space encodes."""
        return self.n_numeric + self.n_binary + len(self.categories)

    def category_slices(self):
        """The model columns of each categorical column, as ``slice`` objects."""
        start = self.n_numeric + self.n_binary
        slices = []
        for n in self.categories:
            slices.append(slice(start, start + n))
            start += n
        return slices

    def column_starts(self):
        """The first model column of each table column, ``n_columns`` indices."""
        starts = list(range(self.n_numeric + self.n_binary))
        return starts + [s.start for s in self.category_slices()]

    def model_columns(self):
        """The table column of each model column, ``width`` indices."""
        columns = list(range(self.n_numeric + self.n_binary))
        for i, n in enumerate(self.categories):
            columns += [self.n_numeric + self.n_binary + i] * n
        return columns
