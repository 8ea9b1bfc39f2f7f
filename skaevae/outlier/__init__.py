"""outlier."""
