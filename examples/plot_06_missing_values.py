"""
=============================================
Filling holes in a table, and their spread
=============================================

:class:`~skaevae.VAEImputer` trains a variational autoencoder on the observed
entries of a table with holes, then predicts each missing entry from the
observed entries of its row, blending the VAE's prediction with that of
gradient-boosted trees on the other columns, per column. Here a fifth of
the entries of a real table are hidden at random, the imputer fills them,
and the filled values are compared
with the truth, next to scikit-learn's imputers. With
``sample_posterior=True`` the imputer draws the holes instead, and the spread
of several draws says how sure each filled value is.

The data are scikit-learn's wine recognition table: 178 wines, 13 chemical
measurements.
"""

# %%
# Hide a fifth of the entries
# ---------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_wine
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer
from sklearn.preprocessing import StandardScaler

from skaevae import VAEImputer

wine = load_wine()
X = StandardScaler().fit_transform(wine.data)
rng = np.random.default_rng(0)
holes = rng.random(X.shape) < 0.2
X_missing = np.where(holes, np.nan, X)
print(f"{holes.sum()} of {holes.size} entries hidden; rows with a hole: {holes.any(axis=1).sum()}")

# %%
# Impute, and compare with the truth
# ----------------------------------
# The imputer needs no preprocessing and returns the observed entries as
# given; the error is measured on the hidden entries only (the data are
# standardised, so the mean imputation's error is about 1).
imputers = {
    "mean": SimpleImputer(),
    "KNN (5 neighbours)": KNNImputer(),
    "MICE": IterativeImputer(max_iter=10, random_state=0),
    "VAEImputer": VAEImputer(random_state=0),
}
filled = {name: imputer.fit_transform(X_missing) for name, imputer in imputers.items()}
for name, X_filled in filled.items():
    rmse = np.sqrt(np.mean((X_filled[holes] - X[holes]) ** 2))
    print(f"{name:20s} RMSE on the hidden entries: {rmse:.3f}")
assert np.array_equal(filled["VAEImputer"][~holes], X_missing[~holes])

# %%
# Each hidden entry against its true value, for the mean and the VAE: the
# mean puts every hole at 0, the VAE reads the rest of the row.
fig, ax = plt.subplots(figsize=(5, 5))
ax.scatter(X[holes], filled["VAEImputer"][holes], s=8, alpha=0.6, label="VAEImputer")
ax.scatter(X[holes], filled["mean"][holes], s=8, alpha=0.6, label="mean")
ax.axline((0, 0), slope=1, color="grey", lw=1)
ax.set_xlabel("true value (standardised)")
ax.set_ylabel("imputed value")
ax.legend()
_ = ax.set_title("Hidden entries of the wine table")

# %%
# Multiple imputation: the spread of the draws
# --------------------------------------------
# With ``sample_posterior=True`` each call draws the holes from the model's
# ``p(x_mis | x_obs)``; the fitted model is reused and only ``random_state``
# changes between draws. An interval from the draws should contain the
# truth about as often as it claims to.
sampler = VAEImputer(sample_posterior=True, random_state=0).fit(X_missing)
draws = np.stack([sampler.set_params(random_state=seed).transform(X_missing) for seed in range(30)])
low, high = np.percentile(draws, [5, 95], axis=0)
inside = (X[holes] >= low[holes]) & (X[holes] <= high[holes])
print(f"90% intervals from 30 draws contain the true value for {inside.mean():.0%} of holes")

column = list(wine.feature_names).index("flavanoids")
rows = np.flatnonzero(holes[:, column])[:25]
fig, ax = plt.subplots(figsize=(8, 4))
ax.errorbar(
    np.arange(len(rows)),
    draws[:, rows, column].mean(axis=0),
    yerr=draws[:, rows, column].std(axis=0),
    fmt="o",
    label="draws: mean ± sd",
)
ax.scatter(np.arange(len(rows)), X[rows, column], color="black", marker="x", label="true value")
ax.set_xlabel("wine with flavanoids hidden")
ax.set_ylabel("flavanoids (standardised)")
ax.legend()
ax.set_title("Thirty imputations of each hole")
plt.show()
