"""The progress bar of long fits (``progress_bar=True``)."""

import pickle
import sys

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from skaevae import AutoencoderTransformer, ConditionalVAETransformer, VAEImputer, VAETransformer

pytest.importorskip("tqdm")

THREE_EPOCHS = {"max_iter": 3, "random_state": 0, "device": "cpu", "n_iter_no_change": 100}
ESTIMATORS = [AutoencoderTransformer, VAETransformer, ConditionalVAETransformer]


def _data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 4))
    y = (X[:, 0] > 0).astype(int)
    return X, y


def _weights(model):
    return {k: v.detach().numpy().copy() for k, v in model.net_.module_.state_dict().items()}


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_bar_shows_epochs_and_loss(Estimator, capsys):
    X, y = _data()
    Estimator(2, progress_bar=True, **THREE_EPOCHS).fit(X, y)
    captured = capsys.readouterr()
    assert "3/3" in captured.err
    assert "epoch" in captured.err
    assert "train_loss=" in captured.err
    assert captured.out == ""


def test_bar_shows_validation_loss(capsys):
    X, _ = _data()
    VAETransformer(2, progress_bar=True, early_stopping=True, **THREE_EPOCHS).fit(X)
    assert "valid_loss=" in capsys.readouterr().err


def test_no_bar_by_default(capsys):
    X, _ = _data()
    VAETransformer(2, **THREE_EPOCHS).fit(X)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_bar_does_not_change_the_model(Estimator):
    X, y = _data()
    plain = Estimator(2, **THREE_EPOCHS).fit(X, y)
    with_bar = Estimator(2, progress_bar=True, **THREE_EPOCHS).fit(X, y)
    for name, value in _weights(plain).items():
        assert np.array_equal(value, _weights(with_bar)[name])
    assert plain.loss_curve_ == with_bar.loss_curve_
    assert np.array_equal(plain.transform(X), with_bar.transform(X))


def test_bar_can_change_between_partial_fit_calls(capsys):
    X, _ = _data()
    plain = VAETransformer(2, **THREE_EPOCHS)
    switched = VAETransformer(2, **THREE_EPOCHS)
    for _ in range(2):
        plain.partial_fit(X)
    switched.partial_fit(X)
    capsys.readouterr()
    # Not a parameter the network is built from: partial_fit continues.
    switched.set_params(progress_bar=True).partial_fit(X)
    assert "1/1" in capsys.readouterr().err
    switched.set_params(progress_bar=False).partial_fit(X)
    assert capsys.readouterr().err == ""
    plain.partial_fit(X)
    assert np.array_equal(plain.transform(X), switched.transform(X))


def test_warm_start_bar_counts_the_calls_epochs(capsys):
    X, _ = _data()
    model = VAETransformer(2, warm_start=True, **THREE_EPOCHS).fit(X)
    model.set_params(progress_bar=True, max_iter=2).fit(X)
    err = capsys.readouterr().err
    assert "2/2" in err and "3/3" not in err


def test_missing_tqdm_raises_import_error_naming_the_extra(monkeypatch):
    X, _ = _data()
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    model = VAETransformer(2, progress_bar=True, **THREE_EPOCHS)
    with pytest.raises(ImportError, match=r"skaevae\[progress\]"):
        model.fit(X)
    assert not hasattr(model, "net_")
    # Without the bar, tqdm is not needed.
    model.set_params(progress_bar=False).fit(X)


def test_bar_is_not_stored_with_the_model(monkeypatch):
    X, _ = _data()
    model = VAETransformer(2, progress_bar=True, **THREE_EPOCHS).fit(X)
    data = pickle.dumps(model)
    # The model loads and predicts where tqdm is missing.
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    loaded = pickle.loads(data)
    assert loaded.progress_bar is True
    assert np.array_equal(loaded.transform(X), model.transform(X))


def test_bar_survives_skops(tmp_path, capsys):
    sio = pytest.importorskip("skops.io")
    X, _ = _data()
    model = VAETransformer(2, progress_bar=True, **THREE_EPOCHS).fit(X)
    path = tmp_path / "model.skops"
    sio.dump(model, path)
    loaded = sio.load(path, trusted=sio.get_untrusted_types(file=path))
    assert np.array_equal(loaded.transform(X), model.transform(X))
    capsys.readouterr()
    loaded.partial_fit(X)
    assert "1/1" in capsys.readouterr().err


def test_bar_in_clone_and_grid_search(capsys):
    X, _ = _data()
    model = VAETransformer(2, progress_bar=True, **THREE_EPOCHS)
    assert clone(model).get_params()["progress_bar"] is True
    search = GridSearchCV(model, {"n_components": [1, 2]}, cv=2).fit(X)
    assert search.best_estimator_.progress_bar is True
    # Two folds of two candidates and the refit.
    assert capsys.readouterr().err.count("3/3") >= 5


def test_imputer_passes_the_bar_to_its_vae(capsys):
    X, _ = _data()
    X[np.random.default_rng(1).random(X.shape) < 0.1] = np.nan
    plain = VAEImputer(**THREE_EPOCHS).fit_transform(X)
    capsys.readouterr()
    with_bar = VAEImputer(progress_bar=True, **THREE_EPOCHS).fit_transform(X)
    assert "3/3" in capsys.readouterr().err
    assert np.array_equal(plain, with_bar)
