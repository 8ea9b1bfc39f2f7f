"""Tests of OutlierDetector: threshold, scores, attribution, routing, errors, and real data."""

import functools
import pickle

import numpy as np
import pandas as pd
import pytest
import sklearn
from scipy.stats import spearmanr
from sklearn.decomposition import PCA
from sklearn.exceptions import UnsetMetadataPassedError
from sklearn.metrics import roc_auc_score
from sklearn.mixture import GaussianMixture
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from skaevae import AutoencoderTransformer, OutlierDetector, VAETransformer
from skaevae.outlier import _defaults as _outlier_defaults
from skaevae.outlier._defaults import _WeightedPCA
from skaevae.outlier._scores import mahalanobis_squared
from skaevae.train import _fast
from skaevae.train._fast import _onednn
from tests._testing import FIVE_EPOCHS_8_UNITS, adbench_path


@pytest.fixture(scope="module")
def data():
    """Correlated Gaussian rows with a few shifted outliers at the start."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 6)) @ rng.normal(size=(6, 6))
    X[:6] += 8.0
    return X


@pytest.fixture(scope="module")
def fitted(data):
    ae = AutoencoderTransformer(n_components=2, **FIVE_EPOCHS_8_UNITS)
    return OutlierDetector(make_pipeline(StandardScaler(), ae)).fit(data)


@pytest.mark.parametrize("contamination", [0.05, 0.1, 0.25])
def test_contamination_sets_fraction_of_outliers(data, contamination):
    detector = OutlierDetector(PCA(n_components=2), contamination=contamination)
    labels = detector.fit_predict(data)
    assert set(np.unique(labels)) <= {-1, 1}
    assert np.mean(labels == -1) == pytest.approx(contamination, abs=1 / len(data))


def test_auto_contamination_is_tukey_fence(fitted, data):
    anomaly = -fitted.score_samples(data)
    q1, q3 = np.percentile(anomaly, [25, 75])
    flagged = anomaly > q3 + 1.5 * (q3 - q1)
    np.testing.assert_array_equal(fitted.predict(data) == -1, flagged)
    # The shifted rows are among those flagged.
    assert flagged[:6].all()


def test_decision_function_is_shifted_score(fitted, data):
    np.testing.assert_allclose(
        fitted.decision_function(data), fitted.score_samples(data) - fitted.offset_
    )


def test_scores_are_deterministic(fitted, data):
    scores = fitted.score_samples(data)
    np.testing.assert_array_equal(fitted.score_samples(data), scores)
    # A row's score does not depend on the rows scored with it: bit for bit
    # on oneDNN's linear (the CPU inference fast path); eager kernels may
    # round a row differently at another position in a block.
    if _fast.enabled() and _onednn.available():
        same = np.testing.assert_array_equal
    else:
        same = functools.partial(np.testing.assert_allclose, rtol=1e-6)
    alone = np.array([fitted.score_samples(data[i : i + 1])[0] for i in range(0, 200, 37)])
    same(alone, scores[::37])
    same(fitted.score_samples(data[::-1])[::-1], scores)
    big = np.concatenate([data, data, data])
    same(fitted.score_samples(big)[400:], scores)
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.score_samples(data), scores)


def test_random_state_makes_fit_reproducible(data):
    a = OutlierDetector("vae", random_state=0).fit(data[:60])
    b = OutlierDetector("vae", random_state=0).fit(data[:60])
    np.testing.assert_array_equal(a.score_samples(data), b.score_samples(data))


@pytest.mark.parametrize("method", ["reconstruction", "combined"])
def test_attributions_sum_to_reconstruction_term(data, method):
    ae = AutoencoderTransformer(n_components=2, **FIVE_EPOCHS_8_UNITS)
    detector = OutlierDetector(ae, method=method).fit(data)
    attributions = detector.feature_attributions(data)
    assert attributions.shape == data.shape
    assert (attributions >= 0).all()
    anomaly = -detector.score_samples(data)
    if method == "combined":
        # The combined score is the larger of the two terms: where the
        # reconstruction term is the larger, the row sums equal the score;
        # elsewhere they are below it, and the latent term is the score.
        codes = detector.estimator_.transform(data)
        latent = mahalanobis_squared(codes, detector.latent_mean_, detector.latent_precision_)
        latent = latent / detector.latent_median_
        totals = attributions.sum(axis=1)
        by_reconstruction = totals >= latent
        assert 0 < by_reconstruction.sum() < len(data)
        by_latent = ~by_reconstruction
        np.testing.assert_allclose(totals[by_reconstruction], anomaly[by_reconstruction], rtol=1e-6)
        np.testing.assert_allclose(latent[by_latent], anomaly[by_latent], rtol=1e-6)
        assert (totals[by_latent] <= anomaly[by_latent]).all()
        return
    np.testing.assert_allclose(attributions.sum(axis=1), anomaly, rtol=1e-6, atol=1e-9)


def _record_fits(monkeypatch, cls):
    """The number of rows of every later ``cls.fit`` call, in a list that grows."""
    fitted_rows = []
    fit = cls.fit

    def counting_fit(self, X, *args, **kwargs):
        fitted_rows.append(len(X))
        return fit(self, X, *args, **kwargs)

    monkeypatch.setattr(cls, "fit", counting_fit)
    return fitted_rows


def test_default_detector_screens_with_pca_and_fits_the_network_once(data, monkeypatch):
    fitted_rows = _record_fits(monkeypatch, AutoencoderTransformer)
    detector = OutlierDetector(random_state=0).fit(data)
    assert detector.estimator_[-1].init == "pca"
    # One network fit, on the support only: 80 % of the rows, the shifted ones out.
    assert fitted_rows == [160]
    assert detector.support_.sum() == 160
    assert not detector.support_[:6].any()
    # The support is PCA's choice, so it does not depend on the seed.
    other = OutlierDetector(random_state=1).fit(data)
    np.testing.assert_array_equal(other.support_, detector.support_)


def _seed_spread(data):
    """The default network of seed 0, and how two seeds' scores differ."""
    first, second = (OutlierDetector(random_state=seed).fit(data) for seed in (0, 1))
    a, b = first.score_samples(data), second.score_samples(data)
    return first.estimator_[-1], spearmanr(a, b).statistic, np.median(np.abs(b - a) / np.abs(a))


