"""Are class-conditional samples recognisable? A classifier reads sample(n, y=k).

Protocol (fixed in advance):

- data: scikit-learn's digits (class: the digit; standardised pixels) and two
  mixed-type tables from ``../shared/data/tabular``: ``penguins.csv`` (class:
  ``species``) and ``Hdma.csv`` (class: ``deny``), every other column a
  feature, non-numeric columns categorical;
- split: digits 75/25 with ``train_test_split(..., random_state=0)`` (pixels
  standardised on the training part); the tables as their README's protocol
  splits them (rows capped at 5,000 by ``default_rng(0).permutation``, first
  80% train);
- classifier: ``HistGradientBoostingClassifier(categorical_features=
  "from_dtype", random_state=0)`` trained on the real training rows;
- models, seeds 0, 1, 2, other parameters at their defaults:
  ``ConditionalVAETransformer(n_components=min(8, n_features),
  random_state=s)`` fitted on the training rows and their classes, with the
  plain prior N(0, I) and with ``prior="mixture"`` (a Gaussian mixture per
  class fitted to the codes); and, on the two tables, ``VAETransformer(
  n_components=min(8, n_features), prior="mixture", random_state=s)``, with
  ``beta=1`` (the default) and ``beta=0.3``, fitted on the training rows
  *with* the class as one more column, sampling given its value
  (``sample(n, conditions={target: k})``, class column dropped before the
  classifier reads the rows);
- for each class ``k``, the model draws as many rows as the test part has of
  class ``k`` (``sample(n, y=k, random_state=s)``); the score of class
  ``k`` is the share of those rows the classifier assigns to ``k``, next to
  the share of the real held-out rows of class ``k`` it assigns to ``k``
  (its recall). Target: synthetic within .02 of real on average.

Run from the repository root::

    python benchmarks/conditional.py

Writes ``benchmarks/results/conditional.{csv,md}``.
"""

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import platform  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from skaevae import ConditionalVAETransformer, VAETransformer  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TABULAR = ROOT / ".." / "shared" / "data" / "tabular"
RESULTS = ROOT / "benchmarks" / "results"
SEEDS = (0, 1, 2)


def digits():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def table(name, target):
    df = pd.read_csv(TABULAR / f"{name}.csv")
    for column in df.columns:
        if not pd.api.types.is_numeric_dtype(df[column]) or df[column].dtype == bool:
            df[column] = df[column].astype("category")
    df = df.iloc[np.random.default_rng(0).permutation(len(df))[:5000]].reset_index(drop=True)
    df = df[df[target].notna()]
    n_train = int(0.8 * len(df))
    y = df.pop(target).astype(str).to_numpy()
    return df.iloc[:n_train], df.iloc[n_train:], y[:n_train], y[n_train:]


DATASETS = {
    "digits": digits,
    "penguins (species)": lambda: table("penguins", "species"),
    "Hdma (deny)": lambda: table("Hdma", "deny"),
}


class ConditionalSampler:
    """``ConditionalVAETransformer`` with a prior: ``sample(n, k)`` gives rows of class k."""

    def __init__(self, prior):
        self.prior = prior

    def fit(self, X, y, seed):
        n_components = min(8, X.shape[1])
        self.model = ConditionalVAETransformer(
            n_components=n_components, prior=self.prior, random_state=seed
        ).fit(X, y)
        return self

    def sample(self, n, k, seed):
        return self.model.sample(n, y=k, random_state=seed)


class GivenColumnSampler:
    """``VAETransformer`` fitted with the class as a column; rows sampled given its value."""

    target = "__class__"

    def __init__(self, beta):
        self.beta = beta

    def fit(self, X, y, seed):
        n_components = min(8, X.shape[1])
        self.model = VAETransformer(
            n_components=n_components, beta=self.beta, prior="mixture", random_state=seed
        ).fit(X.assign(**{self.target: pd.Categorical(y)}))
        return self

    def sample(self, n, k, seed):
        rows = self.model.sample(n, random_state=seed, conditions={self.target: k})
        return rows.drop(columns=self.target)


METHODS = {
    "ConditionalVAE, N(0, I)": lambda: ConditionalSampler("normal"),
    "ConditionalVAE, learned prior": lambda: ConditionalSampler("mixture"),
    "VAE given the class column": lambda: GivenColumnSampler(1.0),
    "VAE given the class column, beta=0.3": lambda: GivenColumnSampler(0.3),
}


def main():
    torch.set_num_threads(1)
    warnings.simplefilter("ignore", ConvergenceWarning)
    records = []
    for name, load in DATASETS.items():
        X_train, X_test, y_train, y_test = load()
        classifier = HistGradientBoostingClassifier(
            categorical_features="from_dtype", random_state=0
        ).fit(X_train, y_train)
        real = {k: np.mean(classifier.predict(X_test[y_test == k]) == k) for k in np.unique(y_test)}
        for method, make in METHODS.items():
            if method.startswith("VAE given") and not isinstance(X_train, pd.DataFrame):
                continue
            for seed in SEEDS:
                start = time.process_time()
                sampler = make().fit(X_train, y_train, seed)
                seconds = time.process_time() - start
                for k, recall in real.items():
                    n = int(np.sum(y_test == k))
                    rows = sampler.sample(n, k, seed)
                    synthetic = np.mean(classifier.predict(rows) == k)
                    records.append((name, method, seed, k, n, recall, synthetic, seconds))
                    print(
                        f"{name:20s} {method:30s} seed={seed} class={k!s:5s} "
                        f"real={recall:.3f} synthetic={synthetic:.3f}"
                    )
    results = pd.DataFrame(
        records,
        columns=["dataset", "method", "seed", "class", "n_test", "real", "synthetic", "fit_cpu_s"],
    )
    results.to_csv(RESULTS / "conditional.csv", index=False)
    per_class = results.groupby(["dataset", "method", "class"], sort=False).agg(
        n_test=("n_test", "first"),
        real=("real", "first"),
        synthetic=("synthetic", "mean"),
        synthetic_min=("synthetic", "min"),
    )

    def summarise(d):
        by_class = d.groupby("class")
        met = int((by_class.synthetic.mean() >= by_class.real.first()).sum())
        return pd.Series(
            {
                "real (mean over classes)": by_class.real.first().mean(),
                "synthetic (mean over classes and seeds)": d.synthetic.mean(),
                "synthetic − real": d.synthetic.mean() - by_class.real.first().mean(),
                "classes with synthetic ≥ real (seed mean)": f"{met} of {d['class'].nunique()}",
                "fit CPU s": d.groupby("seed").fit_cpu_s.first().mean(),
            }
        )

    summary = results.groupby(["dataset", "method"], sort=False).apply(
        summarise, include_groups=False
    )
    lines = [
        "# Class-conditional samples read by a classifier trained on real rows",
        "",
        "Command: `python benchmarks/conditional.py`",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs, "
        f"torch {torch.__version__} on 1 thread (CPU), Python {platform.python_version()}.",
        "Protocol: `benchmarks/conditional.py` docstring. *Real*: the share of held-out real "
        "rows of a class that the classifier assigns to it; *synthetic*: the share of "
        "`sample(n, y=k)` rows it assigns to `k` (mean and minimum over 3 seeds).",
        "",
        summary.to_markdown(floatfmt=".3f"),
        "",
        "## Per class",
        "",
        per_class.to_markdown(floatfmt=".3f"),
        "",
    ]
    (RESULTS / "conditional.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
