"""skaevae: scikit-learn-compatible autoencoder and variational-autoencoder estimators."""

from ._autoencoder import AutoencoderTransformer
from ._outlier import OutlierDetector
from ._vae import VAETransformer

__version__ = "0.1.0"

__all__ = ["AutoencoderTransformer", "OutlierDetector", "VAETransformer", "__version__"]
