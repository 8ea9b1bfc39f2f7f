"""Fingerprints of benchmark results that a change meant to keep behaviour must leave alone.

Hashes, bit for bit, what the benchmarks compute with skaevae's defaults:
the default detectors' scores ("skaevae AE" and "skaevae VAE" of
``anomaly_adbench.py``) on every ADBench data set for seeds 0-2, with their
ROC-AUC; ``VAEImputer``'s output on the first three data sets of
``imputation.py`` at both missing rates and seeds 0-2, with its RMSE; and
the synthetic rows of ``VAETransformer`` on the first three tables of
``synthetic_tabular.py``, with its held-out log-likelihood. Run it with each
checkout first on the path and compare the two files::

    PYTHONPATH=/tmp/before python benchmarks/fingerprints.py /tmp/before before.json
    PYTHONPATH=. python benchmarks/fingerprints.py . after.json
    diff before.json after.json

Fits are reproducible on one machine; compare fingerprints made on the same
one. It takes a few minutes on one thread.
"""

import hashlib
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler


def digest(values):
    """The first 12 hex digits of the SHA-1 of ``values`` as float64 bytes."""
    values = np.ascontiguousarray(np.asarray(values, dtype=np.float64))
    return hashlib.sha1(values.tobytes()).hexdigest()[:12]


def detector_fingerprints(ab):
    out = {}
    for path in sorted(ab.DATA.glob("*.npz")):
        data = np.load(path)
        X, y = StandardScaler().fit_transform(data["X"]), data["y"]
        for seed in range(3):
            for name in ("skaevae AE", "skaevae VAE"):
                scores = ab.methods(False)[name](seed)(X)
                auc = round(roc_auc_score(y, scores), 6)
                out[f"adbench/{path.stem}/{name}/{seed}"] = [digest(scores), auc]
    return out


def imputation_fingerprints(im):
    out = {}
    for name in im.DATASETS[:3]:
        X = im.load(name)
        for p in im.RATES:
            for seed in im.SEEDS:
                mask = im.mcar_mask(X.shape, p, seed)
                filled = im.METHODS["VAEImputer"](seed).fit_transform(np.where(mask, np.nan, X))
                rmse = round(float(np.sqrt(np.mean((filled[mask] - X[mask]) ** 2))), 6)
                out[f"impute/{name}/{p}/{seed}"] = [digest(filled), rmse]
    return out


def synthetic_fingerprints(st):
    out = {}
    for table in st.TABLES[:3]:
        train, test = st.split(pd.read_csv(st.DATA / f"{table}.csv"))
        synthetic, log_likelihood = st.FIT["skaevae"](train, test)
        rows = pd.util.hash_pandas_object(synthetic, index=False).to_numpy()
        out[f"synthetic/{table}"] = [
            hashlib.sha1(rows.tobytes()).hexdigest()[:12],
            round(log_likelihood(), 6),
        ]
    return out


def main():
    checkout, output = Path(sys.argv[1]), sys.argv[2]
    warnings.simplefilter("ignore")
    torch.set_num_threads(1)
    # The benchmark scripts of the checkout, imported as modules.
    sys.path.insert(0, str(checkout / "benchmarks"))
    import anomaly_adbench
    import imputation
    import synthetic_tabular

    fingerprints = {
        **detector_fingerprints(anomaly_adbench),
        **imputation_fingerprints(imputation),
        **synthetic_fingerprints(synthetic_tabular),
    }
    Path(output).write_text(json.dumps(fingerprints, indent=0, sort_keys=True))
    print(f"{len(fingerprints)} fingerprints written to {output}")


if __name__ == "__main__":
    main()
