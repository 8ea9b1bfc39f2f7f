"""Two checkouts of skaevae side by side: the same results, and how fast.

Runs each measurement in a fresh process per checkout (``PYTHONPATH`` set to
the checkout, run from it), alternating between them, on one torch thread:

- the default autoencoder and VAE fitted on the digits split of ``python -m skaevae``:
  are their trained parameters equal bit for bit (the VAE's last decoder layer
  and output scale are matched by shape, since their names moved);
- ``transform`` of 200,000 x 64 rows against a plain no-grad encode of the
  same network in 8192-row slices (median of 15 interleaved repeats);
- ``VAETransformer.score_samples`` of 20,000 x 64 rows (median of 5 calls),
  and whether the scores are equal bit for bit.

Run from the repository root, with another checkout (e.g. ``git worktree add
/tmp/before 4d87b9e``)::

    python benchmarks/compare_checkouts.py /tmp/before . --processes 2

``benchmarks/fingerprints.py``, run in each checkout, checks that the
benchmarks' own results (detector scores, imputations, synthetic rows) are
unchanged bit for bit.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, sys, time, warnings
import numpy as np, torch
warnings.simplefilter("ignore")
torch.set_num_threads(1)
from skaevae import AutoencoderTransformer, VAETransformer
from skaevae.__main__ import load_split

task, out = sys.argv[1], sys.argv[2]
if task == "params":
    X = load_split(0)[0]
    params = {}
    for name, cls in [("ae", AutoencoderTransformer), ("vae", VAETransformer)]:
        est = cls(n_components=8, random_state=0, device="cpu").fit(X)
        params[name] = [v.numpy() for v in est.net_.module_.state_dict().values()]
    np.savez(out, **{f"{k}_{i}": v for k, vs in params.items() for i, v in enumerate(vs)})
elif task == "transform":
    X = np.random.default_rng(0).standard_normal((200_000, 64)).astype(np.float32)
    est = AutoencoderTransformer(n_components=8, max_iter=1, random_state=0, device="cpu")
    est.fit(X[:20_000])
    encoder = est.net_.module_.encoder

    def plain():
        with torch.no_grad():
            x = torch.from_numpy(X)
            return [encoder(x[i : i + 8192]) for i in range(0, len(X), 8192)]

    ours, raw = [], []
    for _ in range(15):
        t = time.perf_counter(); est.transform(X); ours.append(time.perf_counter() - t)
        t = time.perf_counter(); plain(); raw.append(time.perf_counter() - t)
    ratio = float(np.median(np.array(raw) / np.array(ours)))
    json.dump({"transform_ms": 1e3 * float(np.median(ours)), "ratio": ratio}, open(out, "w"))
elif task == "vae_score":
    X = np.random.default_rng(0).standard_normal((20_000, 64)).astype(np.float32)
    vae = VAETransformer(n_components=8, max_iter=1, random_state=0, device="cpu")
    vae.fit(X[:2000])
    vae.score_samples(X[:1000])
    times = []
    for _ in range(5):
        t = time.perf_counter()
        scores = vae.score_samples(X)
        times.append(time.perf_counter() - t)
    np.save(out, scores)
    json.dump({"seconds": float(np.median(times))}, open(out + ".json", "w"))
"""


def run(checkout, task, out):
    # Run in the checkout, whose own skaevae then comes first on sys.path.
    checkout = Path(checkout).resolve()
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    subprocess.run([sys.executable, "-c", CHILD, task, out], env=env, cwd=checkout, check=True)


def same_params(a, b):
    import numpy as np

    # Compared as sets of arrays per model: some parameters moved to other
    # names (and places in the state dict) between layouts.
    def groups(path):
        archive, out = np.load(path), {}
        for key in archive.files:
            value = archive[key]
            out.setdefault(key.split("_")[0], set()).add((value.shape, value.tobytes()))
        return out

    ga, gb = groups(a), groups(b)
    return {model: ga[model] == gb.get(model) for model in ga}


def main():
    import numpy as np

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", help="path of the first checkout")
    parser.add_argument("after", help="path of the second checkout")
    parser.add_argument("--processes", type=int, default=2, help="processes per checkout")
    args = parser.parse_args()
    checkouts = {"before": args.before, "after": args.after}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, path in checkouts.items():
            run(path, "params", str(tmp / f"{name}_params.npz"))
        paths = [tmp / f"{name}_params.npz" for name in checkouts]
        print("parameters equal bit for bit:", same_params(*paths))
        for task in ("transform", "vae_score"):
            for i in range(args.processes):
                for name, path in checkouts.items():
                    out = tmp / f"{name}_{task}_{i}"
                    run(path, task, str(out) + (".json" if task == "transform" else ".npy"))
            for name in checkouts:
                if task == "transform":
                    rows = [
                        json.loads((tmp / f"{name}_{task}_{i}.json").read_text())
                        for i in range(args.processes)
                    ]
                    times = ", ".join(f"{r['transform_ms']:.1f} ms" for r in rows)
                    ratios = ", ".join(f"{r['ratio']:.2f}" for r in rows)
                    print(f"{name}: transform {times}; ratio to the plain encode {ratios}")
                else:
                    rows = [
                        json.loads((tmp / f"{name}_{task}_{i}.npy.json").read_text())
                        for i in range(args.processes)
                    ]
                    times = ", ".join(f"{r['seconds']:.2f} s" for r in rows)
                    print(f"{name}: VAE score_samples {times}")
            if task == "vae_score":
                a, b = (np.load(tmp / f"{n}_vae_score_0.npy") for n in checkouts)
                print("VAE scores equal bit for bit:", bool(np.array_equal(a, b)))


if __name__ == "__main__":
    main()
