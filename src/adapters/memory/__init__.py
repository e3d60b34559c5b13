"""In-process adapters: the embedded default of a single instance, and the unit tests' store."""
