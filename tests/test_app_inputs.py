"""The applications and displays on inputs beyond a float matrix.

Integer X in the over-sampler, mixed tables and extreme rows in the imputer,
mixed tables in the row displays, and the thread cap of small fits.
"""

import threading

import numpy as np
import pandas as pd
import pytest
import torch
from skorch.callbacks import Callback

from skaevae import ConditionalVAETransformer, VAEImputer, VAETransformer

TWO_EPOCHS = {"max_iter": 2, "random_state": 0, "device": "cpu"}


# ------------------------------------------------------------ over-sampler


def _integer_classes():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.integers(0, 10, 300), np.full(300, 5)])
    y = (rng.random(300) < 0.1).astype(int)
    return X, y


def test_oversampler_integer_X_rounds_within_range():
    pytest.importorskip("imblearn")
    from skaevae import VAEOverSampler

    X, y = _integer_classes()
    model = ConditionalVAETransformer(2, max_iter=20, random_state=0, device="cpu")
    sampler = VAEOverSampler(estimator=model, random_state=0)
    X_res, y_res = sampler.fit_resample(X, y)
    # The float path, on the same values as floats, draws the same rows.
    X_float, _ = VAEOverSampler(estimator=model, random_state=0).fit_resample(X.astype(float), y)
    new, new_float = X_res[len(X) :], X_float[len(X) :]
    assert X_res.dtype == X.dtype
    assert np.array_equal(X_res[: len(X)], X)
    # Rounded to the nearest whole number (not truncated), within X's range.
    expected = np.clip(np.rint(new_float), X.min(axis=0), X.max(axis=0))
    assert np.array_equal(new, expected)
    # A constant column stays constant.
    assert (new[:, 1] == 5).all()
    assert new[:, 0].min() >= 0 and new[:, 0].max() <= 9


def test_oversampler_boolean_X_stays_boolean():
    pytest.importorskip("imblearn")
    from skaevae import VAEOverSampler

    X, y = _integer_classes()
    X = np.column_stack([X[:, 0] > 4, X[:, 0] % 2 == 0])
    model = ConditionalVAETransformer(2, max_iter=20, random_state=0, device="cpu")
    X_res, _ = VAEOverSampler(estimator=model, random_state=0).fit_resample(X, y)
    X_float, _ = VAEOverSampler(estimator=model, random_state=0).fit_resample(X.astype(float), y)
    assert X_res.dtype == bool
    # Rounded: a value below one half is False (a cast would make it True).
    assert np.array_equal(X_res[len(X) :], X_float[len(X) :] >= 0.5)


# ---------------------------------------------------------------- imputer


def _with_holes(X, rate=0.1, seed=1):
    X = np.array(X, dtype=float)
    X[np.random.default_rng(seed).random(X.shape) < rate] = np.nan
    return X


def test_imputer_array_with_column_types_returns_filled_array():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(size=100), rng.integers(0, 4, 100)]).astype(float)
    X = _with_holes(X)
    imputer = VAEImputer(column_types={1: "categorical"}, **TWO_EPOCHS)
    out = imputer.fit_transform(X)
    assert isinstance(out, np.ndarray) and out.dtype == X.dtype and out.shape == X.shape
    observed = ~np.isnan(X)
    assert np.array_equal(out[observed], X[observed])
    assert not np.isnan(out).any()
    # A categorical hole is one of the column's categories.
    assert set(out[:, 1]) <= {0.0, 1.0, 2.0, 3.0}
    # The same table as a DataFrame fills the same values.
    frame = pd.DataFrame(X).astype({1: "category"})
    from_frame = VAEImputer(**TWO_EPOCHS).fit_transform(frame)
    assert np.array_equal(from_frame[0].to_numpy(), out[:, 0])


