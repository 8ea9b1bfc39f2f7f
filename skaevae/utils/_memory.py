"""Rows per chunk of work, from scikit-learn's ``working_memory``.

One rule for every batched pass over X (inference, the PCA start, the code
statistics): a chunk's largest buffer takes at most
``sklearn.get_config()["working_memory"]`` MiB, as scikit-learn's own
``get_chunk_n_rows`` computes it for ``IsolationForest.score_samples``, and for the network's
inference passes also at most ``INFERENCE_BATCH_MIB`` on a CPU, so that one
batch's activations stay in cache, or ``GPU_INFERENCE_FACTOR`` times that on
a GPU, where a larger batch amortises the kernel launches and the copy back
to the host. ``sklearn.set_config(working_memory=...)`` lowers both.
"""

import torch
from sklearn import get_config
from sklearn.utils._chunking import get_chunk_n_rows

INFERENCE_BATCH_MIB = 4
GPU_INFERENCE_FACTOR = 8


def chunk_rows(row_bytes, n_rows):
    """Rows per chunk of a pass whose buffers take ``row_bytes`` bytes a row."""
    return get_chunk_n_rows(row_bytes, max_n_rows=max(n_rows, 1))


def inference_batch_rows(row_bytes, n_rows, device):
    """Rows per inference batch of a network whose activations take ``row_bytes`` a row."""
    budget = INFERENCE_BATCH_MIB
    if torch.device(device).type == "cuda":
        budget *= GPU_INFERENCE_FACTOR
    working_memory = min(get_config()["working_memory"], budget)
    return get_chunk_n_rows(row_bytes, max_n_rows=max(n_rows, 1), working_memory=working_memory)
