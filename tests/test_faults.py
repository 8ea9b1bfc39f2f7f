"""Faults: interrupted and failing fits, threads, and the state they leave."""

import os
import signal
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback, EarlyStopping

from skaevae import AutoencoderTransformer, VAETransformer
from tests._testing import THREE_EPOCHS_16_UNITS


class InterruptAt(Callback):
    """Sends the process a real SIGINT (as Ctrl-C does) at the end of epoch ``epoch``."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.epoch:
            os.kill(os.getpid(), signal.SIGINT)


class RaiseAt(Callback):
    def __init__(self, epoch, error):
        self.epoch = epoch
        self.error = error

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.epoch:
            raise self.error


needs_sigint = pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread()
    or not callable(signal.getsignal(signal.SIGINT)),
    reason="needs Python's SIGINT handler in the main thread",
)


@needs_sigint
@pytest.mark.parametrize("Estimator", [AutoencoderTransformer, VAETransformer])
def test_ctrl_c_propagates_out_of_fit(Estimator, small_X):
    est = Estimator(**{**THREE_EPOCHS_16_UNITS, "max_iter": 20}, callbacks=[InterruptAt(3)])
    with pytest.raises(KeyboardInterrupt):
        est.fit(small_X)
    # Interrupted before it was ever fitted: still unfitted, nothing half-built.
    assert not hasattr(est, "net_") and not hasattr(est, "n_features_in_")


@needs_sigint
def test_ctrl_c_in_a_refit_and_partial_fit_keeps_the_model_as_it_was(small_X):
    # The fitted network's callbacks (those of its first fit) interrupt the
    # warm-started fit at its third epoch.
    vae = VAETransformer(
        **{**THREE_EPOCHS_16_UNITS, "max_iter": 20, "kl_warmup": 10}, callbacks=[InterruptAt(23)]
    )
    vae.fit(small_X)
    before = (vae.transform(small_X), vae.n_iter_, list(vae.loss_curve_))
    state = vae.__dict__.copy()
    for call in (
        lambda: vae.set_params(callbacks=[InterruptAt(2)]).fit(small_X),
        lambda: vae.set_params(warm_start=True, kl_warmup=30).fit(small_X),
    ):
        with pytest.raises(KeyboardInterrupt):
            call()
        np.testing.assert_array_equal(vae.transform(small_X), before[0])
        assert (vae.n_iter_, vae.loss_curve_) == before[1:]
        assert vae.net_ is state["net_"]
        # The KL warm-up was cut short; the weight is back at full beta.
        assert vae.net_.criterion_.kl_weight == 1.0


@needs_sigint
def test_ctrl_c_stops_a_grid_search(small_X):
    from sklearn.model_selection import GridSearchCV

    search = GridSearchCV(
        AutoencoderTransformer(**THREE_EPOCHS_16_UNITS, callbacks=[InterruptAt(1)]),
        {"alpha": [0.0, 1e-4]},
        cv=2,
    )
    with pytest.raises(KeyboardInterrupt):
        search.fit(small_X)
    assert not hasattr(search, "best_estimator_")


def test_skorch_early_stopping_still_stops_training(small_X):
    # skorch's callbacks stop training by raising KeyboardInterrupt themselves;
    # that is not Ctrl-C, and the fit ends normally.
    stopper = EarlyStopping(monitor="train_loss", patience=1, threshold=10.0)
    ae = AutoencoderTransformer(
        **{**THREE_EPOCHS_16_UNITS, "max_iter": 50}, callbacks=[stopper]
    ).fit(small_X)
    assert ae.n_iter_ < 50 and len(ae.loss_curve_) == ae.n_iter_


@pytest.mark.parametrize("error", [RuntimeError("callback failed"), KeyError("x")])
def test_a_callback_that_raises_leaves_the_estimator_as_it_was(error, small_X):
    ae = AutoencoderTransformer(**THREE_EPOCHS_16_UNITS).fit(small_X)
    before = ae.transform(small_X)
    with pytest.raises(type(error)):
        ae.set_params(callbacks=[RaiseAt(2, error)]).fit(small_X)
    np.testing.assert_array_equal(ae.transform(small_X), before)
    # A stream whose call fails keeps the state of the last good call.
    stream = AutoencoderTransformer(**THREE_EPOCHS_16_UNITS, callbacks=[RaiseAt(5, error)]).fit(
        small_X
    )
    stream.partial_fit(small_X)
    good = stream.transform(small_X)
    with pytest.raises(type(error)):
        stream.partial_fit(small_X)
    np.testing.assert_array_equal(stream.transform(small_X), good)
    assert stream.n_iter_ == 4 and len(stream.loss_curve_) == 4


def _fit_codes(seed, X):
    Estimator = (AutoencoderTransformer, VAETransformer)[seed % 2]
    est = Estimator(
        **{**THREE_EPOCHS_16_UNITS, "max_iter": 10, "batch_size": 16, "random_state": seed}
    )
    return est.fit(X).transform(X)


def test_fits_in_threads_equal_sequential_fits_and_leave_the_rng_alone(small_X):
    torch.manual_seed(1234)
    caller_state = torch.get_rng_state()
    sequential = [_fit_codes(seed, small_X) for seed in range(6)]
    with ThreadPoolExecutor(3) as pool:
        threaded = list(pool.map(lambda s: _fit_codes(s, small_X), range(6)))
    for a, b in zip(sequential, threaded, strict=True):
        np.testing.assert_array_equal(a, b)
    assert torch.equal(torch.get_rng_state(), caller_state)


def test_a_diverging_fit_names_the_cause_and_the_remedy():
    X = np.random.default_rng(0).normal(size=(100, 4)) * 1e18
    with pytest.raises(ValueError, match="diverged.*StandardScaler.*learning_rate_init"):
        AutoencoderTransformer(**THREE_EPOCHS_16_UNITS).fit(X)


def test_a_resumed_call_failing_after_training_rolls_the_network_back(small_X):
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    ae = AutoencoderTransformer(**THREE_EPOCHS_16_UNITS).fit(small_X)
    before = (ae.transform(small_X), len(ae.net_.history))
    ae.set_params(warm_start=True)
    with warnings.catch_warnings():
        # The convergence warning is raised after the epochs have trained.
        warnings.simplefilter("error", ConvergenceWarning)
        with pytest.raises(ConvergenceWarning):
            ae.fit(small_X)
    np.testing.assert_array_equal(ae.transform(small_X), before[0])
    assert len(ae.net_.history) == before[1] == ae.n_iter_


def test_a_failed_refit_of_the_detector_or_imputer_keeps_the_fitted_model(small_X):
    import pandas as pd

    from skaevae import OutlierDetector, VAEImputer

    detector = OutlierDetector(random_state=0).fit(small_X)
    extreme = small_X[:1].copy()
    extreme[0, 0] = 1e35
    scores = detector.score_samples(small_X)
    bad = small_X.copy()
    bad[0, 0] = 1e200
    with pytest.raises(ValueError, match="too large"):
        detector.fit(bad)
    np.testing.assert_array_equal(detector.score_samples(small_X), scores)
    assert detector.score_samples(extreme)[0] == -np.inf
    holes = small_X[:, :4].copy()
    holes[::3, 0] = np.nan
    imputer = VAEImputer(max_iter=2, random_state=0).fit(holes)
    filled = imputer.transform(holes)
    dated = pd.DataFrame({"a": holes[:, 0], "when": pd.date_range("2020", periods=len(holes))})
    with pytest.raises(ValueError, match="date or time columns"):
        imputer.fit(dated)
    np.testing.assert_array_equal(imputer.transform(holes), filled)


@needs_sigint
def test_a_handler_that_does_not_raise_leaves_early_stopping_alone(small_X):
    # A "graceful stop" handler returns without raising: no KeyboardInterrupt
    # is asked for, and the built-in stopper still ends the fit normally.
    previous = signal.signal(signal.SIGINT, lambda signum, frame: None)
    try:
        ae = AutoencoderTransformer(
            **{**THREE_EPOCHS_16_UNITS, "max_iter": 50},
            learning_rate_init=1e-9,
            n_iter_no_change=3,
            callbacks=[InterruptAt(1)],
        ).fit(small_X)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert ae.n_iter_ < 50
