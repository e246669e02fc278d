# hotline-router — two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup run test lint typecheck unit services bench schemas clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,embedded]'
	@touch $@

services: setup
	$(BIN)/python -m router.devservices

run: setup services
	$(BIN)/hotline-router demo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

unit: setup
	$(BIN)/pytest tests/unit -q

# ruff, mypy, then the whole suite against the real RabbitMQ and a real MongoDB-protocol server.
# pytest exits 5 when it collected nothing: that fails here like any other non-zero exit.
test: setup services lint typecheck
	$(BIN)/pytest -q

bench: setup services
	$(BIN)/hotline-router bench

schemas: setup
	$(BIN)/python -m schemas.export docs/schemas

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
