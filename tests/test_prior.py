"""The learned prior of ``sample``, sampling given column values, and generated values' support."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import sklearn
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import DataConversionWarning
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import KernelDensity
from sklearn.preprocessing import StandardScaler

from skaevae import AutoencoderTransformer, ConditionalVAETransformer, VAETransformer
from skaevae.models._prior import ColumnConditions
from skaevae.utils import _table
from tests._testing import (
    SEEDED_32_UNITS,
    THREE_EPOCHS_16_UNITS,
    assert_same_rows,
    tabular_path,
)


@pytest.fixture(scope="module")
def penguins():
    df = pd.read_csv(tabular_path("penguins.csv")).dropna().reset_index(drop=True)
    return df.astype({"species": "category"})


@pytest.fixture(scope="module")
def penguin_vae(penguins):
    """A VAE that has learned the penguins well enough to tell the species apart."""
    params = {**SEEDED_32_UNITS, "n_components": 4, "max_iter": 150, "prior": "mixture"}
    return VAETransformer(**params).fit(penguins)


# ----------------------------------------------------------------- the prior


@pytest.mark.parametrize("cls", [AutoencoderTransformer, VAETransformer])
def test_normal_prior_fits_nothing(cls, small_X):
    model = cls(**THREE_EPOCHS_16_UNITS).fit(small_X)
    assert model.prior_ is None


def test_mixture_prior_follows_the_codes_of_rows_it_was_not_fitted_on(digits_split):
    # The codes of held-out rows (draws from their posteriors) are more
    # likely under the mixture fitted to the training rows' codes than under
    # N(0, I): the aggregate posterior is not N(0, I), and the mixture
    # learns how.
    X_train, X_test = digits_split[0], digits_split[1]
    vae = VAETransformer(4, max_iter=30, prior="mixture", random_state=0, device="cpu")
    vae.fit(X_train)
    assert isinstance(vae.prior_, GaussianMixture)
    assert vae.prior_.n_components == 10
    codes = vae._prior_fit_codes(vae._check_input(X_test), {}, np.random.RandomState(0))
    normal = -0.5 * (codes**2).sum(axis=1).mean() - 2 * np.log(2 * np.pi)
    assert vae.prior_.score(codes) > normal + 0.3


def test_mixture_prior_sample_is_reproducible_and_leaves_global_state(small_X):
    vae = VAETransformer(**THREE_EPOCHS_16_UNITS, prior="mixture").fit(small_X)
    np.random.seed(7)
    before = np.random.get_state()[1].copy()
    first = vae.sample(50, random_state=0)
    np.testing.assert_array_equal(np.random.get_state()[1], before)
    np.testing.assert_array_equal(vae.sample(50, random_state=0), first)
    assert not np.array_equal(vae.sample(50, random_state=1), first)
    # Batched differently, the same draws: equal to float32 rounding.
    with sklearn.config_context(working_memory=0.001):
        assert_same_rows(vae.sample(50, random_state=0), first)


def test_prior_changes_sample_only(small_X):
    normal = VAETransformer(**THREE_EPOCHS_16_UNITS).fit(small_X)
    mixture = VAETransformer(**THREE_EPOCHS_16_UNITS, prior="mixture").fit(small_X)
    np.testing.assert_array_equal(normal.transform(small_X), mixture.transform(small_X))
    np.testing.assert_array_equal(normal.score_samples(small_X), mixture.score_samples(small_X))
    assert not np.array_equal(normal.sample(5, random_state=0), mixture.sample(5, random_state=0))


@pytest.mark.parametrize(
    "prior", [GaussianMixture(n_components=3), KernelDensity(bandwidth=0.3)], ids=["gmm", "kde"]
)
def test_an_estimator_as_prior_is_cloned_fitted_and_seeded(prior, small_X):
    ae = AutoencoderTransformer(**THREE_EPOCHS_16_UNITS, prior=prior).fit(small_X)
    assert ae.prior_ is not prior
    assert not hasattr(prior, "n_features_in_")
    assert ae.prior_.n_features_in_ == ae.n_components_
    again = AutoencoderTransformer(**THREE_EPOCHS_16_UNITS, prior=prior).fit(small_X)
    np.testing.assert_array_equal(ae.sample(20, random_state=0), again.sample(20, random_state=0))


class _GlobalDraws(BaseEstimator):
    """A prior that would draw from numpy's global generator."""

    def fit(self, X):
        self.mean_ = X.mean(axis=0)
        return self

    def sample(self, n_samples=1):
        return self.mean_ + np.random.standard_normal((n_samples, len(self.mean_)))


