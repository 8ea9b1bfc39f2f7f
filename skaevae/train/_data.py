"""The data path of training: rows held on the device, batches by slicing (torch only).

skorch's stock data path fetches and collates one row at a time, which costs
about as much as a whole training step of these small networks. Here the
data is one :class:`~skaevae.nn._batch.Batch` of device tensors
(:class:`TensorData`), moved to the device once per fit, and each training
batch gathers the rows of one slice of a fresh permutation
(:class:`TensorBatchIterator`), with no ``DataLoader`` and no collate.
"""

import warnings

import numpy as np
import torch

from ..nn._batch import Batch
from ..utils._validation import as_float32_tensor, has_nan


class TensorData(torch.utils.data.Dataset):
    """The training rows, as one :class:`~skaevae.nn._batch.Batch` of tensors.

    skorch passes a ``Dataset`` through untouched, so the tensors stay on
    their device for the whole fit. ``__getitem__`` exists for code that
    expects a map-style dataset; the training path never calls it.
    """

    def __init__(self, batch):
        self.batch = batch

    def __len__(self):
        return len(self.batch)

    def __getitem__(self, i):
        return self.batch[i : i + 1], None

    def subset(self, index):
        """The rows at ``index`` (a tensor of indices) as a new ``TensorData``."""
        return TensorData(self.batch.select(index))


class TensorBatchIterator:
    """Iterate over the batches of a :class:`TensorData` by slicing.

    Each item is skorch's ``(X, y)`` pair: ``X`` a :class:`~skaevae.nn._batch.Batch`,
    ``y`` None (an autoencoder's target is its input). With ``shuffle=True`` a
    new permutation is drawn at each pass, on the data's device and from
    torch's (forked, seeded) default generator.
    """

    def __init__(self, dataset, batch_size, shuffle=False):
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle

    def __len__(self):
        return -(-len(self.dataset) // self.batch_size)

    def __iter__(self):
        data = self.dataset.batch
        n = len(data)
        if self.shuffle:
            order = torch.randperm(n, device=data.x.device)
            for start in range(0, n, self.batch_size):
                yield data.select(order[start : start + self.batch_size]), None
        else:
            for start in range(0, n, self.batch_size):
                yield data[start : start + self.batch_size], None


def split_rows(n, fraction, seed):
    """``(train, valid)``: CPU index tensors of a random split of ``n`` rows.

    ``round(fraction * n)`` rows are held out, at least one and at most
    ``n - 1``. The permutation comes from a local generator seeded with
    ``seed``, so the split is reproducible and leaves global RNG state alone.
    """
    n_valid = min(max(1, int(round(fraction * n))), n - 1)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return order[n_valid:], order[:n_valid]


class RandomSplit:
    """skorch ``train_split``: hold out a random ``fraction`` of the rows (:func:`split_rows`)."""

    def __init__(self, fraction, seed):
        self.fraction = fraction
        self.seed = seed

    def __call__(self, dataset, y=None, **kwargs):
        train, valid = split_rows(len(dataset), self.fraction, self.seed)
        device = dataset.batch.x.device
        train, valid = dataset.subset(train.to(device)), dataset.subset(valid.to(device))
        weight = valid.batch.weight
        if weight is not None and not bool((weight > 0).any()):
            # A weighted validation loss of rows that all weigh 0 is 0 at every
            # epoch: it could never tell better parameters from worse.
            warnings.warn(
                "early_stopping=True: every row held out for validation has "
                "sample_weight 0, so the weighted validation loss would be 0 at every "
                "epoch; it counts those rows with equal weights instead.",
                UserWarning,
                stacklevel=2,
            )
            valid.batch.weight = None
        return train, valid


def training_batch(X, weight, device, fill, column_starts=None):
    """The training rows as one :class:`~skaevae.nn._batch.Batch` on ``device``.

    Rows without holes travel as they are (a float32 X without a copy on the
    CPU). With holes, the missing entries are filled with ``fill`` and the
    batch carries the mask of observed entries, one per table column
    (``column_starts`` of a mixed table's model space, else one per column).
    """
    if not has_nan(X):
        return Batch(as_float32_tensor(X).to(device), weight)
    missing = np.isnan(X)
    x = np.where(missing, fill, X).astype(np.float32)
    if column_starts is not None:
        missing = missing[:, column_starts]
    mask = torch.from_numpy((~missing).astype(np.float32))
    return Batch(torch.from_numpy(x).to(device), weight, mask.to(device))