def test_imputer_object_array_returns_object_array():
    rng = np.random.default_rng(0)
    X = np.empty((60, 2), dtype=object)
    X[:, 0] = rng.normal(size=60)
    X[:, 1] = np.array(["short", "a longer category"])[rng.integers(0, 2, 60)]
    X[rng.random(60) < 0.2, 1] = None
    X[rng.random(60) < 0.2, 0] = np.nan
    out = VAEImputer(column_types={1: "categorical"}, **TWO_EPOCHS).fit_transform(X)
    assert isinstance(out, np.ndarray) and out.dtype == object and out.shape == X.shape
    assert not pd.isna(out).any()
    assert set(out[:, 1]) == {"short", "a longer category"}
    observed = ~pd.isna(X)
    assert all(a is b for a, b in zip(out[observed], X[observed], strict=True))


def _large_row_model(frame=False):
    rng = np.random.default_rng(0)
    X = _with_holes(rng.normal(size=(200, 3)))
    if frame:
        X = pd.DataFrame(X, columns=["a", "b", "c"])
        X["d"] = pd.Categorical(rng.choice(["x", "y"], 200))
    return X, VAEImputer(**TWO_EPOCHS).fit(X)


def test_imputer_row_too_large_for_the_network_gets_column_means():
    X, imputer = _large_row_model()
    rows = np.array([[1e20, np.nan, 0.3], [0.1, np.nan, 0.3]])
    with pytest.warns(UserWarning, match="not finite"):
        out = imputer.transform(rows)
    assert np.isfinite(out).all()
    assert out[0, 0] == 1e20 and out[0, 2] == 0.3
    # The column's observed mean in fit, as SimpleImputer fills it.
    assert out[0, 1] == pytest.approx(np.nanmean(X[:, 1]))
    # The other row is predicted as on its own.
    assert out[1, 1] == imputer.transform(rows[1:])[0, 1]


def test_imputer_table_row_too_large_for_the_network_gets_column_fills():
    X, imputer = _large_row_model(frame=True)
    rows = X.iloc[:2].copy()
    rows.iloc[0, 0] = 1e20
    rows.iloc[0, 1] = np.nan
    rows.iloc[0, 3] = np.nan
    with pytest.warns(UserWarning, match="not finite"):
        out = imputer.transform(rows)
    assert out.iloc[0, 0] == 1e20 and out.iloc[0, 2] == rows.iloc[0, 2]
    assert out.iloc[0, 1] == pytest.approx(X["b"].mean())
    assert out.iloc[0, 3] == X["d"].mode()[0]
    assert out.dtypes.equals(X.dtypes)


def test_imputer_keep_empty_categorical_column():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(_with_holes(rng.normal(size=(60, 2))), columns=["a", "b"])
    X["c"] = pd.Categorical([np.nan] * 60, categories=["p", "q"])
    X["d"] = pd.Categorical(rng.choice(["x", "y"], 60))
    X["e"] = pd.array([pd.NA] * 60, dtype="boolean")
    imputer = VAEImputer(keep_empty_features=True, **TWO_EPOCHS)
    with pytest.warns(UserWarning, match="Skipping features"):
        out = imputer.fit_transform(X)
    assert list(out.columns) == list(X.columns)
    # 0, as SimpleImputer fills an empty column, as a new category.
    assert (out["c"] == 0).all() and list(out["c"].cat.categories) == ["p", "q", 0]
    assert (out["e"] == False).all()  # noqa: E712
    # The same columns as the imputer without the empty ones.
    dropped = VAEImputer(**TWO_EPOCHS)
    with pytest.warns(UserWarning, match="Skipping features"):
        expected = dropped.fit_transform(X)
    pd.testing.assert_frame_equal(out[["a", "b", "d"]], expected)


# ---------------------------------------------------------------- displays


def _mixed_table():
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "a": rng.normal(size=60),
            "b": rng.integers(0, 5, 60),
            "c": pd.Categorical(rng.choice(["x", "y"], 60)),
            "d": rng.random(60) > 0.5,
        }
    )


def _heights(bars):
    return np.array([patch.get_height() for patch in bars])


