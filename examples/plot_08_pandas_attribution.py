"""
====================================================
DataFrames in and out, and why a row looks anomalous
====================================================

Our transformers follow scikit-learn's ``set_output`` API: with
``set_output(transform="pandas")`` the codes come back as a
:class:`pandas.DataFrame` with named columns. And
:meth:`skaevae.OutlierDetector.feature_attributions` says, for each row, how
much each feature contributes to its anomaly score, with the feature names of
the DataFrame the detector was fitted on.
"""

# %%
# Codes as a DataFrame
# --------------------
import matplotlib.pyplot as plt
from sklearn.datasets import load_breast_cancer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skaevae import OutlierDetector, VAETransformer

X = load_breast_cancer(as_frame=True).data
pipe = make_pipeline(
    StandardScaler(), VAETransformer(n_components=4, max_iter=100, random_state=0)
).set_output(transform="pandas")
codes = pipe.fit_transform(X)
print(codes.head())

# %%
# The columns are named by :meth:`~skaevae.VAETransformer.get_feature_names_out`
# and the index is X's, so the codes can be joined back to the data.
print(pipe.get_feature_names_out())

# %%
# Which rows are anomalous, and why?
# ----------------------------------
# Fit the detector on the DataFrame; its per-feature attributions come back
# as a DataFrame with the same columns and index.
detector = OutlierDetector(random_state=0).fit(X)
scores = detector.score_samples(X)
attributions = detector.feature_attributions(X)
print(type(attributions).__name__, attributions.shape)

# The five rows with the lowest scores (most anomalous), and for each the
# three features contributing most.
worst = scores.argsort()[:5]
for row in X.index[worst]:
    top = attributions.loc[row].nlargest(3)
    print(f"row {row}: " + ", ".join(f"{name} ({value:.1f})" for name, value in top.items()))

# %%
# The attributions of those rows as a heat map: a bright cell is a feature the
# model could not predict from the others. Attributions split the
# reconstruction term of the score; a row flagged by the latent term (extreme
# along the structure the model learned, yet well reconstructed) has small
# attributions throughout.
top_features = attributions.loc[X.index[worst]].sum().nlargest(10).index
fig, ax = plt.subplots(figsize=(8, 3.5), layout="constrained")
image = ax.imshow(attributions.loc[X.index[worst], top_features], cmap="magma")
ax.set_xticks(range(len(top_features)), labels=top_features, rotation=45, ha="right")
ax.set_yticks(range(len(worst)), labels=[f"row {row}" for row in X.index[worst]])
fig.colorbar(image, ax=ax, label="attribution")
ax.set_title("Feature attributions of the five most anomalous rows")
plt.show()
