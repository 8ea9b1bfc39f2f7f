"""A large CPU training batch run forward and backward in cache-sized chunks.

Each chunk's activations stay in a core's L2 cache between the forward and
the backward pass; the gradients add up over the chunks, and the optimiser
steps once per batch as before, so the step is the whole batch's.
"""

import torch

# A chunk's widest activation is at most this many bytes (a core's L2 cache
# holds it with room to spare on current x86 CPUs).
CPU_CHUNK_BYTES = 2**20
# Layers wide enough to leave fewer rows than this per chunk keep whole
# batches: the per-chunk overhead would cost more than the cache saves.
MIN_CHUNK_ROWS = 1024


def cache_chunk_rows(module):
    """Rows per cache-sized chunk of a batch for ``module``, or None for whole batches."""
    widest = max(
        (m.out_features for m in module.modules() if isinstance(m, torch.nn.Linear)), default=1
    )
    rows = CPU_CHUNK_BYTES // (4 * widest)
    return rows if rows >= MIN_CHUNK_ROWS else None


def chunked_step(net, batch, chunk, **fit_params):
    """skorch's ``train_step_single`` on ``batch`` in chunks of about ``chunk`` rows.

    The batch's mean loss is the sum of each chunk's mean loss weighted by
    its share of the rows, and backward accumulates the same gradients as
    for the whole batch. Returns skorch's step dictionary (no predictions).
    """
    n_rows = len(batch)
    # Equal chunks, so no chunk is a sliver.
    n_chunks = -(-n_rows // chunk)
    chunk = -(-n_rows // n_chunks)
    total = None
    for start in range(0, n_rows, chunk):
        part = batch[start : start + chunk]
        y_pred = net.infer(part, **fit_params)
        loss = net.get_loss(y_pred, None, X=part, training=True)
        loss = loss * (len(part) / n_rows)
        loss.backward()
        total = loss.detach() if total is None else total + loss.detach()
    return {"loss": total, "y_pred": None}
