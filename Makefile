# recograph: `make run` sets everything up and serves; `make test` runs lint, types and tests.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# `make run` installs the package and the lab (lab/: demo data, benchmarks, simulator; the
# product never imports it); `make test` adds the dev tools and the Spark extra
# (pyspark alone is ~490 MB). pip shows what it downloads and installs (pip is upgraded
# first: the bundled 23.2 shows no bar while installing, current pip does).
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
PIP_INSTALL := $(BIN)/pip install --progress-bar on --disable-pip-version-check
DATA := var/demo
DB_URL ?= sqlite+aiosqlite:///var/recograph.db
ARTIFACTS ?= artifacts

.PHONY: run test lint imports typecheck pytest bench notebook data artifacts clean install install-test

$(STAMP): pyproject.toml lab/pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing recograph and its lab into $(VENV) (serving, local builds, demo data)"
	$(PIP_INSTALL) --upgrade pip
	$(PIP_INSTALL) -e . -e lab
	@touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	@echo "installing the dev tools and the Spark extra into $(VENV)"
	$(PIP_INSTALL) -e '.[dev,spark]' -e lab
	@touch $(TEST_STAMP)

install: $(STAMP)

install-test: $(TEST_STAMP)

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

lint: $(TEST_STAMP)
	$(BIN)/ruff format --check src lab tests scripts notebooks
	$(BIN)/ruff check src lab tests scripts notebooks

typecheck: $(TEST_STAMP)
	$(BIN)/mypy

# Imports run one way, without cycles: the contracts are in pyproject.toml ([tool.importlinter]).
imports: $(TEST_STAMP)
	$(BIN)/lint-imports

# Browsers, Java (Spark) and a throwaway PostgreSQL are installed/started by the project itself.
pytest: $(TEST_STAMP)
	bash scripts/ensure_chromium.sh
	@if [ -f scripts/ensure_java.sh ]; then bash scripts/ensure_java.sh; fi
	bash scripts/test_services.sh $(BIN)/pytest -q

test: lint imports typecheck pytest

bench: $(STAMP) artifacts
	$(BIN)/recograph bench build --scales 1,10,100 --stores var/bench-stores
	$(BIN)/recograph bench serve
	$(BIN)/recograph bench load --seconds 120 --rate 100
	$(BIN)/recograph bench scale --stores var/bench-stores

notebook: $(TEST_STAMP)
	@$(BIN)/python -c "import jupyterlab" 2>/dev/null || $(BIN)/pip install -q jupyterlab
	$(BIN)/jupyter lab notebooks/techheaven.ipynb

clean:
	rm -rf var $(ARTIFACTS) reports .pytest_cache .mypy_cache .ruff_cache