def test_default_network_has_no_random_unit(data, monkeypatch):
    # The hidden layer is exactly the 2 * n_components units that carry the
    # PCA start, so the seed only orders the batches: two seeds rank the rows
    # alike and move a typical row's score little. A single row can still move
    # by several per cent, and by how much depends on the CPU, so the test
    # reads the ranking and the median row against a contrast: the same
    # detector with 64 hidden units, 62 of them random for this 6-feature
    # table's one-unit code, between the same two seeds.
    network, rank, difference = _seed_spread(data)
    assert network.hidden_layer_sizes == (2 * network.n_components,)
    monkeypatch.setattr(_outlier_defaults, "default_hidden_layer_sizes", lambda n: (64,))
    wide, wide_rank, wide_difference = _seed_spread(data)
    assert wide.hidden_layer_sizes == (64,)
    assert rank > 0.99
    assert difference < 0.02
    assert wide_rank < rank
    assert wide_difference > 5 * difference


def test_attributions_point_at_the_perturbed_feature():
    # Two factors spread over six features, plus independent noise: a jump in
    # one feature leaves the plane, and mostly along that feature.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 2)) @ rng.normal(size=(2, 6)) + 0.1 * rng.normal(size=(300, 6))
    detector = OutlierDetector(PCA(n_components=2), method="reconstruction").fit(X)
    row = X[100:101].copy()
    row[0, 4] += 5.0
    assert np.argmax(detector.feature_attributions(row)[0]) == 4


def test_feature_names_in_attributions(data):
    columns = [f"f{j}" for j in range(data.shape[1])]
    frame = pd.DataFrame(data, columns=columns, index=np.arange(100, 300))
    detector = OutlierDetector(PCA(n_components=2)).fit(frame)
    attributions = detector.feature_attributions(frame.iloc[:4])
    assert isinstance(attributions, pd.DataFrame)
    assert list(attributions.columns) == columns
    assert list(attributions.index) == [100, 101, 102, 103]
    assert isinstance(OutlierDetector(PCA(2)).fit(data).feature_attributions(data), np.ndarray)


