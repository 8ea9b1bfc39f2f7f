"""Behaviour shared by both estimators: the sklearn API users rely on."""

import io
import pickle
import re
from contextlib import redirect_stdout

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import sklearn
import torch
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from skorch.callbacks import Callback
from skorch.exceptions import DeviceWarning

from skaevae import AutoencoderTransformer, VAETransformer
from skaevae.utils._memory import inference_batch_rows

from .conftest import FAST


def outputs(est, X):
    """Everything a fitted estimator computes from X, for equality checks."""
    Z = est.transform(X)
    return {
        "transform": Z,
        "inverse_transform": est.inverse_transform(Z),
        "score_samples": est.score_samples(X),
        "sample": est.sample(5, random_state=0),
    }


def assert_same_outputs(a, b):
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


# ----------------------------------------------------------- shapes and names


def test_shapes_dtypes_and_feature_names(fast_estimator, small_X):
    est = fast_estimator
    Z = est.fit_transform(small_X)
    assert Z.shape == (200, 2) and Z.dtype == np.float64
    assert est.transform(small_X.astype(np.float32)).dtype == np.float32
    assert est.inverse_transform(Z).shape == small_X.shape
    assert est.score_samples(small_X).shape == (200,)
    assert isinstance(est.score(small_X), float)
    assert est.sample(7, random_state=0).shape == (7, 64)
    prefix = type(est).__name__.lower()
    assert list(est.get_feature_names_out()) == [f"{prefix}0", f"{prefix}1"]
    assert est.n_features_in_ == 64 and est.n_iter_ == len(est.loss_curve_) >= 1


def test_pandas_in_and_out(fast_estimator, small_X):
    columns = [f"pixel_{i}" for i in range(small_X.shape[1])]
    df = pd.DataFrame(small_X, columns=columns)
    est = fast_estimator.set_output(transform="pandas")
    out = est.fit_transform(df)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == list(est.get_feature_names_out())
    assert list(est.feature_names_in_) == columns
    np.testing.assert_array_equal(est.transform(df).to_numpy(), out.to_numpy())
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        est.transform(small_X)


