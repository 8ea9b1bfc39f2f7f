"""scikit-learn's estimator checks over every public estimator, with fast settings."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skaevae import AutoencoderTransformer, VAETransformer

FAST = {"hidden_layer_sizes": (8,), "max_iter": 3, "random_state": 0, "device": "cpu"}

ESTIMATORS = [
    AutoencoderTransformer(**FAST),
    VAETransformer(**FAST, kl_warmup=1),
]

# Checks expected to fail, with the reason; aim: none.
EXPECTED_FAILED_CHECKS = {}


@parametrize_with_checks(
    ESTIMATORS,
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS.get(type(est).__name__, {}),
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
