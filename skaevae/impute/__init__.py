"""VAEImputer: missing values filled from a VAE's conditional distribution.

An application of the estimators: it uses their public and documented
methods only. May import :mod:`skaevae.models` and :mod:`skaevae.utils`.
"""
