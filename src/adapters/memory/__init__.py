"""In-process adapters: the presence store of a single instance (its embedded default)."""
