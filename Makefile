# `make run` serves the embedded default, `make test` runs ruff, mypy and the whole suite
# (`make lint` the first two alone), `make bench` measures the gateway against its peers
# (docs/benchmarks.md), `make capacity` what one Redis primary carries (docs/scaling.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The demo page's Socket.IO client: npm's socket.io-client, never committed.
WEB_STAMP := web/node_modules/.installed
# The stock socket.io-client the README's Node example and the load-balancer test run.
EXAMPLES_STAMP := examples/node_modules/.installed
# The JavaScript client (clients/js): its packages and its build (dist/), which the demo
# page loads and the client's own tests (tests/e2e/test_js_client.py) run.
CLIENT_STAMP := clients/js/node_modules/.installed
CLIENT_BUILD := clients/js/dist/index.js
NPM ?= npm

.PHONY: run test lint bench capacity openapi clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "presence-gateway needs Python 3.11 or newer (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

# Without npm (or the registry) the gateway still serves; its page at / says the script is missing.
$(WEB_STAMP): web/package.json web/package-lock.json
	@if ! command -v $(NPM) >/dev/null 2>&1; then \
	  echo "$(NPM) not found: the demo page at / will say its Socket.IO client is missing (install Node.js and npm)"; \
	elif $(NPM) ci --prefix web --no-audit --no-fund --loglevel=error; then \
	  touch $(WEB_STAMP); \
	else \
	  echo "npm ci --prefix web failed: the demo page at / will say its Socket.IO client is missing"; \
	fi

$(EXAMPLES_STAMP): examples/package.json examples/package-lock.json
	@if ! command -v $(NPM) >/dev/null 2>&1; then \
	  echo "$(NPM) not found: the Node example tests will fail (install Node.js and npm)"; \
	else \
	  $(NPM) ci --prefix examples --no-audit --no-fund --loglevel=error && touch $(EXAMPLES_STAMP); \
	fi

$(CLIENT_STAMP): clients/js/package.json clients/js/package-lock.json
	@if ! command -v $(NPM) >/dev/null 2>&1; then \
	  echo "$(NPM) not found: the JavaScript client is not built; the demo page says so and its tests are skipped (install Node.js and npm)"; \
	else \
	  $(NPM) ci --prefix clients/js --no-audit --no-fund --loglevel=error && touch $(CLIENT_STAMP); \
	fi

$(CLIENT_BUILD): $(CLIENT_STAMP) $(wildcard clients/js/src/*.ts) clients/js/tsconfig.json clients/js/tsconfig.build.json
	@if [ -f $(CLIENT_STAMP) ]; then $(NPM) run --silent --prefix clients/js build; fi

run: $(STAMP) $(WEB_STAMP) $(CLIENT_BUILD)
	$(BIN)/presence-gateway serve

# ruff and mypy first (configured in pyproject.toml): a lint or type error fails in seconds.
test: $(STAMP) $(WEB_STAMP) $(EXAMPLES_STAMP) $(CLIENT_BUILD) lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# mypy reads the installed name the tests import, presence_gateway, through this link
# (an editable install's mapping is one mypy cannot follow).
TYPECHECK := $(VENV)/typecheck/presence_gateway

$(TYPECHECK): | $(STAMP)
	mkdir -p $(VENV)/typecheck && ln -sfn $(CURDIR)/src $(TYPECHECK)

lint: $(STAMP) $(TYPECHECK)
	$(BIN)/ruff check .
	$(BIN)/mypy

# The gateway against the Node and bare python-socketio peers; writes docs/benchmarks.md.
# BENCH_ARGS='--quick --runs 1' for a smoke run; see benchmarks/compare.py --help.
bench: $(STAMP)
	$(BIN)/python benchmarks/compare.py $(BENCH_ARGS)

# What one Redis primary spends per event, user and change; writes docs/scaling.md's tables.
capacity: $(STAMP)
	$(BIN)/python benchmarks/redis_capacity.py $(CAPACITY_ARGS)

# docs/openapi.json, generated from the routes' models (tests/unit/test_openapi.py compares).
openapi: $(STAMP)
	$(BIN)/python -m presence_gateway.entrypoints.http.openapi > docs/openapi.json

clean:
	rm -rf $(VENV) data web/node_modules examples/node_modules clients/js/node_modules clients/js/dist test-artefacts
