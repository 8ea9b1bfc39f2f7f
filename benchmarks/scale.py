"""Past one machine's memory and one process: streaming, partial_fit, Dask.

Protocol (fixed in advance):

* **Table on disk.** 10,000,000 × 64 float32 in a ``.npy`` file (2.4 GiB),
  generated once in chunks of 500,000 rows and cached: a rank-8 signal
  (standard normal factors times fixed normal loadings, seed 0) plus Gaussian
  noise of standard deviation 0.5.
* **Model.** ``AutoencoderTransformer(n_components=8, hidden_layer_sizes=(64,),
  batch_size=256, random_state=0, device="cpu")``.
* **Streaming fit** (``stream``, ``rows``): one epoch of ``partial_fit`` over
  the first N rows, read from the memory map a buffer of 500,000 consecutive
  rows at a time (buffers in random order), each buffer's rows permuted, fed
  in chunks of 100,000. Each configuration runs in a fresh process; memory is
  measured above that process's idle resident set after imports: the peak
  resident set (``VmHWM``, which counts the pages of the memory map read so
  far, file-backed and reclaimable) and the peak private memory (``RssAnon``,
  sampled every 0.1 s). Throughput is rows per second of the
  whole epoch, reading included. The in-memory reference is ``fit`` with
  ``max_iter=1`` on the first 2,000,000 rows loaded into RAM (the load not
  timed). Targets: peak private memory at most 1 GiB above idle for 10M rows;
  streaming throughput at least 0.9 times the in-memory fit's; time linear in
  N (1M, 2M, 5M, 10M; least-squares line and R²).
* **partial_fit against fit** (``partial``): digits (scikit-learn) and
  ADBench cardio, split 80/20 (``train_test_split(random_state=0)``),
  standardised on the training part; 30 epochs: ``fit`` with
  ``max_iter=30, n_iter_no_change=30`` against 30 rounds of ``partial_fit``
  over the training rows (shuffled once, seed 0) in 10 chunks. Held-out
  reconstruction MSE; random_state 0, 1, 2; both estimators with their
  default network. Target: partial_fit within 5% of fit (mean over seeds).
* **Search on a cluster** (``search``): ``GridSearchCV`` of 8 candidates
  (``n_components`` 2, 4, 8, 16 × ``hidden_layer_sizes`` (64,), (128, 64);
  ``max_iter=20``, cv=3) on standardised digits, under
  ``joblib.parallel_backend("dask")`` on a ``LocalCluster`` of 2 worker
  processes × 1 thread, against ``n_jobs=1`` in this process (torch's
  default threads, and 1 thread). Target: at least 1.7 times faster than
  ``n_jobs=1``, with the same ``best_params_`` and scores.
* **Parallel transform** (``transform``): the 10M-row table, codes of the
  model above fitted on its first 100,000 rows (5 epochs); on the cluster, a Dask array
  whose blocks of 500,000 rows each worker reads from the file itself
  (``map_blocks``), encoded and reduced to the column sums of the codes on
  the workers (so the result's transfer is not what is measured); against
  the same loop over the memory map in this process (default threads, and 1
  thread). Target: at least 1.7 times faster than one process.
* Both cluster parts run twice: with Dask's default environment for its
  worker processes, and with glibc's malloc thresholds raised
  (``TUNED_MALLOC``; added after the first run, see the comment there).

``--heavy`` runs the last two parts again with more work per task (fits of
200 epochs; a (512, 512) network for the transform), added after the first
run showed per-task overhead dominating the fits and transforms above; its
results go to ``scale_heavy.*``.

Command::

    python benchmarks/scale.py                      # every part
    python benchmarks/scale.py --parts stream rows  # some parts
    python benchmarks/scale.py --quick              # a smoke test, small sizes

Results: ``benchmarks/results/scale.md``, ``scale.csv`` and ``scale_rows.png``.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
ADBENCH = Path(__file__).resolve().parents[2] / "shared" / "data" / "adbench"
N_FEATURES, RANK, NOISE = 64, 8, 0.5
GEN_ROWS, BUFFER, CHUNK = 500_000, 500_000, 100_000
MODEL = {
    "n_components": 8,
    "hidden_layer_sizes": (64,),
    "batch_size": 256,
    "random_state": 0,
    "device": "cpu",
}


def table_path(cache_dir, n_rows):
    """The cached table of ``n_rows`` rows, written on first use."""
    path = Path(cache_dir) / f"table_{n_rows}x{N_FEATURES}.npy"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    loadings = rng.normal(size=(RANK, N_FEATURES)) / np.sqrt(RANK)
    tmp = path.with_suffix(".tmp.npy")
    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(n_rows, N_FEATURES))
    for start in range(0, n_rows, GEN_ROWS):
        m = min(GEN_ROWS, n_rows - start)
        signal = rng.normal(size=(m, RANK)) @ loadings
        out[start : start + m] = signal + rng.normal(0, NOISE, size=(m, N_FEATURES))
    out.flush()
    del out
    tmp.rename(path)
    return path


def _status(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


class AnonPeak:
    """The peak of the process's private resident memory, sampled every 0.1 s."""

    def __init__(self):
        self.peak = _status("RssAnon")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.wait(0.1):
            self.peak = max(self.peak, _status("RssAnon"))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _status("RssAnon"))


