# mcsim — the Message Center emulator. `make help` lists the targets.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.install-stamp
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install up test test-fast lint format clean

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || { echo "creating $(VENV)"; $(PYTHON) -m venv $(VENV); }
	@echo "installing mcsim and its development tools into $(VENV)"
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## Create .venv (if missing) and install mcsim with its dev tools

up: $(STAMP) ## Run the whole stack with demo data (Ctrl-C stops it)
	$(BIN)/mcsim up --demo

test: $(STAMP) ## Run the whole test suite (PostgreSQL too when MCSIM_TEST_POSTGRES_URL is set)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP) ## Run unit and integration tests only
	$(BIN)/python -m pytest tests/unit tests/integration $(PYTEST_ARGS)

lint: $(STAMP) ## Check style (ruff) and types (mypy --strict)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP) ## Reformat the code with ruff
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean: ## Remove the virtualenv, caches and the local data directory
	rm -rf $(VENV) .mcsim .pytest_cache .mypy_cache .ruff_cache *.egg-info