def test_any_estimator_with_score_samples(data):
    detector = OutlierDetector(GaussianMixture(n_components=1, random_state=0)).fit(data)
    assert detector.method_ == "estimator"
    np.testing.assert_allclose(
        detector.score_samples(data), detector.estimator_.score_samples(data)
    )
    vae = make_pipeline(
        StandardScaler(), VAETransformer(n_components=2, **FIVE_EPOCHS_8_UNITS, kl_warmup=1)
    )
    detector = OutlierDetector(vae, method="estimator", support_fraction=None).fit(data)
    np.testing.assert_allclose(
        detector.score_samples(data), detector.estimator_.score_samples(data)
    )


def test_support_fraction_drops_worst_rows(data):
    detector = OutlierDetector(PCA(n_components=2), support_fraction=0.8).fit(data)
    assert detector.support_.sum() == 160
    assert not detector.support_[:6].any()
    full = OutlierDetector(PCA(n_components=2), support_fraction=None).fit(data)
    assert full.support_.all()


def test_sample_weight_reaches_the_estimator(data):
    weight = np.ones(len(data))
    weight[:100] = 0.0
    pipe = make_pipeline(
        StandardScaler(), AutoencoderTransformer(n_components=2, **FIVE_EPOCHS_8_UNITS)
    )
    weighted = OutlierDetector(pipe, support_fraction=None).fit(data, sample_weight=weight)
    scaler = weighted.estimator_[0]
    np.testing.assert_allclose(scaler.mean_, data[100:].mean(axis=0))


def test_infinite_row_under_assume_finite_is_an_error(data):
    # assume_finite skips scikit-learn's check, not the float32 range check
    # of the float64 rows the detector scores: an infinity never becomes a
    # score. (NaN is a missing entry, scored from the observed ones.)
    detector = OutlierDetector(random_state=0).fit(data)
    X = data[:4].copy()
    X[0, 0] = np.inf
    with sklearn.config_context(assume_finite=True):
        with pytest.raises(ValueError, match="infinity or a value too large"):
            detector.score_samples(X)
    X[0, 0] = np.nan
    assert np.isfinite(detector.score_samples(X)).all()


def test_errors(data):
    with pytest.raises(ValueError, match="transform and inverse_transform"):
        OutlierDetector(GaussianMixture(), method="latent").fit(data)
    with pytest.raises(AttributeError, match="no reconstruction"):
        OutlierDetector(GaussianMixture(random_state=0)).fit(data).feature_attributions(data)
    with pytest.raises(ValueError, match="does not accept"):
        OutlierDetector(PCA(2)).fit(data, sample_weight=np.ones(len(data)))
    with pytest.raises(InvalidParameterError, match="contamination"):
        OutlierDetector(PCA(2), contamination=0.7).fit(data)
    with pytest.raises(InvalidParameterError, match="estimator"):
        OutlierDetector("forest").fit(data)
    detector = OutlierDetector(PCA(2)).fit(data)
    with pytest.raises(ValueError, match="features"):
        detector.predict(data[:, :4])
    with pytest.raises(ValueError, match="NaN"):
        detector.score_samples(np.full((2, 6), np.nan))


def test_separates_anomalies_on_adbench_wbc():
    data = np.load(adbench_path("42_WBC.npz"))
    X, y = data["X"], data["y"]
    detector = OutlierDetector(random_state=0).fit(X)
    assert roc_auc_score(y, -detector.score_samples(X)) > 0.9
    # Reconstruction error alone, from PCA, is the baseline it must not lose to.
    pca = OutlierDetector(PCA(n_components=2), method="reconstruction").fit(X)
    assert roc_auc_score(y, -detector.score_samples(X)) >= roc_auc_score(y, -pca.score_samples(X))


def test_latent_term_catches_rows_extreme_along_the_manifold():
    # Rows on a line in 4-d, plus one far out *on* the line: it reconstructs
    # perfectly, so only the latent term can tell it apart.
    rng = np.random.RandomState(0)
    direction = np.array([1.0, 2.0, -1.0, 0.5])
    X = rng.normal(size=(300, 1)) * direction + 0.05 * rng.normal(size=(300, 4))
    X[0] = 8.0 * direction
    scores = {
        method: OutlierDetector(PCA(n_components=1), method=method, support_fraction=None)
        .fit(X)
        .score_samples(X)
        for method in ("reconstruction", "latent", "combined")
    }
    rank = {method: int(np.sum(s < s[0])) for method, s in scores.items()}
    assert rank["reconstruction"] > 100
    assert rank["latent"] == 0
    assert rank["combined"] == 0