@pytest.mark.parametrize(
    "prior, message",
    [
        ("gaussian", "prior"),
        (object(), "prior"),
        (GaussianMixture, "estimator instance"),
        (_GlobalDraws(), "no random_state"),
    ],
)
def test_prior_refuses_what_cannot_sample_before_training(prior, message, small_X, monkeypatch):
    vae = VAETransformer(**THREE_EPOCHS_16_UNITS, prior=prior)
    # Refused before any training: building the network would fail the test.
    monkeypatch.setattr(vae, "_training_config", lambda *args: pytest.fail("trained"))
    with pytest.raises(ValueError, match=message):
        vae.fit(small_X)


def test_partial_fit_refits_the_prior_on_each_call(small_X):
    vae = VAETransformer(**THREE_EPOCHS_16_UNITS, prior="mixture")
    vae.partial_fit(small_X[:60])
    first = vae.prior_
    vae.partial_fit(small_X[60:])
    assert not np.allclose(vae.prior_.means_, first.means_)
    assert np.isfinite(vae.sample(10, random_state=0)).all()
    # A chunk of one row is too few codes for a distribution: the prior stays.
    fitted = vae.prior_
    vae.partial_fit(small_X[:1])
    assert vae.prior_ is fitted


def test_conditional_vae_has_a_prior_per_class(digits_split):
    X, y = digits_split[0][:600], digits_split[2][:600]
    cvae = ConditionalVAETransformer(
        4, max_iter=10, prior="mixture", random_state=0, device="cpu"
    ).fit(X, y)
    assert len(cvae.prior_) == len(cvae.classes_)
    # A class's rows are drawn from its own prior: a prior with one far
    # component moves that class's rows only.
    shifted = pickle.loads(pickle.dumps(cvae))
    shifted.prior_[3].means_ = shifted.prior_[3].means_ + 50.0
    np.testing.assert_array_equal(
        cvae.sample(10, y=5, random_state=0), shifted.sample(10, y=5, random_state=0)
    )
    assert not np.allclose(
        cvae.sample(10, y=3, random_state=0), shifted.sample(10, y=3, random_state=0)
    )


def test_a_class_of_one_row_or_of_no_weight_samples_from_n01(digits_split):
    X, y = digits_split[0][:300], digits_split[2][:300].copy()
    y[0] = 10  # one row of a class of its own
    weight = np.where(y == 3, 0.0, 1.0)
    cvae = ConditionalVAETransformer(
        2, max_iter=2, prior="mixture", random_state=0, device="cpu"
    ).fit(X, y, sample_weight=weight)
    assert cvae.prior_[list(cvae.classes_).index(10)] is None
    assert cvae.prior_[3] is None
    assert np.isfinite(cvae.sample(5, y=10, random_state=0)).all()


def test_a_fitted_prior_survives_pickling_and_skops(small_X, tmp_path):
    sio = pytest.importorskip("skops.io")
    vae = VAETransformer(**THREE_EPOCHS_16_UNITS, prior="mixture").fit(small_X)
    loaded = pickle.loads(pickle.dumps(vae))
    np.testing.assert_array_equal(loaded.sample(20, random_state=0), vae.sample(20, random_state=0))
    sio.dump(vae, tmp_path / "vae.skops")
    # scikit-learn's mixture is trusted as it is; only the estimator's own class is asked for.
    untrusted = sio.get_untrusted_types(file=tmp_path / "vae.skops")
    assert untrusted == ["skaevae.models._vae.VAETransformer"]
    loaded = sio.load(tmp_path / "vae.skops", trusted=untrusted)
    np.testing.assert_array_equal(loaded.sample(20, random_state=0), vae.sample(20, random_state=0))


# -------------------------------------------------------- given column values


def test_given_values_are_honoured_and_keep_the_dtype(penguin_vae):
    rows = penguin_vae.sample(200, random_state=0, conditions={"species": "Gentoo", "year": 2008})
    assert (rows["species"] == "Gentoo").all()
    assert rows["species"].dtype == "category"
    assert (rows["year"] == 2008).all()
    assert rows["year"].dtype == np.int64


def test_other_columns_follow_the_given_values(penguin_vae, penguins):
    # Gentoo penguins are about 1.4 kg heavier than Adelie penguins, and live
    # on Biscoe only: rows drawn given the species show it, as the data does.
    gentoo = penguin_vae.sample(300, random_state=0, conditions={"species": "Gentoo"})
    adelie = penguin_vae.sample(300, random_state=0, conditions={"species": "Adelie"})
    real = penguins.groupby("species", observed=True)["body_mass_g"].mean()
    assert real["Gentoo"] - real["Adelie"] > 1000
    assert gentoo["body_mass_g"].mean() - adelie["body_mass_g"].mean() > 700
    assert (gentoo["island"] == "Biscoe").mean() > 0.8
    anywhere = penguin_vae.sample(300, random_state=0)
    assert (anywhere["island"] == "Biscoe").mean() < 0.7


