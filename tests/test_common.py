"""scikit-learn's estimator checks over every public estimator, with fast settings."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skaevae import AutoencoderTransformer, OutlierDetector, VAEImputer, VAETransformer, _fast
from skaevae._fast import _onednn

FAST = {"hidden_layer_sizes": (8,), "max_iter": 3, "random_state": 0, "device": "cpu"}

ESTIMATORS = [
    AutoencoderTransformer(**FAST),
    AutoencoderTransformer(**FAST, init="pca"),
    VAETransformer(**FAST, kl_warmup=1),
    VAETransformer(**FAST, kl_warmup=1, init="pca"),
    OutlierDetector(AutoencoderTransformer(**FAST, n_components=1)),
    VAEImputer(hidden_layer_sizes=(8,), max_iter=3, n_draws=4, random_state=0, device="cpu"),
]

_PCA_START_WEIGHTS = (
    "The PCA start is a stationary point of the loss: the first gradients are "
    "rounding noise (about 1e-9), which Adam's normalised steps turn into real "
    "steps, so a repeated row and a weighted row, which round differently, move "
    "the fit differently. With a random start the check passes."
)

_VAE_WEIGHTS = (
    "Each copy of a repeated row gets its own reparameterised draw "
    "z = mu + sigma * eps during training, while a weighted row gets one draw "
    "scaled by its weight: the two are different stochastic objectives, so the "
    "fits differ although both estimate the same expected loss."
)

# Checks expected to fail, with the reason a reviewer can weigh.
# The autoencoder passes the weight check because the check's data fit in one
# batch; with several batches, repetition would change the batches and the
# number of steps per epoch, as for MLPRegressor.
EXPECTED_FAILED_CHECKS = {
    "VAETransformer": {
        "check_sample_weight_equivalence_on_dense_data": _VAE_WEIGHTS,
    },
    "AutoencoderTransformer(init='pca')": {
        "check_sample_weight_equivalence_on_dense_data": _PCA_START_WEIGHTS,
    },
    "VAETransformer(init='pca')": {
        "check_sample_weight_equivalence_on_dense_data": _VAE_WEIGHTS,
    },
    "OutlierDetector": {
        "check_sample_weight_equivalence_on_dense_data": (
            "With support_fraction, the final fit keeps a fraction of the rows, counted "
            "in rows rather than in weight, so a row repeated k times and the same "
            "row with weight k can fall on different sides of the cut; the inner "
            "network's stochastic training adds the autoencoder's own differences."
        )
    },
}

if not (_fast.enabled() and _onednn.available()):
    # Inference then runs on eager kernels, which pick their code path by the
    # number of rows.
    EXPECTED_FAILED_CHECKS["VAETransformer(init='pca')"]["check_methods_subset_invariance"] = (
        "float32 matrix kernels pick their code path by the number of rows, so a "
        "row's code can differ in its last bits (3.5e-7 relative here) between a "
        "batch of 20 rows and a smaller one; the check allows 1e-7. The PCA start's "
        "larger weights make the difference visible; OutlierDetector scores in "
        "fixed blocks of rows for that reason."
    )
    EXPECTED_FAILED_CHECKS["AutoencoderTransformer"] = {
        "check_sample_weight_equivalence_on_dense_data": (
            "Weighted and repeated rows train the same network up to float32 "
            "rounding, which the encoder can carry to a relative difference of "
            "about 2e-7 in a code with eager kernels; the check allows 1e-7."
        )
    }


def _expected_failed_checks(estimator):
    name = type(estimator).__name__
    if getattr(estimator, "init", None) == "pca":
        name += "(init='pca')"
    return EXPECTED_FAILED_CHECKS.get(name, {})


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
