"""scikit-learn's estimator checks over every public estimator, with fast settings."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skaevae import (
    AutoencoderTransformer,
    ConditionalVAETransformer,
    OutlierDetector,
    VAEImputer,
    VAETransformer,
)
from skaevae.train import _fast
from skaevae.train._fast import _onednn
from tests._testing import THREE_EPOCHS_8_UNITS
from tests.networks import TinyDecoder, TinyEncoder

ESTIMATORS = [
    AutoencoderTransformer(**THREE_EPOCHS_8_UNITS),
    AutoencoderTransformer(**THREE_EPOCHS_8_UNITS, init="pca"),
    VAETransformer(**THREE_EPOCHS_8_UNITS, kl_warmup=1),
    VAETransformer(**THREE_EPOCHS_8_UNITS, kl_warmup=1, init="pca"),
    OutlierDetector(AutoencoderTransformer(**THREE_EPOCHS_8_UNITS, n_components=1)),
    VAEImputer(hidden_layer_sizes=(8,), max_iter=3, n_draws=4, random_state=0, device="cpu"),
    ConditionalVAETransformer(**THREE_EPOCHS_8_UNITS, kl_warmup=1),
    AutoencoderTransformer(**THREE_EPOCHS_8_UNITS, corruption="masking", sparsity=0.1),
    VAETransformer(**THREE_EPOCHS_8_UNITS, kl_warmup=1, corruption="gaussian"),
    AutoencoderTransformer(
        **THREE_EPOCHS_8_UNITS,
        encoder=TinyEncoder,
        encoder_params={"width": 6},
        decoder=TinyDecoder,
    ),
    VAETransformer(**THREE_EPOCHS_8_UNITS, kl_warmup=1, encoder=TinyEncoder, decoder=TinyDecoder),
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

# Checks expected to fail, each with the reason it fails.
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


EXPECTED_FAILED_CHECKS["ConditionalVAETransformer"] = {
    "check_sample_weight_equivalence_on_dense_data": _VAE_WEIGHTS,
}


def _expected_failed_checks(estimator):
    name = type(estimator).__name__
    if getattr(estimator, "init", None) == "pca":
        name += "(init='pca')"
    failed = dict(EXPECTED_FAILED_CHECKS.get(name, {}))
    if name == "AutoencoderTransformer" and estimator.encoder is not None:
        failed["check_sample_weight_equivalence_on_dense_data"] = (
            "User networks train on the plain step, where weighted and repeated "
            "rows train the same network up to float32 rounding, which can reach "
            "a relative difference above the check's 1e-7 in a code."
        )
    plain_kernels = not (_fast.enabled() and _onednn.available())
    new_network = getattr(estimator, "corruption", None) is not None or (
        getattr(estimator, "encoder", None) is not None
    )
    if plain_kernels and new_network:
        failed["check_methods_subset_invariance"] = (
            "float32 matrix kernels pick their code path by the number of rows, so a "
            "row's code can differ in its last bits between a batch of 20 rows and a "
            "smaller one (transform; score_samples runs in fixed blocks and is exact); "
            "the check allows a relative 1e-7."
        )
    if getattr(estimator, "corruption", None) is not None:
        failed["check_sample_weight_equivalence_on_dense_data"] = (
            "A denoising model draws fresh noise for each copy of a repeated row, "
            "and one draw for a weighted row: different stochastic objectives "
            "with the same expectation (as the VAE's draws)."
        )
    return failed


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


try:
    from imblearn.utils.estimator_checks import (
        parametrize_with_checks as parametrize_with_sampler_checks,
    )

    from skaevae import VAEOverSampler
except ImportError:  # pragma: no cover - imbalanced-learn is an optional extra
    parametrize_with_sampler_checks = None

if parametrize_with_sampler_checks is not None:

    @parametrize_with_sampler_checks(
        [
            VAEOverSampler(
                estimator=ConditionalVAETransformer(**THREE_EPOCHS_8_UNITS, kl_warmup=1),
                random_state=0,
            )
        ],
        expected_failed_checks=lambda sampler: {
            "check_samplers_pandas_sparse": (
                "imbalanced-learn runs this check for every sampler that takes "
                "DataFrames, whatever its sparse tag; the model reads dense rows only "
                "and says so (TypeError: 'Sparse data was passed ...')."
            )
        },
    )
    def test_imblearn_compatible_sampler(estimator, check):
        check(estimator)