@pytest.mark.parametrize("kind", ["autoencoder", "vae"])
def test_default_detectors_fit_when_most_rows_are_identical(kind):
    # 90 % identical rows: the support the screen keeps is constant after scaling.
    X = np.zeros((100, 4))
    X[90:] = np.random.RandomState(0).normal(size=(10, 4))
    scores = OutlierDetector(kind, random_state=0).fit(X).score_samples(X)
    assert np.isfinite(scores).all()
    assert scores[90:].max() < scores[:90].min()


def test_weighted_default_detector_screens_out_rows_of_no_weight(data):
    # With sample_weight the default detector screens with a weighted PCA
    # (tests/test_outlier_defaults.py): the shifted rows 0-5 weigh nothing,
    # yet are screened out.
    weight = np.r_[np.zeros(50), np.full(100, 2.0), np.ones(50)]
    detector = OutlierDetector(random_state=0).fit(data, sample_weight=weight)
    assert detector.support_.sum() == 160
    assert not detector.support_[:6].any()


def test_estimator_object_is_not_refitted_when_the_support_is_every_row(monkeypatch):
    # Two rows: the support (at least 2 rows) is all of them, so the screen,
    # which is the estimator itself, is the final model: one fit, not two.
    fitted_rows = _record_fits(monkeypatch, PCA)
    X = np.array([[0.0, 1.0], [1.0, 3.0]])
    detector = OutlierDetector(PCA(n_components=1)).fit(X)
    assert detector.support_.all()
    assert fitted_rows == [2]


# Metadata routing. Rows 0-98 weigh nothing, so a weighted fit must equal a fit
# on rows 99-199 alone (an odd count, whose median is one row, as the weighted
# median is).
ZERO_WEIGHT_ROWS = 99


def _zero_weight(data):
    weight = np.ones(len(data))
    weight[:ZERO_WEIGHT_ROWS] = 0.0
    return weight


def _weighted_pca_pipeline(scaler_weighted=True):
    return make_pipeline(
        StandardScaler().set_fit_request(sample_weight=scaler_weighted),
        _WeightedPCA(2).set_fit_request(sample_weight=True),
    )


def test_routing_gives_sample_weight_to_the_steps_that_request_it(data):
    weight = _zero_weight(data)
    with sklearn.config_context(enable_metadata_routing=True):
        weighted = OutlierDetector(_weighted_pca_pipeline(), support_fraction=None)
        weighted.fit(data, sample_weight=weight)
        dropped = OutlierDetector(_weighted_pca_pipeline(), support_fraction=None)
        dropped.fit(data[ZERO_WEIGHT_ROWS:])
        np.testing.assert_allclose(weighted.score_samples(data), dropped.score_samples(data))
        # The scaler asks not to be weighted: only the PCA after it sees the
        # weights, in the screen (a clone of the pipeline) and the final fit.
        detector = OutlierDetector(_weighted_pca_pipeline(scaler_weighted=False))
        detector.fit(data, sample_weight=weight)
    scaler, pca = detector.estimator_
    support = detector.support_
    assert not support.all()
    np.testing.assert_allclose(scaler.mean_, data[support].mean(axis=0))
    scaled = scaler.transform(data[support])
    np.testing.assert_allclose(pca.mean_, np.average(scaled, axis=0, weights=weight[support]))


def test_routing_raises_for_an_unrequested_sample_weight(data):
    weight = _zero_weight(data)
    ae = AutoencoderTransformer(n_components=2, **FIVE_EPOCHS_8_UNITS)
    with sklearn.config_context(enable_metadata_routing=True):
        with pytest.raises(UnsetMetadataPassedError, match="sample_weight"):
            OutlierDetector(make_pipeline(StandardScaler(), _WeightedPCA(2))).fit(
                data, sample_weight=weight
            )
        with pytest.raises(UnsetMetadataPassedError, match="sample_weight"):
            OutlierDetector(ae).fit(data, sample_weight=weight)
        # An estimator whose fit takes no weights is fitted unweighted, as
        # scikit-learn routes; the detector's own statistics are weighted.
        detector = OutlierDetector(PCA(2), support_fraction=None)
        detector.fit(data, sample_weight=weight)
    np.testing.assert_allclose(detector.estimator_.mean_, data.mean(axis=0))


