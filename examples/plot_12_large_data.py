"""
==========================================================
Tables larger than memory: streaming, Dask, search
==========================================================

A model can learn from a table that does not fit in memory by seeing it one
chunk at a time: :meth:`~skaevae.VAETransformer.partial_fit` trains for one
pass over the rows it is given and carries the network, the optimiser state
and the fitted statistics over to the next call. This example writes a table
to disk, streams it into a VAE in shuffled chunks, encodes it chunk by
chunk, then runs the same model on a Dask array. A grid search on a Dask
cluster is the next example.

The table here is small enough to run in the documentation build (54,000
rows: scikit-learn's handwritten digits, each repeated 30 times with a little
noise), but nothing below holds more than one buffer of it in memory.
"""

# %%
# A table on disk
# ---------------
# A ``.npy`` file opened as a memory map: slicing it reads those rows only.
import tempfile
from pathlib import Path

import dask.array as da
import matplotlib.pyplot as plt
import numpy as np
from dask_ml.wrappers import Incremental, ParallelPostFit
from sklearn.datasets import load_digits
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skaevae import OutlierDetector, VAETransformer

digits = load_digits().data.astype(np.float32)
n_rows = 30 * len(digits)
path = Path(tempfile.mkdtemp()) / "table.npy"
table = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n_rows, 64))
rng = np.random.default_rng(0)
for i in range(30):
    rows = slice(i * len(digits), (i + 1) * len(digits))
    table[rows] = digits + rng.normal(0, 0.5, size=digits.shape)
table.flush()
table = np.load(path, mmap_mode="r")
print(f"{table.shape[0]:,} rows x {table.shape[1]} columns, {table.nbytes / 2**20:.1f} MiB on disk")

# %%
# Stream it into the model
# ------------------------
# One buffer of rows is read at a time, its rows are shuffled, and it is fed
# to the model in chunks. A first pass fits the scaler the same way
# (``StandardScaler.partial_fit``). Each ``partial_fit`` call is one epoch of
# the rows it is given, so three passes over the buffers here are 3 × 27
# calls; the KL warm-up of the VAE counts calls, and is set to span the
# first pass.
CHUNK, BUFFER = 2_000, 10_000


def shuffled_chunks(source, rng):
    """Chunks of ``source``'s rows, buffer by buffer in random order, shuffled within."""
    for start in rng.permutation(np.arange(0, len(source), BUFFER)):
        buffer = np.asarray(source[start : start + BUFFER])
        buffer = buffer[rng.permutation(len(buffer))]
        for i in range(0, len(buffer), CHUNK):
            yield buffer[i : i + CHUNK]


scaler = StandardScaler()
for start in range(0, len(table), BUFFER):
    scaler.partial_fit(table[start : start + BUFFER])

calls_per_pass = sum(-(-min(BUFFER, len(table) - s) // CHUNK) for s in range(0, len(table), BUFFER))
vae = VAETransformer(n_components=8, kl_warmup=calls_per_pass, random_state=0)
rng = np.random.default_rng(0)
for _ in range(3):
    for chunk in shuffled_chunks(table, rng):
        vae.partial_fit(scaler.transform(chunk))
print(f"{vae.n_iter_} partial_fit calls")

fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(np.arange(1, vae.n_iter_ + 1), vae.loss_curve_)
for epoch in range(1, 3):
    ax.axvline(epoch * calls_per_pass + 0.5, color="grey", lw=0.5)
ax.set(xlabel="partial_fit call", ylabel="training loss (negative ELBO)")
ax.set_title("Three passes over the table, chunk by chunk")
fig.tight_layout()

# %%
# Encode it chunk by chunk
# ------------------------
# ``transform`` and ``score_samples`` read their input in batches (sized by
# scikit-learn's ``working_memory``), so a memory map can be passed whole;
# here the codes are written into another file on disk, chunk by chunk.
codes = np.lib.format.open_memmap(
    path.with_name("codes.npy"), mode="w+", dtype=np.float32, shape=(n_rows, 8)
)
for start in range(0, len(table), BUFFER):
    codes[start : start + BUFFER] = vae.transform(scaler.transform(table[start : start + BUFFER]))
codes.flush()
print("codes of the first rows:\n", np.round(codes[:3, :4], 2))

# %%
# The same model on a Dask array
# ------------------------------
# dask-ml's ``Incremental`` calls ``partial_fit`` on each block of a Dask
# array in turn (in a random order of the blocks, each epoch), and
# ``ParallelPostFit`` (or ``map_blocks``) runs ``transform``,
# ``score_samples`` or an :class:`~skaevae.OutlierDetector`'s ``predict`` on
# the blocks in parallel. Without a ``Client`` they run on Dask's local
# threads; with one, on its cluster's workers.
X_dask = da.from_array(table, chunks=(CHUNK, 64))
X_scaled = X_dask.map_blocks(scaler.transform, dtype=np.float32)
model = Incremental(VAETransformer(n_components=8, random_state=0), random_state=0)
model.fit(X_scaled)
print(f"Incremental: {model.estimator_.n_iter_} calls, one per block")

pipeline = make_pipeline(scaler, vae)
# map_blocks with the output's block shapes, so the Dask array's shape is right.
codes_dask = X_dask.map_blocks(
    pipeline.transform, chunks=(X_dask.chunks[0], (8,)), dtype=np.float32
)
scores = X_dask.map_blocks(pipeline.score_samples, drop_axis=1, dtype=np.float64)
means = codes_dask.mean(axis=0).compute()
print("codes:", codes_dask.shape, "mean of each code:", np.round(means, 2))
print(f"Mean log-likelihood of the rows: {scores.mean().compute():.1f}")

# %%
# An outlier detector's labels, block by block, with ``ParallelPostFit``.
detector = OutlierDetector(random_state=0)
detector.fit(scaler.transform(table[:BUFFER]))
labels = ParallelPostFit(make_pipeline(scaler, detector)).predict(X_dask)
print(f"Rows flagged as outliers: {(labels == -1).mean().compute():.1%}")
