"""The pieces of benchmarks/compare.py: child processes, servers, the Node load, the
scenarios and the report."""