def test_reconstruction_display_draws_the_numeric_columns_of_a_mixed_table():
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from skaevae.plotting import ReconstructionDisplay

    X = _mixed_table()
    model = VAETransformer(2, **TWO_EPOCHS).fit(X)
    display = ReconstructionDisplay.from_estimator(model, X, n_samples=3)
    labels = [t.get_text() for t in display.axes_[-1, 0].get_xticklabels()]
    assert labels == ["a", "b", "d"]
    numeric = X[["a", "b", "d"]].to_numpy(dtype=float)
    reconstructed = model.inverse_transform(model.transform(X[:3]))[["a", "b", "d"]]
    for i in range(3):
        assert np.allclose(_heights(display.bars_[0, i]), numeric[i])
        assert np.allclose(_heights(display.bars_[1, i]), reconstructed.to_numpy(float)[i])
    plt.close("all")


def test_sample_display_draws_the_numeric_columns_of_a_mixed_table():
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from skaevae.plotting import SampleDisplay

    X = _mixed_table()
    model = VAETransformer(2, **TWO_EPOCHS).fit(X)
    display = SampleDisplay.from_estimator(model, n_samples=4, random_state=0)
    samples = model.sample(4, random_state=0)[["a", "b", "d"]].to_numpy(dtype=float)
    assert display.bars_.shape == (1, 4)
    assert np.allclose(_heights(display.bars_[0, 1]), samples[1])
    assert [t.get_text() for t in display.axes_[-1, 0].get_xticklabels()] == ["a", "b", "d"]
    plt.close("all")


def test_row_displays_refuse_a_table_of_categories_only():
    pytest.importorskip("matplotlib")
    from skaevae.plotting import ReconstructionDisplay, SampleDisplay

    X = _mixed_table()[["c"]].assign(e=lambda f: f["c"].cat.rename_categories(["p", "q"]))
    model = VAETransformer(1, **TWO_EPOCHS).fit(X)
    with pytest.raises(ValueError, match="numeric columns.*all categorical"):
        ReconstructionDisplay.from_estimator(model, X, n_samples=3)
    with pytest.raises(ValueError, match="numeric columns.*all categorical"):
        SampleDisplay.from_estimator(model, n_samples=3)


# ------------------------------------------------------------ thread count


def test_thread_count_of_other_threads_around_a_small_fit():
    before = torch.get_num_threads()
    counts = {}
    started, in_fit, read, fit_done = (threading.Event() for _ in range(4))

    def existing():
        # A thread that ran torch work before the fit keeps its own count.
        counts["existing_before"] = torch.get_num_threads()
        started.set()
        in_fit.wait(timeout=60)
        counts["existing_during"] = torch.get_num_threads()
        read.set()
        fit_done.wait(timeout=60)
        counts["existing_after"] = torch.get_num_threads()

    def newcomer():
        counts["newcomer"] = torch.get_num_threads()

    class Probe(Callback):
        def on_epoch_end(self, net, **kwargs):
            if "fitting" in counts:
                return
            counts["fitting"] = torch.get_num_threads()
            in_fit.set()
            read.wait(timeout=60)
            thread = threading.Thread(target=newcomer)
            thread.start()
            thread.join()

    other = threading.Thread(target=existing)
    other.start()
    started.wait(timeout=60)
    X = np.random.default_rng(0).normal(size=(50, 3))
    VAETransformer(2, callbacks=[Probe()], **TWO_EPOCHS).fit(X)
    fit_done.set()
    other.join()
    late = []
    thread = threading.Thread(target=lambda: late.append(torch.get_num_threads()))
    thread.start()
    thread.join()
    # The caller's count, and the count of threads started later, come back.
    assert torch.get_num_threads() == before
    assert late == [before]
    assert counts["existing_before"] == counts["existing_during"] == before
    assert counts["existing_after"] == before
    # As documented: a thread whose first torch call comes during the fit
    # starts with the fit's count (one thread for a small fit on the CPU).
    assert counts["newcomer"] == counts["fitting"]
