"""
=====================================
A grid search on a Dask cluster
=====================================

scikit-learn's searches run their fits through joblib; under
``joblib.parallel_backend("dask")`` each fit is a task on a Dask cluster's
workers, here a local cluster of two worker processes with one thread each.
Each worker's torch uses one thread too (Dask sets ``OMP_NUM_THREADS`` for
its worker processes), so the two fits in flight do not compete for cores.
The fits are seeded, so the search on the cluster finds the same scores as
on one process; on a real cluster only the ``Client``'s address changes.
"""

import warnings

import joblib
import matplotlib.pyplot as plt
import numpy as np
from dask.distributed import Client, LocalCluster
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import StandardScaler

from skaevae import VAETransformer

# Ten epochs per fit keep the example short (in this process and the workers).
warnings.filterwarnings("ignore", category=ConvergenceWarning)

X = StandardScaler().fit_transform(load_digits().data)
grid = {"n_components": [2, 8], "beta": [0.5, 1.0]}


def search():
    return GridSearchCV(VAETransformer(max_iter=10, random_state=0), grid, cv=3, n_jobs=-1)


# Worker processes import this script; only the main process runs the search.
if __name__ == "__main__":
    with LocalCluster(n_workers=2, threads_per_worker=1) as cluster, Client(cluster) as client:
        import torch

        print("torch threads per worker:", sorted(client.run(torch.get_num_threads).values()))
        with joblib.parallel_backend("dask"):
            on_cluster = search().fit(X)

    local = search().set_params(n_jobs=1).fit(X)
    print("best parameters:", on_cluster.best_params_, local.best_params_)
    same = np.array_equal(
        on_cluster.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"]
    )
    print("same mean test scores:", same)

    # Each candidate's mean held-out log-likelihood, on the cluster and in one
    # process: the points coincide.
    candidates = [f"{p['n_components']}, {p['beta']:g}" for p in local.cv_results_["params"]]
    fig, ax = plt.subplots(figsize=(5, 3.5), layout="constrained")
    ax.plot(candidates, local.cv_results_["mean_test_score"], "o", ms=10, label="one process")
    ax.plot(candidates, on_cluster.cv_results_["mean_test_score"], "x", ms=10, label="cluster")
    ax.set_xlabel("n_components, beta")
    ax.set_ylabel("mean held-out log-likelihood")
    ax.legend()
    plt.show()
