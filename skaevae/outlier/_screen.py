"""The outlier detector's screen: which training rows its final model is fitted on.

Training data for unsupervised detection may contain the anomalies themselves.
With ``support_fraction``, :class:`~skaevae.OutlierDetector` first fits a
screening model on all rows (PCA for the default networks, see
``make_default_screen`` in ``_defaults.py``; a clone of the
estimator itself otherwise), ranks the rows by the screen's anomaly, keeps
the ``support_fraction`` most normal ones (the support), and fits the final
model and its score statistics on those rows only, so that the anomalies
shape neither the model nor the scale of the terms.
"""

import math

import numpy as np


def screen_anomaly(method, terms, score_samples):
    """The anomaly by which the screen ranks the training rows; higher is more abnormal.

    Parameters
    ----------
    method : str
        The detector's score, with ``"auto"`` resolved.

    terms : tuple of two ndarrays of shape (n_samples,) or None
        The screen's normalised reconstruction and latent terms of the rows.

    score_samples : callable
        Returns the detector's ``score_samples`` of the rows under the screen.

    Returns
    -------
    anomaly : ndarray of shape (n_samples,)
        With ``"combined"``, the sum of the two terms, the whole of their
        evidence (the larger term alone, which is the final score, chooses a
        noisier support). Otherwise minus the score.
    """
    if method == "combined":
        return np.add(*terms)
    return -score_samples()


def support_rows(anomaly, support_fraction):
    """Mask of the ``support_fraction`` of rows with the lowest anomaly, at least two.

    Ties at the cut are all kept, so the support never depends on row order
    (and may be larger than the fraction).
    """
    n_support = max(2, int(math.ceil(support_fraction * len(anomaly))))
    cut = np.partition(anomaly, n_support - 1)[n_support - 1]
    return anomaly <= cut


def support_weight(sample_weight, support):
    """The weights of the support rows, or None; an error when they are all zero."""
    if sample_weight is None:
        return None
    weight = sample_weight[support]
    if not weight.sum() > 0:
        raise ValueError("sample_weight is zero on all the support rows.")
    return weight
