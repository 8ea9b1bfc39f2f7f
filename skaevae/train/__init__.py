"""The training glue: the one place a skorch ``NeuralNet`` is built, seeded and trained.

The data path, the callbacks the estimators add, and, behind one door
(``_net.fast_training`` and ``_net.fast_inference``), the speed-only code of
``_fast/``. May import torch, skorch, :mod:`skaevae.nn` and
:mod:`skaevae.utils`.
"""
