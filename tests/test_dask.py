"""Dask: training on a Dask array, parallel inference and search on a two-worker cluster."""

import os
import warnings

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV
from skorch.callbacks import Callback

from skaevae import AutoencoderTransformer, OutlierDetector, VAETransformer
from tests._testing import SEEDED_16_UNITS

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
dask_ml_wrappers = pytest.importorskip("dask_ml.wrappers")
joblib = pytest.importorskip("joblib")

# Clusters take seconds to start; the tests share one worker of the test run,
# so the module's cluster starts once and no two clusters run at a time.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dask_cluster")]


@pytest.fixture(scope="module")
def client():
    """A local cluster of two single-threaded worker processes, as CI runs them."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        )
    with cluster, distributed.Client(cluster) as client:
        yield client


@pytest.fixture(scope="module")
def X():
    from sklearn.datasets import load_digits
    from sklearn.preprocessing import StandardScaler

    return StandardScaler().fit_transform(load_digits().data[:600]).astype(np.float32)


def test_workers_run_torch_on_their_own_thread(client):
    import torch

    assert set(client.run(torch.get_num_threads).values()) == {1}


@pytest.mark.parametrize("cls", [AutoencoderTransformer, VAETransformer])
def test_incremental_trains_on_a_dask_array(client, X, cls):
    X_dask = da.from_array(X, chunks=(150, X.shape[1]))
    model = dask_ml_wrappers.Incremental(
        cls(n_components=3, **SEEDED_16_UNITS), shuffle_blocks=False
    )
    model.fit(X_dask)
    fitted = model.estimator_
    assert fitted.n_iter_ == 4
    # The same calls in one process give the same model.
    local = cls(n_components=3, **SEEDED_16_UNITS)
    for block in np.array_split(X, 4):
        local.partial_fit(block)
    np.testing.assert_array_equal(fitted.transform(X), local.transform(X))


def test_parallel_inference_equals_one_process(client, X):
    X_dask = da.from_array(X, chunks=(150, X.shape[1]))
    vae = VAETransformer(n_components=3, max_iter=3, **SEEDED_16_UNITS).fit(X)
    wrapped = dask_ml_wrappers.ParallelPostFit(vae)
    np.testing.assert_array_equal(wrapped.transform(X_dask).compute(), vae.transform(X))
    scores = X_dask.map_blocks(vae.score_samples, drop_axis=1, dtype=np.float64)
    np.testing.assert_array_equal(scores.compute(), vae.score_samples(X))

    detector = OutlierDetector(
        AutoencoderTransformer(n_components=3, max_iter=3, **SEEDED_16_UNITS), random_state=0
    ).fit(X)
    labels = dask_ml_wrappers.ParallelPostFit(detector).predict(X_dask).compute()
    np.testing.assert_array_equal(labels, detector.predict(X))


def test_search_on_the_cluster_equals_the_local_search(client, X):
    grid = {"n_components": [2, 4], "hidden_layer_sizes": [(8,), (16,)]}
    estimator = AutoencoderTransformer(max_iter=3, random_state=0, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        local = GridSearchCV(estimator, grid, cv=2, n_jobs=1).fit(X)
        with joblib.parallel_backend("dask"):
            remote = GridSearchCV(estimator, grid, cv=2, n_jobs=-1).fit(X)
    assert remote.best_params_ == local.best_params_
    np.testing.assert_array_equal(
        remote.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"]
    )


class ExitInWorker(Callback):
    """Kill the worker process that trains with it: a worker lost mid-search."""

    def on_train_begin(self, net, **kwargs):
        try:
            distributed.get_worker()
        except ValueError:
            return  # not on a worker
        os._exit(1)


def test_a_worker_lost_mid_search_raises(X):
    # Its own cluster: the workers it kills are not the other tests'. Dask
    # reports a task that kills every worker it runs on as KilledWorker, and
    # joblib's backend a task whose input was on a lost worker as cancelled.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        )
        estimator = AutoencoderTransformer(
            max_iter=2, callbacks=[ExitInWorker()], **SEEDED_16_UNITS
        )
        search = GridSearchCV(estimator, {"n_components": [2, 3]}, cv=2, n_jobs=-1)
        with (
            cluster,
            distributed.Client(cluster),
            joblib.parallel_backend("dask"),
            pytest.raises((distributed.KilledWorker, distributed.client.FutureCancelledError)),
        ):
            search.fit(X)
    assert not hasattr(search, "best_params_")


def test_a_failing_fit_on_the_cluster_names_its_cause(client, X):
    estimator = AutoencoderTransformer(max_iter=2, **SEEDED_16_UNITS)
    X_wide = np.hstack([X, np.full((len(X), 1), np.inf, dtype=np.float32)])
    search = GridSearchCV(estimator, {"n_components": [2, 3]}, cv=2, error_score="raise")
    with (
        joblib.parallel_backend("dask"),
        pytest.raises(ValueError, match="Input X contains infinity"),
    ):
        search.fit(X_wide)