def test_transform_is_batched_without_changing_results(small_X):
    # More rows than one inference batch: results equal row-by-row slices.
    est = AutoencoderTransformer(n_components=2, **FAST).fit(small_X)
    batch = inference_batch_rows(est._activation_bytes(), 10**9, "cpu")
    X = np.tile(small_X, (batch // len(small_X) + 2, 1))
    Z = est.transform(X)
    np.testing.assert_allclose(Z[: len(small_X)], est.transform(small_X), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(Z[-len(small_X) :], est.transform(small_X), rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------ reproducibility


def test_random_state_makes_fits_identical(fast_estimator, small_X):
    a = clone(fast_estimator).fit(small_X)
    b = clone(fast_estimator).fit(small_X)
    assert_same_outputs(outputs(a, small_X), outputs(b, small_X))
    c = clone(fast_estimator).set_params(random_state=1).fit(small_X)
    assert not np.array_equal(a.transform(small_X), c.transform(small_X))


@pytest.mark.parametrize("random_state", [0, None])
def test_global_rng_state_is_untouched(fast_estimator, small_X, random_state):
    est = fast_estimator.set_params(random_state=random_state)
    np.random.seed(123)
    torch.manual_seed(123)
    numpy_state = np.random.get_state()[1].copy()
    torch_state = torch.get_rng_state().clone()
    est.fit(small_X)
    est.transform(small_X)
    est.score_samples(small_X)
    est.sample(3, random_state=random_state)
    np.testing.assert_array_equal(np.random.get_state()[1], numpy_state)
    assert torch.equal(torch.get_rng_state(), torch_state)


def test_pickle_round_trip_gives_identical_outputs(fast_estimator, small_X):
    est = fast_estimator.fit(small_X)
    restored = pickle.loads(pickle.dumps(est))
    assert_same_outputs(outputs(est, small_X), outputs(restored, small_X))


def test_model_fitted_for_cuda_unpickles_on_cpu_only_machine(fast_estimator, small_X):
    # Simulates a GPU fit: the pickled net says device="cuda". On a machine
    # without CUDA, skorch maps it to the CPU and inference follows the net.
    est = fast_estimator.fit(small_X)
    expected = outputs(est, small_X)
    est.set_params(device="cuda")
    est.net_.device = "cuda"
    payload = pickle.dumps(est)
    if torch.cuda.is_available():
        pytest.skip("CUDA is available: the device would not be remapped")
    with pytest.warns(DeviceWarning) as record:
        restored = pickle.loads(payload)
    assert any("no CUDA devices are available" in str(w.message) for w in record)
    assert str(restored.net_.device) == "cpu"
    assert_same_outputs(expected, outputs(restored, small_X))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_fit_then_cpu_inference(small_X):
    for cls in (AutoencoderTransformer, VAETransformer):
        est = cls(
            n_components=2, hidden_layer_sizes=(16,), max_iter=3, device="cuda", random_state=0
        ).fit(small_X)
        restored = pickle.loads(pickle.dumps(est))
        assert np.isfinite(restored.transform(small_X)).all()


# ----------------------------------------------------------- sklearn tooling


def test_pipeline_column_transformer_and_clone(small_X):
    df = pd.DataFrame(small_X[:, :10], columns=[f"f{i}" for i in range(10)])
    df["other"] = np.arange(len(df), dtype=float)
    ct = ColumnTransformer(
        [("vae", VAETransformer(n_components=3, **FAST), [f"f{i}" for i in range(10)])],
        remainder="passthrough",
    ).set_output(transform="pandas")
    out = ct.fit_transform(df)
    assert list(out.columns) == [
        "vae__vaetransformer0",
        "vae__vaetransformer1",
        "vae__vaetransformer2",
        "remainder__other",
    ]
    pipe = make_pipeline(StandardScaler(), AutoencoderTransformer(n_components=2, **FAST))
    cloned = clone(pipe)
    assert cloned.get_params()["autoencodertransformer__n_components"] == 2
    assert not hasattr(cloned[-1], "net_")
    assert pipe.fit_transform(small_X).shape == (200, 2)


def test_grid_search_over_pipeline_in_parallel():
    X, y = load_digits(return_X_y=True)
    X, y = X[:300], y[:300]
    pipe = Pipeline(
        [
            ("scale", StandardScaler()),
            (
                "vae",
                VAETransformer(hidden_layer_sizes=(32,), max_iter=30, random_state=0, device="cpu"),
            ),
            ("clf", LogisticRegression(max_iter=200)),
        ]
    )
    search = GridSearchCV(
        pipe, {"vae__n_components": [2, 8], "vae__beta": [0.5, 1.0]}, cv=2, n_jobs=2
    ).fit(X, y)
    assert set(search.best_params_) == {"vae__n_components", "vae__beta"}
    assert search.best_score_ > 0.5  # ten classes: chance is 0.1


def test_grid_search_without_scorer_uses_log_likelihood(small_X):
    search = GridSearchCV(VAETransformer(**FAST), {"n_components": [1, 4]}, cv=2).fit(small_X)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_user_callbacks_fire(small_X):
    class Counter(Callback):
        def initialize(self):
            self.epochs, self.batches = 0, 0
            return self

        def on_epoch_end(self, net, **kwargs):
            self.epochs += 1

        def on_batch_end(self, net, **kwargs):
            self.batches += 1

    counter = Counter()
    est = AutoencoderTransformer(**{**FAST, "batch_size": 50}, callbacks=[counter]).fit(small_X)
    fitted_counter = dict(est.net_.callbacks_)["Counter"]
    assert fitted_counter.epochs == est.n_iter_ == 3
    assert fitted_counter.batches == 3 * 4


# ------------------------------------------------------- training behaviour


def test_no_validation_split_unless_early_stopping(small_X):
    est = AutoencoderTransformer(**FAST).fit(small_X)
    assert est.net_.train_split is None
    assert est.validation_loss_curve_ is None and est.best_loss_ == min(est.loss_curve_)
    assert "valid_loss" not in est.net_.history[-1]


def test_early_stopping_holds_out_and_stops(small_X):
    est = VAETransformer(
        n_components=2,
        hidden_layer_sizes=(16,),
        early_stopping=True,
        n_iter_no_change=2,
        tol=1e6,
        kl_warmup=0,
        max_iter=50,
        random_state=0,
        device="cpu",
    ).fit(small_X)
    # tol is so large that no epoch counts as an improvement after the first,
    # so the first epoch's parameters are restored and reported.
    assert est.n_iter_ == 3
    assert len(est.validation_loss_curve_) == est.n_iter_
    assert est.best_validation_loss_ == est.validation_loss_curve_[0]


def test_convergence_warning_when_max_iter_is_reached(small_X):
    with pytest.warns(ConvergenceWarning, match=r"maximum iterations \(3\)"):
        AutoencoderTransformer(**FAST).fit(small_X)


def test_sample_weight(small_X):
    est = AutoencoderTransformer(**FAST)
    np.testing.assert_array_equal(
        clone(est).fit(small_X).transform(small_X),
        clone(est).fit(small_X, sample_weight=np.ones(len(small_X))).transform(small_X),
    )
    with pytest.raises(ValueError, match="Negative values in data passed to `?sample_weight"):
        clone(est).fit(small_X, sample_weight=-np.ones(len(small_X)))


@pytest.mark.parametrize("verbose", [0, 1])
def test_verbose_prints_per_epoch_progress(small_X, verbose):
    est = VAETransformer(
        n_components=2,
        hidden_layer_sizes=(16,),
        max_iter=3,
        early_stopping=True,
        random_state=0,
        device="cpu",
        verbose=verbose,
    )
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        est.fit(small_X)
    text = buffer.getvalue()
    # Without verbose no log is even formatted (it would cost a table per epoch).
    assert ("print_log" in dict(est.net_.callbacks_)) == bool(verbose)
    if verbose:
        for column in ("epoch", "train_loss", "valid_loss", "dur"):
            assert column in text
        assert len(re.findall(r"^\s+[123]\s", text, flags=re.MULTILINE)) == 3
    else:
        assert text == ""


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "X, error, match",
    [
        (np.array([[1.0, np.nan], [2.0, np.nan], [0.0, np.nan]]), ValueError, "no observed"),
        (
            np.array([[1.0, np.inf], [2.0, 3.0], [0.0, 1.0]]),
            ValueError,
            "Input X contains infinity",
        ),
        (np.array([[1e39, 1.0], [2.0, 3.0], [0.0, 1.0]]), ValueError, "too large for dtype"),
        (np.array([["a", "b"], ["c", "d"], ["e", "f"]], dtype=object), ValueError, "string"),
        (np.array([[1 + 1j, 2], [3, 4], [0, 1]]), ValueError, "Complex data not supported"),
        (np.empty((0, 3)), ValueError, "0 sample"),
        (np.array([[1.0, 2.0]]), ValueError, "1 sample"),
        (sp.csr_matrix(np.eye(3)), TypeError, "dense data is required"),
    ],
    ids=[
        "empty-column",
        "inf",
        "float32-overflow",
        "strings",
        "complex",
        "empty",
        "one-row",
        "sparse",
    ],
)
def test_bad_training_input(fast_estimator, X, error, match):
    fast_estimator.set_params(n_components=1)
    with pytest.raises(error, match=match):
        fast_estimator.fit(X)


def test_bad_input_after_fit(fast_estimator, small_X):
    est = fast_estimator.fit(small_X)
    with pytest.raises(ValueError, match="X has 3 features, but .* is expecting 64 features"):
        est.transform(small_X[:, :3])
    with pytest.raises(ValueError, match="Input X contains infinity"):
        est.score_samples(np.full((2, 64), np.inf))
    with pytest.raises(ValueError, match="expecting 2 features \\(n_components\\)"):
        est.inverse_transform(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="n_samples must be a positive integer"):
        est.sample(0)


def test_n_components_larger_than_features(fast_estimator):
    X = np.random.RandomState(0).normal(size=(20, 3))
    with pytest.raises(ValueError, match="n_components=5 must be between 1 and n_features=3"):
        fast_estimator.set_params(n_components=5).fit(X)


def test_invalid_parameters_are_reported_at_fit(fast_estimator, small_X):
    with pytest.raises(ValueError, match="'activation' parameter"):
        fast_estimator.set_params(activation="swish").fit(small_X)
    with pytest.raises(ValueError, match="hidden_layer_sizes must contain positive integers"):
        fast_estimator.set_params(activation="relu", hidden_layer_sizes=(8, 0)).fit(small_X)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available")
def test_cuda_request_without_cuda(fast_estimator, small_X):
    with pytest.raises(ValueError, match="CUDA is not available"):
        fast_estimator.set_params(device="cuda").fit(small_X)


def test_diverging_run_is_an_error_not_nan_output(fast_estimator, small_X):
    fast_estimator.set_params(learning_rate_init=1e8, max_iter=20)
    with pytest.raises(ValueError, match="non-finite .* training diverged"):
        fast_estimator.fit(small_X)


def test_inf_under_assume_finite_with_pca_init_is_an_error_naming_it(fast_estimator, small_X):
    # The PCA start meets an unchecked infinity before training does:
    # sklearn's words, not eigh's LinAlgError (float64 X is still checked for
    # float32 overflow). NaN is a missing entry, which the PCA start fills.
    X = small_X.copy()
    X[3, 1] = np.inf
    message = "infinity or a value too large"
    with sklearn.config_context(assume_finite=True):
        with pytest.raises(ValueError, match=message):
            fast_estimator.set_params(init="pca").fit(X)


def test_extreme_input_after_fit_is_an_error_not_nan_output(fast_estimator, small_X):
    # Codes at the edge of float32's range overflow in the decoder.
    est = fast_estimator.set_params(hidden_layer_sizes=(), activation="identity").fit(small_X)
    with pytest.raises(ValueError, match="inverse_transform produced non-finite values"):
        est.inverse_transform(np.full((2, 2), 3e38))


def test_training_never_fetches_single_rows(small_X, monkeypatch):
    # The data path slices one device tensor; a per-row __getitem__ (skorch's
    # stock Dataset + DataLoader path) would be an order of magnitude slower.
    from skaevae.train import _data as _training

    def fail(self, i):
        raise AssertionError("per-row __getitem__ called during training")

    monkeypatch.setattr(_training.TensorData, "__getitem__", fail)
    est = VAETransformer(**{**FAST, "early_stopping": True}).fit(small_X)
    assert est.n_iter_ == 3


def test_sample_weight_focuses_the_fit_and_tolerates_zero_weight_batches():
    # Two kinds of rows (digits 0 and 1). Weight only the zeros: the model must
    # reconstruct them better than an unweighted one does, even though most
    # batches of the shuffled data are mostly (or wholly) weight-zero rows.
    X, y = load_digits(return_X_y=True)
    mask = np.isin(y, [0, 1])
    X = StandardScaler().fit_transform(X[mask])
    zeros = y[mask] == 0
    weights = np.where(zeros, 1.0, 0.0)
    weights[np.flatnonzero(zeros)[20:]] = 0.0  # 20 weighted rows among ~360
    params = {**FAST, "hidden_layer_sizes": (32,), "max_iter": 40, "batch_size": 16}
    weighted = AutoencoderTransformer(n_components=2, **params).fit(X, sample_weight=weights)
    plain = AutoencoderTransformer(n_components=2, **params).fit(X)
    focus = weights > 0
    assert np.isfinite(weighted.loss_curve_).all()
    assert -weighted.score(X[focus]) < -plain.score(X[focus])


def test_invalid_device_string_is_a_clear_error(fast_estimator, small_X):
    with pytest.raises(ValueError, match="device='gpu' is not a device the models can train"):
        fast_estimator.set_params(device="gpu").fit(small_X)
    # A valid torch device that holds no data to train on, and one not here.
    with pytest.raises(ValueError, match="device='meta' is not a device the models"):
        fast_estimator.set_params(device="meta").fit(small_X)
    if not torch.backends.mps.is_available():
        with pytest.raises(ValueError, match="MPS is not available"):
            fast_estimator.set_params(device="mps").fit(small_X)


@pytest.mark.parametrize("shape", [(30, 80), (200, 10)], ids=["wide", "tall"])
def test_principal_axes_match_pca(shape):
    # The covariance path (tall X) and the SVD path (wide X) both give PCA's
    # components and (biased) variances, with weights acting as repeated rows.
    from sklearn.decomposition import PCA

    from skaevae.utils._pca import principal_axes

    rng = np.random.RandomState(0)
    n, d = shape
    X = rng.normal(size=(n, d)) @ rng.normal(size=(d, d))
    weight = rng.randint(0, 3, size=n).astype(float)
    mean, variances, components = principal_axes(X, weight)
    repeated = np.repeat(X, weight.astype(int), axis=0)
    pca = PCA().fit(repeated)
    # Compare the directions that carry variance: the rank of the centred rows.
    r = min(int((weight > 0).sum()), d) - 1
    signs = np.sign((components[:r] * pca.components_[:r]).sum(axis=1))
    np.testing.assert_allclose(components[:r] * signs[:, None], pca.components_[:r], atol=1e-8)
    biased = pca.explained_variance_[:r] * (len(repeated) - 1) / len(repeated)
    np.testing.assert_allclose(variances[:r], biased, rtol=1e-8)
    np.testing.assert_allclose(mean, pca.mean_)


def test_pca_init_with_more_components_than_rows():
    from skaevae import AutoencoderTransformer, VAETransformer

    X = np.random.RandomState(0).normal(size=(5, 12))
    for cls in (AutoencoderTransformer, VAETransformer):
        model = cls(n_components=8, init="pca", max_iter=2, random_state=0).fit(X)
        assert np.isfinite(model.transform(X)).all()


@pytest.mark.parametrize("cls", [AutoencoderTransformer, VAETransformer])
@pytest.mark.parametrize("weighted", [False, True])
def test_pca_init_with_early_stopping_weighs_only_the_training_rows(cls, weighted, monkeypatch):
    # The validation rows are held out of the PCA start as well (weight 0,
    # so X is not copied), so the validation loss that early stopping
    # watches is of rows the model has not seen in any way.
    from skaevae.models import _pca_start as _base
    from skaevae.train import _data

    seen, split = [], []
    principal_axes = _base.principal_axes

    def spy_pca(X, sample_weight=None, **kwargs):
        seen.append((X, None if sample_weight is None else sample_weight.copy()))
        return principal_axes(X, sample_weight, **kwargs)

    random_split = _data.RandomSplit.__call__

    def spy_split(self, dataset, y=None, **kwargs):
        train, valid = random_split(self, dataset, y, **kwargs)
        split.append((train, valid))
        return train, valid

    monkeypatch.setattr(_base, "principal_axes", spy_pca)
    monkeypatch.setattr(_data.RandomSplit, "__call__", spy_split)
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 5))  # distinct first columns identify the rows
    weight = rng.uniform(0.5, 2.0, size=60) if weighted else None
    cls(
        n_components=2,
        init="pca",
        early_stopping=True,
        validation_fraction=0.2,
        max_iter=2,
        random_state=0,
    ).fit(X, sample_weight=weight)
    ((pca_X, pca_weight),) = seen
    train, valid = split[0]
    train, valid = train.batch, valid.batch
    assert pca_X is X and len(train.x) == 48 and len(valid.x) == 12

    def rows_of(x):  # the rows of X in a split, in the split's order
        first = X[:, 0].astype(np.float32)
        return np.array([np.flatnonzero(first == v)[0] for v in x[:, 0].numpy()])

    # PCA weighs exactly the rows skorch trains on, with their weights.
    rows = rows_of(train.x)
    np.testing.assert_array_equal(np.flatnonzero(pca_weight > 0), np.sort(rows))
    assert (pca_weight[rows_of(valid.x)] == 0).all()
    if weighted:
        ratio = pca_weight[rows] / weight[rows]  # the fit's weights, scaled by one constant
        np.testing.assert_allclose(ratio, ratio[0], rtol=1e-12)
        np.testing.assert_allclose(train.weight.numpy() / weight[rows], ratio[0], rtol=1e-6)


@pytest.mark.parametrize("cls", [AutoencoderTransformer, VAETransformer])
def test_pca_init_with_early_stopping_and_all_weight_on_validation_rows(cls):
    # Training rows without weight: the PCA start falls back to all rows.
    from skaevae.train._data import split_rows
    from skaevae.utils._validation import draw_seed

    X = np.random.RandomState(0).normal(size=(10, 4))
    weight = np.zeros(10)
    weight[split_rows(10, 0.1, draw_seed(0))[1].numpy()] = 1.0
    model = cls(n_components=2, init="pca", early_stopping=True, max_iter=2, random_state=0).fit(
        X, sample_weight=weight
    )
    assert np.isfinite(model.transform(X)).all()


# ------------------------------------------------------------ incremental fits


@pytest.mark.parametrize("cls", [AutoencoderTransformer, VAETransformer])
def test_incremental_fit_continues_the_network(cls, small_X):
    # _fit(incremental=True) is MLPRegressor.partial_fit's step: one epoch of
    # the fitted network on new rows; a plain fit starts again.
    est = cls(n_components=2, **FAST, early_stopping=True)
    est._fit(small_X[:50], incremental=True)
    net, first = est.net_, [p.detach().clone() for p in est.net_.module_.parameters()]
    assert est.n_iter_ == 1 and net.batch_size == 50
    est._fit(small_X[50:], incremental=True)
    assert est.net_ is net and est.n_iter_ == 2 and len(est.loss_curve_) == 2
    # Each pass trains on all its rows (no validation split) in batches of its size.
    assert net.history[-1, "train_batch_count"] == 1 and net.batch_size == 150
    assert est.validation_loss_curve_ is None
    assert any(not torch.equal(a, b) for a, b in zip(first, net.module_.parameters(), strict=True))
    with pytest.raises(ValueError, match="features"):
        est._fit(small_X[:, :10], incremental=True)
    est.fit(small_X)
    assert est.net_ is not net and est.n_iter_ == FAST["max_iter"]


def test_incremental_fits_keep_running_moments_of_the_codes(small_X):
    # The code mean and covariance cover every row seen, each encoded by the
    # network of the pass that saw it, as IncrementalPCA's running statistics.
    est = AutoencoderTransformer(n_components=2, **FAST)
    est._fit(small_X[:120], incremental=True)
    Z_first = est.transform(small_X[:120])
    est._fit(small_X[120:], incremental=True)
    Z = np.vstack([Z_first, est.transform(small_X[120:])])
    np.testing.assert_allclose(est.latent_mean_, Z.mean(axis=0), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(est.latent_covariance_, np.cov(Z.T), rtol=1e-8, atol=1e-12)


def test_counts_are_not_booleans_and_callbacks_are_callbacks(fast_estimator, small_X):
    from sklearn.utils._param_validation import InvalidParameterError

    for name in ("n_components", "hidden_layer_sizes", "max_iter", "batch_size"):
        with pytest.raises(InvalidParameterError, match=f"'{name}' parameter"):
            clone(fast_estimator).set_params(**{name: True}).fit(small_X)
    with pytest.raises(ValueError, match="positive integers"):
        clone(fast_estimator).set_params(hidden_layer_sizes=[8, True]).fit(small_X)
    fitted = clone(fast_estimator).fit(small_X)
    with pytest.raises(ValueError, match="positive integer, got True"):
        fitted.sample(True)
    with pytest.raises(TypeError, match="skorch Callback instances"):
        clone(fast_estimator).set_params(callbacks=[object()]).fit(small_X)
