# Two commands on a fresh machine with Python 3.11 and make:
#   make demo   installs Pilotage and runs the demo on http://127.0.0.1:8000 (demo / demo)
#   make test   installs Pilotage with its development tools and runs every check
# Versions are pinned in requirements/constraints.txt (regenerate with `make lock`).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
CONSTRAINTS := requirements/constraints.txt
EXTRAS ?= dev,spark

.PHONY: install demo test lint typecheck pytest pytest-postgres pytest-spark lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"

install: $(BIN)/python
	$(BIN)/python -m pip install --quiet --constraint $(CONSTRAINTS) "$(if $(EXTRAS),.[$(EXTRAS)],.)"

demo:
	$(MAKE) install EXTRAS=
	$(BIN)/pilotage demo

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

# The whole suite on SQLite, and again on PostgreSQL when PILOTAGE_TEST_POSTGRES_URL is
# set (.ci/run sets it; without it the PostgreSQL pass is skipped, and says so). The KPI
# engine's PostgreSQL tests run in the PostgreSQL pass only, so that the two passes can
# run side by side (`make test` does).
pytest: install
	DATABASE_URL= PILOTAGE_TEST_POSTGRES_URL= PILOTAGE_HOME=$$(mktemp -d) $(BIN)/python -m pytest

pytest-postgres: install
	@if [ -n "$$PILOTAGE_TEST_POSTGRES_URL" ]; then \
		DATABASE_URL="$$PILOTAGE_TEST_POSTGRES_URL" PILOTAGE_HOME=$$(mktemp -d) $(BIN)/python -m pytest; \
	else \
		echo "SKIPPED: the PostgreSQL pass needs PILOTAGE_TEST_POSTGRES_URL (e.g. postgresql://postgres@127.0.0.1:5432/postgres)"; \
	fi

# The KPI suite on Apache Spark (local mode, Java 17): slow to start, so a job of its own.
pytest-spark: install
	DATABASE_URL= PILOTAGE_HOME=$$(mktemp -d) $(BIN)/python -m pytest -m spark tests/engine

# The SQLite and PostgreSQL passes side by side (each mostly waits on one core: about a
# third less time in all), each printing its output when it ends; then the Spark job.
test: lint typecheck
	$(MAKE) --no-print-directory --jobs=2 --output-sync=target pytest pytest-postgres
	$(MAKE) --no-print-directory pytest-spark

lock:
	rm -rf /tmp/pilotage-lock && $(PYTHON) -m venv /tmp/pilotage-lock
	/tmp/pilotage-lock/bin/python -m pip install --quiet --upgrade pip
	/tmp/pilotage-lock/bin/python -m pip install --quiet ".[dev,spark,bench]"
	/tmp/pilotage-lock/bin/python -m pip freeze --exclude pilotage > $(CONSTRAINTS)

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
