"""The comparison of ``python -m skaevae``: PCA, autoencoder and VAE on sklearn's digits."""

import time

import numpy as np
import pandas as pd
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from .models._autoencoder import AutoencoderTransformer
from .models._vae import VAETransformer


def make_models(n_components, random_state):
    """The three models compared, with their default settings."""
    return {
        "PCA": PCA(n_components=n_components, random_state=random_state),
        "Autoencoder": AutoencoderTransformer(n_components=n_components, random_state=random_state),
        "VAE": VAETransformer(n_components=n_components, random_state=random_state),
    }


def load_split(random_state=0, return_scaler=False):
    """Digits standardised on a 75% training split; the rest held out.

    With ``return_scaler=True`` the fitted ``StandardScaler`` comes last, to
    map rows back to pixel values (the comparison's figures).
    """
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=random_state, stratify=y
    )
    scaler = StandardScaler().fit(X_train)
    split = scaler.transform(X_train), scaler.transform(X_test), y_train, y_test
    return (*split, scaler) if return_scaler else split


def compare(n_components=8, random_state=0):
    """Fit PCA, the autoencoder and the VAE on digits and measure them on held-out rows.

    Returns
    -------
    table : pandas.DataFrame
        One row per model: held-out reconstruction error (mean squared error
        per feature), held-out log-likelihood (mean nats per row, for the
        models that define one), held-out accuracy of a logistic regression
        trained on the codes, and fit time in seconds.
    models : dict
        The fitted models, by name.
    """
    X_train, X_test, y_train, y_test = load_split(random_state)
    rows, models = [], make_models(n_components, random_state)
    for name, model in models.items():
        start = time.perf_counter()
        model.fit(X_train)
        fit_seconds = time.perf_counter() - start
        reconstruction = model.inverse_transform(model.transform(X_test))
        # The autoencoder has no likelihood: its score is a reconstruction error.
        log_likelihood = np.nan if name == "Autoencoder" else model.score(X_test)
        classifier = LogisticRegression(max_iter=2000).fit(model.transform(X_train), y_train)
        rows.append(
            {
                "model": name,
                "reconstruction MSE": float(np.mean((reconstruction - X_test) ** 2)),
                "log-likelihood": log_likelihood,
                "accuracy on codes": classifier.score(model.transform(X_test), y_test),
                "fit seconds": fit_seconds,
            }
        )
    return pd.DataFrame(rows).set_index("model"), models
