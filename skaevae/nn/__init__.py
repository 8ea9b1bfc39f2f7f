"""The torch core: batch record, networks, likelihoods, per-row losses and modules.

Imports torch only (and the standard library): nothing of skorch, of
scikit-learn, or of the rest of skaevae. Everything here works on tensors.
"""
