# Set-up and everyday commands. `make run` installs everything and starts the app;
# `make test` runs the test suite. Both install only from the package registries.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
BUN_VERSION := 1.4.5
BUN := .tools/node_modules/bun/bin/bun.exe
PORT ?= 3000
MINUTES ?= 10
SOAK_MINUTES ?= 30

# Reflex fetches its JS tool from the npm registry (the bun package) instead of a script.
export REFLEX_BUN_PATH := $(CURDIR)/$(BUN)
export REFLEX_TELEMETRY_ENABLED := false
export REFLEX_CHECK_LATEST_VERSION := false
export NPM_CONFIG_REGISTRY ?= $(shell npm config get registry 2>/dev/null)

.PHONY: install run dev backend worker test bench soak fuzz migration lint clean

install: $(VENV)/.installed $(BUN)

# The lock first, then the jobs-ui command from this checkout (its dependencies are the lock).
$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

$(BUN):
	npm install --prefix .tools --no-save --no-package-lock --no-audit --no-fund bun@$(BUN_VERSION)

run: install  ## the app on http://localhost:$(PORT) (pages, API and stream on one port)
	$(BIN)/reflex run --env prod --frontend-port $(PORT) --backend-port $(PORT)

dev: install  ## hot-reloading front end on 3000, backend on 8000
	$(BIN)/reflex run

backend: install  ## the backend alone (API + stream), e.g. make backend PORT=8000
	$(BIN)/reflex run --env prod --backend-only --backend-port $(PORT)

worker: install  ## a Celery worker (needs REDIS_URL and DATABASE_URL, see "Running at scale")
	$(BIN)/celery -A jobs_ui.jobs.worker worker --loglevel=INFO --concurrency=$${JOBS_UI_RUNNER_CONCURRENCY:-2}

test: install
	$(BIN)/pytest

bench: install  ## benchmarks with their baselines; results in bench/results/latest.json
	$(BIN)/python -m bench.run

soak: install  ## a long mixed run of the app, watched for growth (SOAK_MINUTES, default 30)
	$(BIN)/python -m bench.soak --minutes $(SOAK_MINUTES)

fuzz: install  ## the readers and imports against generated files, MINUTES per format (default 10)
	$(BIN)/python -m tests.fuzz.run --minutes $(MINUTES)

migration: install  ## a new schema migration after a model change: make migration m="add x"
	$(BIN)/python -c 'import sys; from jobs_ui.db import new_revision; new_revision(sys.argv[1])' "$(m)"

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy

clean:
	rm -rf .web .tools $(VENV)
