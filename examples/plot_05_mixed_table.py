"""
=============================================
A mixed-type table in, synthetic rows out
=============================================

Real tables mix continuous measurements, whole-number counts and categories.
:class:`~skaevae.VAETransformer` reads such a :class:`pandas.DataFrame`
directly: it infers each column's type from its dtype (or from
``column_types``), standardises numeric columns inside the model, and gives
each column a likelihood of its type: a mixture of Gaussians for a continuous
column, the same mixture on the integers for an integer column, and a
categorical distribution for a category. :meth:`~skaevae.VAETransformer.sample`
then returns new rows in the table's own schema.

The data are scikit-learn's wine recognition table: 178 wines from three
cultivars, with 13 chemical measurements. Two of them, magnesium and proline,
are whole numbers stored as floats, which makes them integer columns; the
cultivar is added as a category.
"""

# %%
# The table
# ---------
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.datasets import load_wine

from skaevae import VAETransformer

wine = load_wine(as_frame=True)
X = wine.data.assign(
    cultivar=pd.Categorical.from_codes(wine.target, ["barolo", "grignolino", "barbera"])
)
print(X[["alcohol", "magnesium", "proline", "cultivar"]].head())

# %%
# Fit and sample
# --------------
# No scaler and no encoder in front: the model does both. ``column_types_``
# shows the type each column got; ``column_types`` would override it.
vae = VAETransformer(n_components=4, max_iter=300, random_state=0).fit(X)
print({name: kind for name, kind in vae.column_types_.items() if kind != "continuous"})

synthetic = vae.sample(len(X), random_state=0)
print(synthetic[["alcohol", "magnesium", "proline", "cultivar"]].head())
print(synthetic.dtypes.value_counts())

# %%
# The synthetic rows have the table's columns and dtypes: values within the
# range seen in training, with as many decimals (magnesium and proline whole
# numbers), and cultivar a category with the fitted categories. The codes are an ordinary float
# matrix, as for any transformer:
codes = vae.transform(X)
print(codes.shape, vae.get_feature_names_out())

# %%
# Real and synthetic rows, column by column
# -----------------------------------------
# The distribution of each column, and the share of each cultivar.
columns = ["alcohol", "flavanoids", "color_intensity", "magnesium", "proline"]
fig, axes = plt.subplots(1, 6, figsize=(14, 2.8), layout="constrained")
for ax, column in zip(axes, columns, strict=False):
    bins = np.histogram_bin_edges(X[column], bins=20)
    ax.hist(X[column], bins=bins, alpha=0.6, label="real", density=True)
    ax.hist(synthetic[column], bins=bins, alpha=0.6, label="synthetic", density=True)
    ax.set_title(column, fontsize=9)
    ax.set_yticks([])
shares = pd.DataFrame(
    {
        "real": X["cultivar"].value_counts(normalize=True),
        "synthetic": synthetic["cultivar"].value_counts(normalize=True),
    }
)
shares.plot.bar(ax=axes[-1], legend=False, rot=30, fontsize=8)
axes[-1].set_title("cultivar", fontsize=9)
axes[0].legend(fontsize=8)
plt.show()

# %%
# The model also learned how columns go together: the cultivars differ in
# their chemistry, and so do the synthetic rows of each cultivar.
summary = pd.concat(
    {
        "real": X.groupby("cultivar", observed=True)[["flavanoids", "proline"]].mean(),
        "synthetic": synthetic.groupby("cultivar", observed=True)[["flavanoids", "proline"]].mean(),
    },
    axis=1,
)
print(summary.round(2))

# %%
# Rows of a chosen value
# ----------------------
# ``sample(n, conditions={column: value})`` draws rows given the values of
# some columns, here a cultivar, without rejecting any: the codes are
# resampled by how likely each makes the given value, so the other columns
# follow it as far as the model learned how they depend on it.
barbera = vae.sample(200, random_state=0, conditions={"cultivar": "barbera"})
print(barbera["cultivar"].unique().tolist())
print(barbera[["flavanoids", "proline"]].mean().round(2).to_dict())

# %%
# Scores in nats
# --------------
# :meth:`~skaevae.VAETransformer.score_samples` is the log-likelihood of each
# row: densities of continuous columns in their own units, probabilities of
# integer and categorical values. A row whose cultivar is swapped for another
# one scores lower.
swapped = X.head(5).assign(cultivar=pd.Categorical(["barbera"] * 5, dtype=X["cultivar"].dtype))
print("as recorded:", vae.score_samples(X.head(5)).round(1))
print("swapped:    ", vae.score_samples(swapped).round(1))
