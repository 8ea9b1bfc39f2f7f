"""VAEOverSampler: an imbalanced-learn over-sampler around the conditional VAE.

Imported on first use (imbalanced-learn is an optional extra). An
application of the estimators: it uses their public and documented methods
only. May import :mod:`skaevae.models` and :mod:`skaevae.utils`.
"""
