"""
=====================================================
Choosing ``n_components`` and ``beta`` by grid search
=====================================================

Our estimators are ordinary scikit-learn estimators, so their
hyper-parameters can be tuned with :class:`~sklearn.model_selection.GridSearchCV`
inside a :class:`~sklearn.pipeline.Pipeline`. Two ways to score a VAE:

1. Without labels: :meth:`~skaevae.VAETransformer.score` is the mean held-out
   log-likelihood per row, so ``GridSearchCV`` needs no ``scoring`` and picks
   the model that best explains unseen data (the criterion
   :meth:`sklearn.decomposition.PCA.score` offers for PCA).
2. With labels: the accuracy of a classifier trained on the codes.

The networks are trained for few epochs to keep this example fast.
"""

# %%
# Held-out log-likelihood, no labels needed
# -----------------------------------------
import matplotlib.pyplot as plt
import pandas as pd
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skaevae import VAETransformer

X, y = load_digits(return_X_y=True)
pipe = Pipeline(
    [
        ("scale", StandardScaler()),
        ("vae", VAETransformer(hidden_layer_sizes=(64,), max_iter=30, random_state=0)),
    ]
)
param_grid = {"vae__n_components": [2, 8], "vae__beta": [0.5, 1.0, 4.0]}
search = GridSearchCV(pipe, param_grid, cv=3).fit(X)

results = pd.DataFrame(search.cv_results_)
scores = results.pivot(
    index="param_vae__beta", columns="param_vae__n_components", values="mean_test_score"
)
print(scores.round(1))
print("best:", search.best_params_)

fig, ax = plt.subplots(figsize=(5, 3.5), layout="constrained")
for n_components, column in scores.items():
    ax.plot(scores.index, column, marker="o", label=f"n_components={n_components}")
ax.set_xscale("log", base=2)
ax.set_xticks(scores.index, [f"{beta:g}" for beta in scores.index])
ax.set_xlabel("beta")
ax.set_ylabel("held-out log-likelihood (nats/image)")
ax.legend()
plt.show()

# %%
# The score is a log-likelihood in nats per image (of the standardised
# pixels; higher is better). A wider code explains the images better, and a
# strong KL weight (``beta=4``) costs likelihood, most of all with the wider
# code. With ``beta=1`` the training objective is a bound on the
# log-likelihood itself; that a smaller ``beta`` can still score higher after
# this short training is the kind of thing the search is there to find.
#
# Downstream accuracy
# -------------------
# With labels, a search can score the whole pipeline by a classifier's
# accuracy on the codes; here over ``beta`` with an 8-wide code. A larger
# ``beta`` trades reconstruction for a smoother, more regular latent space;
# whether that helps a classifier is an empirical question, which the search
# answers for this data.
clf = Pipeline(
    [
        ("scale", StandardScaler()),
        (
            "vae",
            VAETransformer(n_components=8, hidden_layer_sizes=(64,), max_iter=30, random_state=0),
        ),
        ("classify", LogisticRegression(max_iter=1000)),
    ]
)
search = GridSearchCV(clf, {"vae__beta": [0.5, 1.0, 4.0]}, cv=3).fit(X, y)
results = pd.DataFrame(search.cv_results_)
print(results[["param_vae__beta", "mean_test_score", "std_test_score"]].round(3))
print("best:", search.best_params_)
