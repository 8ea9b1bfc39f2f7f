"""Mixed-table bugs the property suite found, each as one deterministic case.

Each test is the smallest input that showed one bug, and checks what happens
since its fix.
"""

import numpy as np
import pandas as pd
import pytest

from skaevae import AutoencoderTransformer, OutlierDetector, VAETransformer

TWO_EPOCHS_4_UNITS = {"hidden_layer_sizes": (4,), "max_iter": 2, "random_state": 0, "device": "cpu"}

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _table(n=40, seed=0):
    """Numeric, integer, constant numeric, categorical and one-level columns."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "i": rng.integers(0, 5, n),
            "z": 0.0,
            "c": rng.choice(["a", "b", "c"], n),
            "one": "k",
        }
    )


def _pair(X, column, value):
    """X's first row twice, the second with ``value`` in ``column``."""
    pair = pd.concat([X.iloc[:1]] * 2, ignore_index=True)
    if pd.api.types.is_integer_dtype(pair[column]):
        pair[column] = pair[column].astype(np.float64)
    pair.loc[1, column] = value
    return pair


def _detector(vae):
    estimator = VAETransformer(1, handle_unknown="ignore", **TWO_EPOCHS_4_UNITS) if vae else None
    return OutlierDetector(estimator, random_state=0).fit(_table())


def _float_detector():
    """The same table's numeric columns as a float matrix: the reference behaviour."""
    return OutlierDetector(random_state=0).fit(_table()[["x", "i", "z"]].to_numpy(float))


# ------------------------------------------- OutlierDetector on mixed tables


def test_float_matrix_detector_flags_a_value_beyond_float32():
    # What the mixed-table cases below should match.
    detector = _float_detector()
    pair = _pair(_table()[["x", "i", "z"]], "x", 1e39).to_numpy(float)
    assert detector.score_samples(pair)[1] == -np.inf
    assert detector.predict(pair)[1] == -1


@pytest.mark.parametrize("vae", [False, True], ids=["default", "vae"])
@pytest.mark.parametrize("value", [1e39, -1e39, 1e300])
def test_detector_flags_a_value_beyond_float32_in_a_mixed_table(vae, value):
    detector = _detector(vae)
    pair = _pair(_table(), "x", value)
    assert detector.score_samples(pair)[1] == -np.inf
    assert detector.predict(pair)[1] == -1


def test_default_detector_flags_another_value_of_a_constant_numeric_column():
    detector = _detector(vae=False)
    pair = _pair(_table(), "z", 1.0)
    # A point mass: the other value has probability 0, as the estimators score it.
    assert detector.score_samples(pair)[1] == -np.inf
    assert detector.predict(pair)[1] == -1


def test_vae_detector_flags_another_value_of_a_constant_numeric_column():
    detector = _detector(vae=True)
    pair = _pair(_table(), "z", 1.0)
    assert detector.estimator_.score_samples(pair)[1] == -np.inf
    assert detector.score_samples(pair)[1] == -np.inf
    assert detector.predict(pair)[1] == -1


def test_vae_detector_scores_an_unseen_level_of_a_one_level_column_lower():
    detector = _detector(vae=True)
    pair = _pair(_table(), "one", "new")
    # The VAE itself scores the level as very unlikely.
    vae_scores = detector.estimator_.score_samples(pair)
    assert vae_scores[1] < vae_scores[0]
    scores = detector.score_samples(pair)
    assert scores[1] < scores[0]
    assert detector.predict(pair)[1] == -1


def test_vae_detector_scores_an_unseen_category_lower():
    # A user's estimator scores an unseen category as it chooses (here the
    # VAE under handle_unknown="ignore": a category of probability 1e-7):
    # the row's reconstruction term grows, though the threshold decides.
    detector = _detector(vae=True)
    pair = _pair(_table(), "c", "new")
    scores = detector.score_samples(pair)
    assert scores[1] < scores[0]


def test_default_detector_flags_an_unseen_category():
    # Not refused: the row is an outlier beyond any score.
    detector = _detector(vae=False)
    pair = _pair(_table(), "c", "new")
    scores = detector.score_samples(pair)
    assert np.isfinite(scores[0]) and scores[1] == -np.inf
    assert detector.predict(pair)[1] == -1


# ------------------------------------- a continuous column near float64's top


def _huge_table():
    X = _table()[["x", "c"]]
    X.loc[3, "x"] = 1e300
    return X


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.parametrize("Estimator", [AutoencoderTransformer, VAETransformer])
def test_mixed_table_column_near_float64_top_is_used_or_refused(Estimator):
    X = _huge_table()
    try:
        model = Estimator(1, **TWO_EPOCHS_4_UNITS).fit(X)
    except ValueError as error:
        # Refused as the float path and OutlierDetector refuse such values.
        assert "too large" in str(error)
        return
    scores = model.score_samples(X)
    assert np.isfinite(scores).all()
    # The row with 1e300 is the least likely.
    assert scores.argmin() == 3


def test_float_matrix_refuses_a_column_near_float64_top():
    # The reference: the float path says so.
    X = _huge_table()[["x"]].to_numpy()
    with pytest.raises(ValueError, match="too large"):
        VAETransformer(1, **TWO_EPOCHS_4_UNITS).fit(X)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_mixed_table_column_near_float64_top_with_holes_scores_its_training_rows():
    X = _huge_table()
    X.loc[5, "x"] = np.nan
    try:
        model = VAETransformer(1, **TWO_EPOCHS_4_UNITS).fit(X)
    except ValueError as error:
        assert "too large" in str(error)
        return
    assert not np.isnan(model.score_samples(X)).any()


# ------------------------------------ a value beyond float32 in a tiny column


def test_value_beyond_float32_in_a_tiny_column_is_refused_without_numpy_warning():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"t": rng.normal(size=20) * 1e-10, "c": rng.choice(["a", "b"], 20)})
    model = AutoencoderTransformer(1, **TWO_EPOCHS_4_UNITS).fit(X)
    rows = _pair(X, "t", 1e300)
    # The pytest configuration turns RuntimeWarnings into errors.
    with pytest.raises(ValueError, match="too large"):
        model.score_samples(rows)