def stream_epoch(model, table, n_rows, rng):
    """One epoch of partial_fit over the first ``n_rows`` rows of ``table``."""
    for start in rng.permutation(np.arange(0, n_rows, BUFFER)):
        buffer = np.asarray(table[start : min(start + BUFFER, n_rows)])
        buffer = buffer[rng.permutation(len(buffer))]
        for i in range(0, len(buffer), CHUNK):
            model.partial_fit(buffer[i : i + CHUNK])
        del buffer


def worker(mode, path, n_rows):
    """Run one streaming or in-memory fit in this (fresh) process; print JSON."""
    import torch

    from skaevae import AutoencoderTransformer

    warnings.simplefilter("ignore")
    table = np.load(path, mmap_mode="r")
    model = AutoencoderTransformer(**MODEL)
    X = np.array(table[:n_rows]) if mode == "memory" else None
    idle_rss, idle_anon = _status("VmRSS"), _status("RssAnon")
    with AnonPeak() as anon:
        start = time.perf_counter()
        if mode == "memory":
            model.set_params(max_iter=1).fit(X)
        else:
            stream_epoch(model, table, n_rows, np.random.default_rng(0))
        seconds = time.perf_counter() - start
    # The resident set's high-water mark of this process (ru_maxrss would
    # carry the parent's over fork and exec).
    peak_rss = _status("VmHWM")
    out = {
        "mode": mode,
        "rows": n_rows,
        "seconds": seconds,
        "rows_per_s": n_rows / seconds,
        "peak_rss_above_idle_mib": (peak_rss - idle_rss) / 2**20,
        "peak_anon_above_idle_mib": (anon.peak - idle_anon) / 2**20,
        "torch_threads": torch.get_num_threads(),
    }
    print(json.dumps(out))


def run_worker(mode, path, n_rows):
    cmd = [sys.executable, __file__, "--worker", mode, str(path), str(n_rows)]
    result = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def part_stream(cache_dir, sizes):
    path = table_path(cache_dir, sizes["table"])
    rows = [run_worker("memory", path, sizes["memory"])]
    rows.append(run_worker("stream", path, sizes["memory"]))
    rows.append(run_worker("stream", path, sizes["table"]))
    return rows


def part_rows(cache_dir, sizes):
    path = table_path(cache_dir, sizes["table"])
    return [run_worker("stream", path, n) for n in sizes["row_counts"]]


def _cardio():
    path = ADBENCH / "6_cardio.npz"
    return np.load(path)["X"] if path.exists() else None


def part_partial(sizes):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    from skaevae import AutoencoderTransformer, VAETransformer

    warnings.simplefilter("ignore")
    data = {"digits": load_digits().data, "cardio": _cardio()}
    epochs = sizes["epochs"]
    rows = []
    for name, X in data.items():
        if X is None:
            print(f"{name}: data not found, skipped")
            continue
        X_train, X_test = train_test_split(X.astype(np.float64), random_state=0, test_size=0.2)
        scaler = StandardScaler().fit(X_train)
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
        chunks = np.array_split(X_train[np.random.default_rng(0).permutation(len(X_train))], 10)
        for cls in (AutoencoderTransformer, VAETransformer):
            for seed in (0, 1, 2):
                params = {"random_state": seed, "device": "cpu", "max_iter": epochs}
                fitted = cls(n_iter_no_change=epochs, **params).fit(X_train)
                streamed = cls(**params)
                for _ in range(epochs):
                    for chunk in chunks:
                        streamed.partial_fit(chunk)
                errors = [
                    float(np.mean((X_test - m.inverse_transform(m.transform(X_test))) ** 2))
                    for m in (fitted, streamed)
                ]
                rows.append(
                    {
                        "dataset": name,
                        "estimator": cls.__name__,
                        "seed": seed,
                        "fit_mse": errors[0],
                        "partial_fit_mse": errors[1],
                    }
                )
    return rows


