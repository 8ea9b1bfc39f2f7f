"""skaevae: scikit-learn-compatible autoencoder and variational-autoencoder estimators."""

from ._autoencoder import AutoencoderTransformer
from ._impute import VAEImputer
from ._outlier import OutlierDetector
from ._vae import VAETransformer

__version__ = "0.1.0"

__all__ = [
    "AutoencoderTransformer",
    "OutlierDetector",
    "VAEImputer",
    "VAETransformer",
    "__version__",
]
