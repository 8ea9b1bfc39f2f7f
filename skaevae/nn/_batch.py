"""The batch record: what one training or inference step sees (torch only).

skorch hands each step an ``(X, y)`` pair; here ``X`` is a :class:`Batch` and
``y`` is ``None``, since an autoencoder's target is its own input. Modules
take the record (``module(batch)``) and losses compare an output with it
(``loss(output, batch)``), so what a step needs beyond the rows, such as
per-row weights, the mask of observed entries and a conditional model's
condition, travels in one place.
"""

from dataclasses import dataclass

import torch


@dataclass(eq=False)
class Batch:
    """Rows of one step and what comes with them.

    Parameters
    ----------
    x : torch.Tensor of shape (n, n_features)
        The rows.

    weight : torch.Tensor of shape (n,) or None, default=None
        Per-row weights of the training loss, scaled to mean 1 over the
        training data; ``None`` weighs rows equally.

    mask : torch.Tensor of shape (n, n_columns) or None, default=None
        1 where an entry is observed, 0 where it is missing, one entry per
        column of the table (a categorical column's one-hot block is one
        column); the missing entries of ``x`` hold fill values, which the
        likelihood leaves out. ``None``: every entry is observed.

    condition : torch.Tensor of shape (n, n_conditions) or None, default=None
        What a conditional model is told about each row besides ``x`` (the
        one-hot class of a conditional VAE); ``None`` for other models.
    """

    x: torch.Tensor
    weight: torch.Tensor | None = None
    mask: torch.Tensor | None = None
    condition: torch.Tensor | None = None

    def __len__(self):
        return len(self.x)

    def select(self, index):
        """The rows at ``index`` (a tensor of indices), gathered into a new record."""
        # index_select copies whole rows; on a CPU it gathers faster than x[index].
        return Batch(*(None if t is None else t.index_select(0, index) for t in self._fields()))

    def _fields(self):
        return self.x, self.weight, self.mask, self.condition

    def __getitem__(self, rows):
        """The rows in the slice ``rows``, as a new record of views."""
        return Batch(*(None if t is None else t[rows] for t in self._fields()))
