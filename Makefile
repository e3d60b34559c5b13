# `make run` serves the embedded default, `make test` runs the whole suite, `make bench`
# measures the gateway against its peers (docs/benchmarks.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "presence-gateway needs Python 3.11 or newer (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/presence-gateway serve

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The gateway against the Node and bare python-socketio peers; writes docs/benchmarks.md.
# BENCH_ARGS='--quick --runs 1' for a smoke run; see benchmarks/compare.py --help.
bench: $(STAMP)
	$(BIN)/python benchmarks/compare.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) data
