"""scikit-learn's estimator checks over every public estimator, with fast settings."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skaevae import AutoencoderTransformer, OutlierDetector, VAETransformer

FAST = {"hidden_layer_sizes": (8,), "max_iter": 3, "random_state": 0, "device": "cpu"}

ESTIMATORS = [
    AutoencoderTransformer(**FAST),
    VAETransformer(**FAST, kl_warmup=1),
    OutlierDetector(AutoencoderTransformer(**FAST, n_components=1)),
]

# Checks expected to fail, with the reason a reviewer can weigh.
# The autoencoder passes the weight check because the check's data fit in one
# batch; with several batches, repetition would change the batches and the
# number of steps per epoch, as for MLPRegressor.
EXPECTED_FAILED_CHECKS = {
    "VAETransformer": {
        "check_sample_weight_equivalence_on_dense_data": (
            "Each copy of a repeated row gets its own reparameterised draw "
            "z = mu + sigma * eps during training, while a weighted row gets one draw "
            "scaled by its weight: the two are different stochastic objectives, so the "
            "fits differ although both estimate the same expected loss."
        )
    },
    "OutlierDetector": {
        "check_sample_weight_equivalence_on_dense_data": (
            "With support_fraction, the refit keeps a fraction of the rows, counted "
            "in rows rather than in weight, so a row repeated k times and the same "
            "row with weight k can fall on different sides of the cut; the inner "
            "network's stochastic training adds the autoencoder's own differences."
        )
    },
}


@parametrize_with_checks(
    ESTIMATORS,
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS.get(type(est).__name__, {}),
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
