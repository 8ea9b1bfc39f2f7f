"""Collection rules for the doctests of the package's modules."""

from importlib.util import find_spec

# VAEOverSampler's module imports imbalanced-learn, an optional extra.
collect_ignore = [] if find_spec("imblearn") else ["skaevae/oversample/_sampler.py"]
