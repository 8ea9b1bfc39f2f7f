"""
=============================================================
Tabular anomaly detection: skaevae vs PCA and IsolationForest
=============================================================

:class:`skaevae.OutlierDetector` follows scikit-learn's outlier-detection
API, like :class:`~sklearn.ensemble.IsolationForest`: ``fit`` on unlabelled
(possibly contaminated) data, ``score_samples`` (higher = more normal),
``decision_function`` and ``predict`` (+1 inlier, -1 outlier).

We compare it on a labelled anomaly-detection dataset with two baselines:

* the reconstruction error of a :class:`~sklearn.decomposition.PCA` keeping
  90% of the variance, the classical linear detector;
* :class:`~sklearn.ensemble.IsolationForest`, the usual strong default.

The labels are used only to draw ROC curves, never for fitting.
"""

# %%
# Data
# ----
# scikit-learn's breast-cancer data, with a few malignant tumours among the
# benign ones as the anomalies. Where the environment variable
# ``SKAEVAE_ADBENCH_DIR`` names a folder of ADBench's ``.npz`` files, the
# example reads ``cardio`` from it instead (1,831 cardiotocography records,
# 21 features, 9.6% pathological).
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.metrics import RocCurveDisplay, roc_auc_score
from sklearn.preprocessing import StandardScaler

from skaevae import OutlierDetector


def load_data():
    """Features X, labels y (1 = anomaly) and the data set's name."""
    adbench = os.environ.get("SKAEVAE_ADBENCH_DIR")
    path = Path(adbench, "6_cardio.npz") if adbench else None
    if path is not None and path.exists():
        data = np.load(path)
        return data["X"], data["y"].astype(int), "ADBench cardio"
    X, y = load_breast_cancer(return_X_y=True)
    # In load_breast_cancer, 0 is malignant: keep all benign rows and 20
    # malignant ones as the anomalies.
    rng = np.random.RandomState(0)
    malignant = rng.choice(np.flatnonzero(y == 0), size=20, replace=False)
    keep = np.concatenate([np.flatnonzero(y == 1), malignant])
    return X[keep], (y[keep] == 0).astype(int), "breast cancer (20 malignant)"


X, y, dataset = load_data()
print(f"{dataset}: {X.shape[0]} rows, {X.shape[1]} features, {y.mean():.1%} anomalies")

# %%
# Fit the three detectors, unsupervised
# -------------------------------------
# The detector standardises the data itself; the baselines get a
# StandardScaler first, as in the ADBench protocol.
X_scaled = StandardScaler().fit_transform(X)

detector = OutlierDetector(random_state=0).fit(X)
pca = PCA(n_components=0.9, random_state=0).fit(X_scaled)
forest = IsolationForest(random_state=0).fit(X_scaled)

# Anomaly scores: higher = more anomalous, the convention of ROC curves.
pca_error = np.square(X_scaled - pca.inverse_transform(pca.transform(X_scaled))).sum(axis=1)
anomaly_scores = {
    "skaevae OutlierDetector": -detector.score_samples(X),
    "PCA reconstruction error": pca_error,
    "IsolationForest": -forest.score_samples(X_scaled),
}
for name, score in anomaly_scores.items():
    print(f"{name:26s} ROC-AUC {roc_auc_score(y, score):.3f}")

# %%
# ROC curves
# ----------
fig, ax = plt.subplots(figsize=(5.5, 5), layout="constrained")
for name, score in anomaly_scores.items():
    RocCurveDisplay.from_predictions(y, score, name=name, ax=ax)
ax.plot([0, 1], [0, 1], color="0.6", linestyle=":", label="chance")
ax.set_title(f"Anomaly detection on {dataset}")
ax.legend(loc="lower right", fontsize="small")
plt.show()

# %%
# Thresholds
# ----------
# ``predict`` flags rows whose score falls below ``offset_``: with the default
# ``contamination="auto"`` the detector chooses the threshold itself; a float
# instead asks for that fraction of the training rows to be flagged.
flagged = detector.predict(X) == -1
print(f"flagged {flagged.sum()} rows; {y[flagged].mean():.0%} of them are true anomalies")
