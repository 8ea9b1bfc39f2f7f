"""Plain helpers that need no network: checks, seeds, chunk sizes, PCA, tables, budgets.

May import numpy, pandas, scipy, scikit-learn and torch, but nothing of
skaevae outside this folder; every other layer may import from here.
"""