# Dask starts its worker processes with MALLOC_TRIM_THRESHOLD_=65536, which
# also turns off glibc's adaptive mmap threshold: every batch's buffers are
# then mapped and unmapped afresh. TUNED_MALLOC keeps freed memory for reuse.
TUNED_MALLOC = {"MALLOC_TRIM_THRESHOLD_": 2**30, "MALLOC_MMAP_THRESHOLD_": 2**26}
CLUSTERS = {"cluster": None, "cluster, malloc tuned": TUNED_MALLOC}


def _cluster(environ=None):
    import dask
    from dask.distributed import Client, LocalCluster

    settings = {f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in (environ or {}).items()}
    with dask.config.set(settings):
        cluster = LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        )
    return cluster, Client(cluster)


def part_search(sizes):
    import joblib
    import torch
    from sklearn.datasets import load_digits
    from sklearn.model_selection import GridSearchCV
    from sklearn.preprocessing import StandardScaler

    from skaevae import AutoencoderTransformer

    warnings.simplefilter("ignore")
    X = StandardScaler().fit_transform(load_digits().data)
    grid = {"n_components": [2, 4, 8, 16], "hidden_layer_sizes": [(64,), (128, 64)]}

    def search(n_jobs):
        estimator = AutoencoderTransformer(max_iter=sizes["search_epochs"], random_state=0)
        return GridSearchCV(estimator, grid, cv=3, n_jobs=n_jobs)

    timings, results = {}, {}
    threads = torch.get_num_threads()
    for label, n_threads in (
        ("one process, default threads", threads),
        ("one process, 1 thread", 1),
    ):
        torch.set_num_threads(n_threads)
        start = time.perf_counter()
        results[label] = search(1).fit(X)
        timings[label] = time.perf_counter() - start
    torch.set_num_threads(threads)
    for label, environ in CLUSTERS.items():
        cluster, client = _cluster(environ)
        with cluster, client:
            worker_threads = sorted(client.run(torch.get_num_threads).values())
            with joblib.parallel_backend("dask"):
                search(-1).fit(X[:300])  # workers import torch and skaevae (untimed)
                start = time.perf_counter()
                results[label] = search(-1).fit(X)
            timings[label] = time.perf_counter() - start
    reference = results["one process, default threads"]
    rows = []
    for label, seconds in timings.items():
        same = bool(
            np.array_equal(
                results[label].cv_results_["mean_test_score"],
                reference.cv_results_["mean_test_score"],
            )
        )
        rows.append(
            {
                "run": label,
                "seconds": seconds,
                "speedup_of_tuned_cluster": timings[label] / timings["cluster, malloc tuned"],
                "best_params": str(results[label].best_params_),
                "same_scores_as_default_threads": same,
                "worker_torch_threads": str(worker_threads) if label in CLUSTERS else "",
            }
        )
    return rows


def _encode_block(block_info=None, path=None, model=None, block=None):
    """Column sums of the codes of one block of rows, read from the file by the worker."""
    i = block_info[None]["chunk-location"][0]
    table = np.load(path, mmap_mode="r")
    return model.transform(table[i * block : (i + 1) * block]).sum(axis=0, keepdims=True)