def test_default_detector_under_routing_fits_as_without(data):
    weight = _zero_weight(data)
    expected = OutlierDetector(random_state=0).fit(data, sample_weight=weight)
    with sklearn.config_context(enable_metadata_routing=True):
        routed = OutlierDetector(random_state=0).fit(data, sample_weight=weight)
        np.testing.assert_array_equal(routed.score_samples(data), expected.score_samples(data))
        unweighted = OutlierDetector(random_state=0).fit(data)
    assert not np.array_equal(unweighted.support_, routed.support_)


def test_detector_in_a_pipeline_gets_sample_weight_when_it_requests_it(data):
    weight = _zero_weight(data)
    detector = OutlierDetector(PCA(2), method="reconstruction", support_fraction=None)
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = make_pipeline(
            StandardScaler().set_fit_request(sample_weight=False),
            detector.set_fit_request(sample_weight=True),
        )
        pipe.fit(data, sample_weight=weight)
    # The term is divided by its median over the weighted rows.
    anomaly = -pipe[-1].score_samples(pipe[0].transform(data))
    assert np.median(anomaly[ZERO_WEIGHT_ROWS:]) == pytest.approx(1.0)
    assert np.median(anomaly) != pytest.approx(1.0)


@pytest.mark.parametrize("value", [1e300, 1e200, 1e160])
def test_training_values_too_large_to_standardise_are_refused_clearly(data, value):
    X = data.copy()
    X[0, 2] = value
    with pytest.raises(ValueError, match=r"too large to standardise in column\(s\) \[2\]"):
        OutlierDetector(random_state=0).fit(X)
    with pytest.raises(ValueError, match="too large to standardise"):
        OutlierDetector(random_state=0).fit(np.array([[2.68e154], [0.0]] * 5))


def test_an_extreme_row_is_an_outlier_not_an_error(data):
    detector = OutlierDetector(random_state=0).fit(data)
    X = data[:3].copy()
    X[0, 0] = 1e200
    scores = detector.score_samples(X)
    assert scores[0] == -np.inf and np.isfinite(scores[1:]).all()
    np.testing.assert_array_equal(scores[1:], detector.score_samples(data[1:3]))
    assert detector.predict(X)[0] == -1


def test_one_gross_outlier_in_training_is_scored_not_an_error(data):
    # The yardstick is robust (median, MAD): the outlier does not set it.
    X = data.copy()
    X[0, 0] = 1e40
    detector = OutlierDetector(random_state=0).fit(X)
    scores = detector.score_samples(X)
    assert scores[0] == -np.inf and np.isfinite(scores[1:]).all()
    far = data[:1].copy()
    far[0, 0] = 1e39
    assert detector.predict(far)[0] == -1
    # An estimator without a scaler meets float32's limit on raw values.
    raw = OutlierDetector(
        AutoencoderTransformer(n_components=2, **FIVE_EPOCHS_8_UNITS), random_state=0
    )
    raw.fit(data * 1e10)
    assert raw.score_samples(far)[0] == -np.inf


def test_a_column_without_observed_values_is_named(data):
    X = data.copy()
    X[:, 3] = np.nan
    with pytest.raises(ValueError, match=r"no observed value in column\(s\) \[3\]"):
        OutlierDetector(random_state=0).fit(X)


def test_training_rows_beyond_float32_keep_the_threshold_finite():
    # Found by the property tests: a training row scored -inf made the Tukey
    # fence NaN, and decision_function -inf - (-inf).
    X = np.array([[1e100], [0.0], [0.0], [0.0], [0.0]])
    for contamination in ("auto", 0.2):
        detector = OutlierDetector(contamination=contamination, random_state=0).fit(X)
        assert np.isfinite(detector.offset_)
        decision = detector.decision_function(X)
        assert decision[0] == -np.inf and not np.isnan(decision).any()
        assert detector.predict(X)[0] == -1


def test_constant_data_fits_without_warnings():
    # Found by the property tests: the PCA screen's variance ratios are 0 / 0.
    detector = OutlierDetector(random_state=0).fit(np.zeros((3, 1)))
    assert set(detector.predict(np.zeros((2, 1)))) <= {-1, 1}
