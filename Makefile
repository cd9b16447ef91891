# recograph: `make run` sets everything up and serves; `make test` runs lint, types and tests.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA := var/demo
DB_URL ?= sqlite+aiosqlite:///var/recograph.db
ARTIFACTS ?= artifacts

.PHONY: run test lint typecheck pytest bench notebook data artifacts clean install

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,spark]'
	@touch $(STAMP)

install: $(STAMP)

$(DATA)/products.json: | $(STAMP)
	$(BIN)/recograph demo-data --out $(DATA)

var/recograph.db: $(DATA)/products.json
	$(BIN)/recograph import --data $(DATA) --database-url $(DB_URL)

data: var/recograph.db

$(ARTIFACTS)/current: | var/recograph.db
	$(BIN)/recograph build --data $(DATA) --artifacts $(ARTIFACTS) --tune

artifacts: $(ARTIFACTS)/current

run: $(STAMP) data artifacts
	$(BIN)/recograph serve --artifacts $(ARTIFACTS) --database-url $(DB_URL)

lint: $(STAMP)
	$(BIN)/ruff format --check src tests scripts
	$(BIN)/ruff check src tests scripts

typecheck: $(STAMP)
	$(BIN)/mypy

# Browsers, Java (Spark) and a throwaway PostgreSQL are installed/started by the project itself.
pytest: $(STAMP)
	bash scripts/ensure_chromium.sh
	@if [ -f scripts/ensure_java.sh ]; then bash scripts/ensure_java.sh; fi
	bash scripts/test_services.sh $(BIN)/pytest -q

test: lint typecheck pytest

bench: $(STAMP) artifacts
	$(BIN)/recograph bench build --scales 1,10,100 --stores var/bench-stores
	$(BIN)/recograph bench serve
	$(BIN)/recograph bench load --seconds 120 --rate 100
	$(BIN)/recograph bench scale --stores var/bench-stores

notebook: $(STAMP)
	@$(BIN)/python -c "import jupyterlab" 2>/dev/null || $(BIN)/pip install -q jupyterlab
	$(BIN)/jupyter lab notebooks/techheaven.ipynb

clean:
	rm -rf var $(ARTIFACTS) reports .pytest_cache .mypy_cache .ruff_cache