def part_transform(cache_dir, sizes):
    import dask.array as da
    import torch

    from skaevae import AutoencoderTransformer

    warnings.simplefilter("ignore")
    path = table_path(cache_dir, sizes["table"])
    table = np.load(path, mmap_mode="r")
    params = {**MODEL, "hidden_layer_sizes": sizes.get("transform_hidden", (64,))}
    model = AutoencoderTransformer(max_iter=5, **params).fit(np.array(table[:100_000]))
    n = len(table)
    block = sizes["transform_block"]

    def one_process():
        total = np.zeros(MODEL["n_components"])
        for start in range(0, n, block):
            total += model.transform(table[start : start + block]).sum(axis=0)
        return total

    timings, totals = {}, {}
    threads = torch.get_num_threads()
    one_process()  # the file into the page cache, for every run alike (untimed)
    for label, n_threads in (
        ("one process, default threads", threads),
        ("one process, 1 thread", 1),
    ):
        torch.set_num_threads(n_threads)
        start = time.perf_counter()
        totals[label] = one_process()
        timings[label] = time.perf_counter() - start
    torch.set_num_threads(threads)
    n_blocks = -(-n // block)
    for cluster_label, environ in CLUSTERS.items():
        cluster, client = _cluster(environ)
        with cluster, client:
            for label in ("warm-up", cluster_label):
                start = time.perf_counter()
                sums = da.map_blocks(
                    _encode_block,
                    path=str(path),
                    model=model,
                    block=block,
                    chunks=((1,) * n_blocks, (MODEL["n_components"],)),
                    dtype=np.float32,
                )
                totals[label] = sums.sum(axis=0).compute()
                timings[label] = time.perf_counter() - start
    del timings["warm-up"]
    reference = totals["one process, default threads"]
    return [
        {
            "run": label,
            "rows": n,
            "seconds": seconds,
            "rows_per_s": n / seconds,
            "speedup_of_tuned_cluster": seconds / timings["cluster, malloc tuned"],
            "same_sums": bool(np.allclose(totals[label], reference, rtol=1e-4)),
        }
        for label, seconds in timings.items()
    ]


def machine():
    import torch

    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = _status_total()
    return (
        f"{cpu}, {os.cpu_count()} logical CPUs, {mem / 2**30:.0f} GiB RAM, "
        f"{platform.system()} {platform.machine()}, Python {platform.python_version()}, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads by default)"
    )


def _status_total():
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def report(parts, output, command):
    import pandas as pd

    lines = [
        "# Streaming, partial_fit and Dask on one machine",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {machine()}.",
        "Protocol: `benchmarks/scale.py` docstring.",
        "",
    ]
    frames = []
    for name, rows in parts.items():
        frame = pd.DataFrame(rows)
        frames.append(frame.assign(part=name))
        lines += [f"## {name}", "", frame.to_markdown(index=False, floatfmt=".3g"), ""]
        if name == "partial":
            mean = frame.groupby(["dataset", "estimator"])[["fit_mse", "partial_fit_mse"]].mean()
            mean["ratio"] = mean["partial_fit_mse"] / mean["fit_mse"]
            lines += ["Mean over seeds:", "", mean.to_markdown(floatfmt=".3f"), ""]
        if name == "rows":
            x = frame["rows"].to_numpy() / 1e6
            y = frame["seconds"].to_numpy()
            slope, intercept = np.polyfit(x, y, 1)
            r2 = 1 - np.sum((y - (slope * x + intercept)) ** 2) / np.sum((y - y.mean()) ** 2)
            lines += [
                f"Least-squares line: {slope:.2f} s per million rows + {intercept:.2f} s; "
                f"R² = {r2:.4f}.",
                "",
            ]
            _plot_rows(x, y, slope, intercept, output.with_name(output.name + "_rows.png"))
    output.with_suffix(".md").write_text("\n".join(lines))
    pd.concat(frames).to_csv(output.with_suffix(".csv"), index=False)
    print("\n".join(lines))


def _plot_rows(x, y, slope, intercept, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(x, y, "o", label="one epoch of partial_fit, streamed")
    grid = np.linspace(0, x.max(), 50)
    ax.plot(grid, slope * grid + intercept, "-", lw=1, label=f"{slope:.1f} s per million rows")
    ax.set(xlabel="rows (millions)", ylabel="seconds", title="Streaming fit time against rows")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--parts",
        nargs="+",
        default=["stream", "rows", "partial", "search", "transform"],
        choices=["stream", "rows", "partial", "search", "transform"],
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, results to /tmp")
    parser.add_argument(
        "--heavy",
        action="store_true",
        help="search with max_iter=200 and transform with a (512, 512) network",
    )
    parser.add_argument("--cache-dir", default=Path.home() / ".cache" / "skaevae-bench")
    parser.add_argument("--output", default=None, help="prefix of the result files")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        mode, path, n_rows = args.worker
        worker(mode, path, int(n_rows))
        return
    sizes = {
        "table": 10_000_000,
        "memory": 2_000_000,
        "row_counts": [1_000_000, 2_000_000, 5_000_000, 10_000_000],
        "epochs": 30,
        "search_epochs": 20,
        "transform_block": 500_000,
    }
    if args.quick:
        sizes = {
            "table": 1_000_000,
            "memory": 200_000,
            "row_counts": [200_000, 500_000, 1_000_000],
            "epochs": 2,
            "search_epochs": 2,
            "transform_block": 100_000,
        }
    if args.heavy:
        sizes["search_epochs"] = 200
        sizes["transform_hidden"] = (512, 512)
    default_output = Path("/tmp/scale_quick") if args.quick else RESULTS / "scale"
    if args.heavy and not args.quick:
        default_output = RESULTS / "scale_heavy"
    output = Path(args.output) if args.output else default_output
    runners = {
        "stream": lambda: part_stream(args.cache_dir, sizes),
        "rows": lambda: part_rows(args.cache_dir, sizes),
        "partial": lambda: part_partial(sizes),
        "search": lambda: part_search(sizes),
        "transform": lambda: part_transform(args.cache_dir, sizes),
    }
    parts = {}
    for name in args.parts:
        start = time.perf_counter()
        parts[name] = runners[name]()
        print(f"{name}: {time.perf_counter() - start:.0f} s", flush=True)
    report(parts, output, "python benchmarks/scale.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
