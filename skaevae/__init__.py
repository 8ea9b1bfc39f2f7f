"""skaevae: scikit-learn-compatible autoencoder and variational-autoencoder estimators."""

from importlib.util import find_spec

from .impute._imputer import VAEImputer
from .models._autoencoder import AutoencoderTransformer
from .models._conditional import ConditionalVAETransformer
from .models._vae import VAETransformer
from .outlier._detector import OutlierDetector

__version__ = "0.1.0"

__all__ = [
    "AutoencoderTransformer",
    "ConditionalVAETransformer",
    "OutlierDetector",
    "VAEImputer",
    "VAETransformer",
    "__version__",
]

# VAEOverSampler is an imbalanced-learn sampler: it is imported on first use,
# and listed only where imbalanced-learn is installed.
if find_spec("imblearn") is not None:
    __all__.append("VAEOverSampler")


def __getattr__(name):
    if name == "VAEOverSampler":
        try:
            from .oversample._sampler import VAEOverSampler
        except ModuleNotFoundError as error:
            if error.name is None or not error.name.startswith("imblearn"):
                raise
            raise ImportError(
                "VAEOverSampler needs imbalanced-learn: pip install 'skaevae[imbalanced]'."
            ) from error
        return VAEOverSampler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *__all__})
