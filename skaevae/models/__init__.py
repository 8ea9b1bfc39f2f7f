"""The estimators: the autoencoder, the VAE and the conditional VAE.

Validation, the scikit-learn API and fitted attributes; each estimator owns
a skorch net (``net_``) built in ``fit``. May import everything below it:
:mod:`skaevae.nn`, :mod:`skaevae.train` and :mod:`skaevae.utils`.
"""