def test_given_values_are_reproducible_and_batch_free(penguin_vae):
    np.random.seed(3)
    torch.manual_seed(3)
    numpy_state, torch_state = np.random.get_state()[1].copy(), torch.get_rng_state()
    first = penguin_vae.sample(100, random_state=0, conditions={"island": "Dream"})
    np.testing.assert_array_equal(np.random.get_state()[1], numpy_state)
    assert torch.equal(torch.get_rng_state(), torch_state)
    pd.testing.assert_frame_equal(
        penguin_vae.sample(100, random_state=0, conditions={"island": "Dream"}), first
    )
    with sklearn.config_context(working_memory=0.001):
        pd.testing.assert_frame_equal(
            penguin_vae.sample(100, random_state=0, conditions={"island": "Dream"}), first
        )


def test_given_values_of_a_float_matrix_by_position(penguins):
    # Heavy penguins have long flippers: rows given a large body mass have
    # longer flippers than rows drawn without it.
    X = penguins[["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]]
    X = StandardScaler().fit_transform(X)
    vae = VAETransformer(2, **SEEDED_32_UNITS, max_iter=100, prior="mixture").fit(X)
    rows = vae.sample(300, random_state=0, conditions={3: 1.5})
    np.testing.assert_array_equal(rows[:, 3], np.float32(1.5))
    assert rows[:, 2].mean() > vae.sample(300, random_state=0)[:, 2].mean() + 0.5


def test_given_values_no_code_explains_are_refused(penguin_vae):
    with pytest.raises(ValueError, match="no likelihood under the model"):
        penguin_vae.sample(5, random_state=0, conditions={"body_mass_g": 1e30})


def test_given_values_of_a_float_frame_by_name(penguins):
    X = penguins.select_dtypes("number").astype(float)
    vae = VAETransformer(**THREE_EPOCHS_16_UNITS).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rows = vae.sample(10, random_state=0, conditions={"year": 2009.0})
    np.testing.assert_array_equal(rows[:, list(X.columns).index("year")], np.float32(2009.0))


def test_conditional_vae_given_values_and_classes(penguins):
    X = penguins.drop(columns="species")
    y = penguins["species"].astype(str)
    cvae = ConditionalVAETransformer(**THREE_EPOCHS_16_UNITS, prior="mixture").fit(X, y)
    rows = cvae.sample(40, y="Adelie", random_state=0, conditions={"island": "Dream"})
    assert (rows["island"] == "Dream").all()
    labels = np.array(["Adelie", "Gentoo"] * 20)
    mixed = cvae.sample(40, y=labels, random_state=0, conditions={"sex": "male"})
    assert (mixed["sex"] == "male").all() and len(mixed) == 40
    with pytest.warns(DataConversionWarning):
        column = cvae.sample(40, y=labels[:, None], random_state=0, conditions={"sex": "male"})
    pd.testing.assert_frame_equal(column, mixed)
    assert (cvae.sample(40, random_state=0, conditions={"sex": "female"})["sex"] == "female").all()


def test_conditional_vae_without_y_resamples_classes_with_the_codes(penguins):
    # Only Adelie penguins live on Torgersen: given the island, the classes
    # drawn with the codes are Adelie far more often than the class prior says.
    X = penguins.drop(columns="species")
    y = penguins["species"].astype(str)
    cvae = ConditionalVAETransformer(**SEEDED_32_UNITS).fit(X, y)
    given = ColumnConditions({"island": "Torgersen"}, cvae)
    _, side = cvae._conditioned_codes(300, None, given, np.random.RandomState(0))
    drawn = cvae.classes_[side["condition"].argmax(axis=1)]
    adelie = cvae.class_prior_[list(cvae.classes_).index("Adelie")]
    assert (drawn == "Adelie").mean() > adelie + 0.3


def test_given_values_take_the_fitted_category_and_dtype():
    frame = pd.DataFrame(
        {
            "year": pd.Categorical([2007, 2008, 2009] * 40),
            "size": np.arange(120, dtype=np.uint8) % 7,
            "value": np.linspace(0.0, 1.0, 120),
        }
    )
    vae = VAETransformer(**THREE_EPOCHS_16_UNITS).fit(frame)
    rows = vae.sample(5, random_state=0, conditions={"year": 2008.0, "size": 3.0})
    assert rows["year"].tolist() == [2008] * 5 and rows["year"].dtype == frame["year"].dtype
    assert rows["size"].tolist() == [3] * 5 and rows["size"].dtype == np.uint8
    with pytest.raises(ValueError, match="does not fit its dtype uint8"):
        vae.sample(5, random_state=0, conditions={"size": 300})
    with pytest.raises(ValueError, match="real number"):
        vae.sample(5, random_state=0, conditions={"value": 1 + 2j})


def test_given_values_of_a_frame_with_integer_labels():
    # Without string names scikit-learn keeps no feature_names_in_; the
    # table's own labels name its columns.
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {10: rng.normal(size=120), 20: rng.choice(["a", "b"], size=120), 30: np.arange(120) % 4}
    )
    vae = VAETransformer(**THREE_EPOCHS_16_UNITS).fit(frame)
    rows = vae.sample(5, random_state=0, conditions={20: "b", 30: 2})
    assert rows[20].tolist() == ["b"] * 5 and rows[30].tolist() == [2] * 5
    with pytest.raises(ValueError, match="not among the columns"):
        vae.sample(5, random_state=0, conditions={1: "b"})


@pytest.mark.parametrize(
    "conditions, message",
    [
        ({}, "non-empty dict"),
        ([("species", "Gentoo")], "non-empty dict"),
        ({"beak": 1.0}, "not among the columns"),
        ({"species": "Emperor"}, "not a category of column 'species'"),
        ({"bill_length_mm": "long"}, "must be a real number"),
        ({"bill_length_mm": np.inf}, "must be finite"),
        ({"year": 2008.5}, "is integer"),
    ],
)
def test_bad_given_values_are_refused(penguin_vae, conditions, message):
    with pytest.raises(ValueError, match=message):
        penguin_vae.sample(5, random_state=0, conditions=conditions)


def test_autoencoder_sample_takes_no_conditions(small_X):
    ae = AutoencoderTransformer(**THREE_EPOCHS_16_UNITS).fit(small_X)
    with pytest.raises(TypeError):
        ae.sample(5, conditions={0: 1.0})


# ---------------------------------------------------- generated values' support


def test_generated_values_keep_to_the_values_seen_in_fit(monkeypatch):
    # A score stored as a float takes a few values, one of them odd (an
    # average filled in for a missing answer): generated rows take the
    # column's values, not values in between; reconstructions are left as
    # the decoder gives them, and so is a column of mostly unique values.
    rng = np.random.default_rng(0)
    n = 400
    score = rng.choice([1.0, 2.0, 3.0, 5.0, 2.1163865], size=n, p=[0.4, 0.3, 0.2, 0.09, 0.01])
    frame = pd.DataFrame(
        {
            "score": score,
            "income": np.round(rng.lognormal(3, 0.5, size=n), 2),
            "group": np.where(score > 2.5, "high", "low"),
        }
    )
    assert frame["income"].nunique() > n / 2
    vae = VAETransformer(**THREE_EPOCHS_16_UNITS).fit(frame)
    rows = vae.sample(300, random_state=0)
    assert set(rows["score"]) <= set(score)
    assert not set(rows["income"]) <= set(frame["income"])
    near = vae.sample_near(frame.iloc[:20], n_samples=50, random_state=0)
    assert set(near["score"]) <= set(score)
    decoded = vae.inverse_transform(vae.transform(frame))
    assert not set(decoded["score"]) <= set(score)
    # Above MAX_SUPPORT distinct values a column is continuous: not kept.
    monkeypatch.setattr(_table, "MAX_SUPPORT", 3)
    wide = VAETransformer(**THREE_EPOCHS_16_UNITS).fit(frame)
    assert not set(wide.sample(300, random_state=0)["score"]) <= set(score)


def test_partial_fit_adds_each_chunks_values(penguins):
    # 40 rows of flipper lengths are mostly distinct: generated ones are
    # left continuous; with the other rows, values repeat and are kept.
    vae = VAETransformer(**THREE_EPOCHS_16_UNITS)
    vae.partial_fit(penguins.iloc[:40])
    first = vae.sample(500, random_state=0)["flipper_length_mm"]
    assert not set(first) <= set(penguins["flipper_length_mm"])
    vae.partial_fit(penguins.iloc[40:])
    later = set(vae.sample(500, random_state=0)["flipper_length_mm"])
    assert later <= set(penguins["flipper_length_mm"])
    assert not later <= set(penguins["flipper_length_mm"].iloc[:40])
