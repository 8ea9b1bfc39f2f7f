"""OutlierDetector: anomaly scores from any model with a reconstruction or a density.

An application of the estimators: it uses their public and documented
methods only. May import :mod:`skaevae.models` and :mod:`skaevae.utils`.
"""
