# Fleetdeck: two commands.
#   make run    set up and start the whole console (web, worker, beat, watcher, events, demo AWS)
#   make test   set up and run every check: ruff, mypy, import contracts, pytest (SQLite + PostgreSQL)
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test lint typecheck pytest system-deps bench soak clean help
.DEFAULT_GOAL := help

help:
	@echo "make run    start Fleetdeck at http://127.0.0.1:$${PORT:-8000}/ (demo fleet included)"
	@echo "make test   run every check and test (installs what is missing)"
	@echo "make soak   run the heavy reliability variants (pytest -m soak)"
	@echo "make bench  run the benchmarks under bench/ and rewrite docs/performance.md"

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet ".[demo]"
	@touch $@

$(DEV_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet ".[demo,dev]"
	@touch $@ $(RUN_STAMP)

run: $(RUN_STAMP)
	@scripts/run.sh

system-deps:
	@scripts/system-deps.sh

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(PY) scripts/import_cycles.py
	@# Models and migrations agree; the system checks it runs include
	@# django-linear-migrations' (each app's max_migration.txt names its one leaf).
	DJANGO_SETTINGS_MODULE=console.settings_test $(PY) manage.py makemigrations --check --dry-run

typecheck: $(DEV_STAMP)
	$(VENV)/bin/mypy .

pytest: $(DEV_STAMP) system-deps
	@scripts/test.sh

test: lint typecheck pytest

bench: $(DEV_STAMP) system-deps
	$(PY) scripts/services.py -- $(PY) bench/run_all.py

# Heavy fault variants (20 faulted syncs of 1,000 tasks, ...): pytest -m soak with real peers.
soak: $(DEV_STAMP) system-deps
	$(PY) scripts/services.py -- $(VENV)/bin/pytest -p no:cacheprovider -m soak tests/

clean:
	rm -rf $(VENV) artifacts .pytest_cache .mypy_cache .ruff_cache
