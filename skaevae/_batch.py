"""The batch record: what one training or inference step sees (torch only).

skorch hands each step an ``(X, y)`` pair; here ``X`` is a :class:`Batch` and
``y`` is ``None``, since an autoencoder's target is its own input. Modules
take the record (``module(batch)``) and losses compare an output with it
(``loss(output, batch)``), so what a step needs beyond the rows, such as
per-row weights, travels in one place. A new per-row quantity (a missing-value
mask, a condition) is one more field here.
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
    """

    x: torch.Tensor
    weight: torch.Tensor | None = None

    def __len__(self):
        return len(self.x)

    def select(self, index):
        """The rows at ``index`` (a tensor of indices), gathered into a new record."""
        # index_select copies whole rows; on a CPU it gathers faster than x[index].
        return Batch(
            self.x.index_select(0, index),
            None if self.weight is None else self.weight.index_select(0, index),
        )

    def __getitem__(self, rows):
        """The rows in the slice ``rows``, as a new record of views."""
        return Batch(self.x[rows], None if self.weight is None else self.weight[rows])
