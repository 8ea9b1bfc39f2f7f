"""impute."""
