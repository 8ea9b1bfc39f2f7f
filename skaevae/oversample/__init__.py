"""oversample."""
