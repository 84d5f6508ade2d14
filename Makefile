# mcsim — the Message Center emulator. `make help` lists the targets.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.install-stamp
PYTEST_ARGS ?=
# The suite runs in parallel (pytest-xdist): most of its time is spent waiting for processes
# to start and messages to arrive, so more workers than cores pays. TEST_WORKERS=0: one process.
TEST_WORKERS ?= 4
NODE_DIR := tests/node
NODE_STAMP := $(NODE_DIR)/node_modules/.package-lock.json

.DEFAULT_GOAL := help
.PHONY: help install node-deps browser up test test-fast test-chaos lint format clean

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || { echo "creating $(VENV)"; $(PYTHON) -m venv $(VENV); }
	@echo "installing mcsim and its development tools into $(VENV)"
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## Create .venv (if missing) and install mcsim with its dev tools

# npm ci writes node_modules/.package-lock.json: reinstall when it is missing or older than the
# lock file. Without node/npm the Adobe JS SDK tests are skipped (and say why); make goes on.
node-deps: ## Install the Node clients of the JS SDK tests (npm ci in tests/node) if missing or stale
	@if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then \
	  echo "node-deps: node or npm not found: the Adobe JS SDK tests (tests/system/test_js_sdk.py)"; \
	  echo "node-deps: will be skipped. Install Node.js 20.19+ with npm to run them."; \
	elif [ ! -f $(NODE_STAMP) ] || [ $(NODE_DIR)/package-lock.json -nt $(NODE_STAMP) ]; then \
	  echo "installing the Node clients of the JS SDK tests (npm ci --prefix $(NODE_DIR))"; \
	  npm ci --prefix $(NODE_DIR) --no-audit --no-fund --loglevel=error && touch $(NODE_STAMP); \
	fi

# The browser tests drive Debian's chromium (/usr/bin/chromium, or MCSIM_TEST_CHROMIUM) through
# Playwright. Installed with apt-get when it is missing and this user may (root, or sudo without
# a password); otherwise make says how and stops, since the browser tests cannot pass without it.
CHROMIUM ?= $(or $(MCSIM_TEST_CHROMIUM),/usr/bin/chromium)
browser: ## Install Debian's chromium for the browser tests if it is missing
	@if [ -x "$(CHROMIUM)" ]; then exit 0; fi; \
	if ! command -v apt-get >/dev/null 2>&1; then \
	  echo "browser: $(CHROMIUM) is missing and this machine has no apt-get: install Chromium and"; \
	  echo "browser: run make test MCSIM_TEST_CHROMIUM=/path/to/chromium"; exit 1; \
	fi; \
	if [ "$$(id -u)" = 0 ]; then SUDO=""; \
	elif sudo -n true >/dev/null 2>&1; then SUDO="sudo -n"; \
	else \
	  echo "browser: $(CHROMIUM) is missing and installing it needs root:"; \
	  echo "browser:   sudo apt-get install --no-install-recommends chromium"; exit 1; \
	fi; \
	echo "installing Debian's chromium for the browser tests (apt-get, a minute or two)"; \
	export DEBIAN_FRONTEND=noninteractive; \
	$$SUDO apt-get install -y -q --no-install-recommends chromium >/tmp/mcsim-apt.log 2>&1 \
	  || { $$SUDO apt-get update -q >>/tmp/mcsim-apt.log 2>&1 \
	       && $$SUDO apt-get install -y -q --no-install-recommends chromium >>/tmp/mcsim-apt.log 2>&1; } \
	  || { tail -n 20 /tmp/mcsim-apt.log; echo "browser: apt-get could not install chromium"; exit 1; }; \
	"$(CHROMIUM)" --version

up: $(STAMP) ## Run the whole stack with demo data (Ctrl-C stops it)
	$(BIN)/mcsim up --demo

test: $(STAMP) node-deps browser ## Run the whole test suite (PostgreSQL too when MCSIM_TEST_POSTGRES_URL is set)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

test-fast: $(STAMP) ## Run unit and integration tests only
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile tests/unit tests/integration $(PYTEST_ARGS)

test-chaos: $(STAMP) ## Run only the audited chaos scenarios (make test runs them too)
	$(BIN)/python -m pytest -n 2 -m chaos tests/system $(PYTEST_ARGS)

lint: $(STAMP) ## Check style (ruff) and types (mypy --strict)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP) ## Reformat the code with ruff
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean: ## Remove the virtualenv, caches and the local data directory
	rm -rf $(VENV) .mcsim .pytest_cache .mypy_cache .ruff_cache *.egg-info $(NODE_DIR)/node_modules
