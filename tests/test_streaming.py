"""The streaming recipe of the user guide's "Large data": tables read from disk in chunks."""

import tracemalloc

import numpy as np
import pytest
import sklearn

from skaevae import AutoencoderTransformer, VAETransformer
from tests._testing import THREE_EPOCHS_16_UNITS


def shuffled_chunks(read, n_rows, chunk_rows, buffer_rows, rng):
    """Chunks of rows ``read(start, stop)`` from disk, shuffled within each buffer.

    The buffers are visited in a random order and their rows permuted; the
    buffer is the only copy of the data in memory (as in the user guide).
    """
    starts = np.arange(0, n_rows, buffer_rows)
    for start in rng.permutation(starts):
        buffer = read(start, min(start + buffer_rows, n_rows))
        buffer = buffer[rng.permutation(len(buffer))]
        for i in range(0, len(buffer), chunk_rows):
            yield buffer[i : i + chunk_rows]


@pytest.fixture(scope="module")
def table_on_disk(tmp_path_factory):
    """A float32 table of 60,000 × 64 in a ``.npy`` file, opened as a read-only memmap."""
    path = tmp_path_factory.mktemp("stream") / "table.npy"
    rng = np.random.default_rng(0)
    loadings = rng.normal(size=(4, 64))
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(60_000, 64))
    for start in range(0, 60_000, 10_000):
        signal = rng.normal(size=(10_000, 4)) @ loadings
        out[start : start + 10_000] = signal + rng.normal(0, 0.5, size=(10_000, 64))
    out.flush()
    del out
    return np.load(path, mmap_mode="r")


def _traced_peak(fn):
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("cls", [AutoencoderTransformer, VAETransformer])
def test_streamed_fit_equals_the_same_calls_in_memory(cls, table_on_disk):
    X = table_on_disk
    streamed = cls(n_components=4, **THREE_EPOCHS_16_UNITS)

    def read(start, stop):
        return np.asarray(X[start:stop])

    for chunk in shuffled_chunks(read, len(X), 5_000, 20_000, np.random.default_rng(0)):
        streamed.partial_fit(chunk)
    assert streamed.n_iter_ == 12
    in_memory = cls(n_components=4, **THREE_EPOCHS_16_UNITS)
    full = np.asarray(X)
    for chunk in shuffled_chunks(
        lambda a, b: full[a:b], len(X), 5_000, 20_000, np.random.default_rng(0)
    ):
        in_memory.partial_fit(chunk)
    np.testing.assert_array_equal(streamed.transform(X[:500]), in_memory.transform(full[:500]))


def test_streaming_holds_one_buffer(table_on_disk):
    X = table_on_disk
    model = AutoencoderTransformer(n_components=4, **THREE_EPOCHS_16_UNITS).partial_fit(
        np.asarray(X[:1000])
    )
    buffer_bytes = 10_000 * 64 * 4

    def one_epoch():
        rng = np.random.default_rng(1)
        for chunk in shuffled_chunks(lambda a, b: X[a:b], len(X), 2_000, 10_000, rng):
            model.partial_fit(chunk)

    # The buffer, its shuffled copy and one chunk's float32 tensor; not the table.
    assert _traced_peak(one_epoch) < 2.5 * buffer_bytes < X.nbytes / 2


@pytest.mark.parametrize("cls", [AutoencoderTransformer, VAETransformer])
def test_inference_over_a_memmap_reads_it_in_batches(cls, table_on_disk):
    X = table_on_disk
    model = cls(n_components=4, **THREE_EPOCHS_16_UNITS).partial_fit(np.asarray(X[:2000]))
    # The whole memmap, or chunk by chunk, as in the guide. Batches are sized
    # by scikit-learn's working_memory (in MiB), whatever the table's size.
    codes = model.transform(X)
    with sklearn.config_context(working_memory=1):
        peak = _traced_peak(lambda: model.score_samples(X))
    assert peak < X.nbytes / 8
    chunked = np.concatenate([model.transform(X[i : i + 7_000]) for i in range(0, len(X), 7_000)])
    np.testing.assert_array_equal(codes, chunked)
    scores = np.concatenate(
        [model.score_samples(X[i : i + 7_000]) for i in range(0, len(X), 7_000)]
    )
    np.testing.assert_array_equal(scores, model.score_samples(X))


def test_parquet_batches_feed_partial_fit(tmp_path, table_on_disk):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    X = np.asarray(table_on_disk[:20_000])
    names = [f"x{j}" for j in range(X.shape[1])]
    path = tmp_path / "table.parquet"
    pq.write_table(pa.table(dict(zip(names, X.T, strict=True))), path, row_group_size=5_000)

    model = VAETransformer(n_components=4, **THREE_EPOCHS_16_UNITS)
    rng = np.random.default_rng(0)
    source = pq.ParquetFile(path)
    for batch in source.iter_batches(batch_size=5_000):
        frame = batch.to_pandas()
        model.partial_fit(frame.iloc[rng.permutation(len(frame))])
    assert model.n_iter_ == 4
    assert list(model.feature_names_in_) == names
    scores = np.concatenate(
        [model.score_samples(b.to_pandas()) for b in source.iter_batches(batch_size=5_000)]
    )
    assert scores.shape == (20_000,) and np.isfinite(scores).all()
