# preflog — the two set-up commands are `make run` and `make test`; both create .venv on first use.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check -q
CONSTRAINTS := requirements/constraints.txt

# Hugging Face libraries never reach a hub here.
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

RUN_EXTRAS := server,analytics,cli
TEST_EXTRAS := server,compile,analytics,plot,verify,cli,dev
BENCH_EXTRAS := $(TEST_EXTRAS),bench

HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_DB ?= preflog-demo.db

.PHONY: run test lint typecheck pytest bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-run: pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	$(PIP) install -c $(CONSTRAINTS) -e '.[$(RUN_EXTRAS)]'
	touch $@

# torch first, alone, from the pinned CPU build: pip must never resolve torch on its own.
$(VENV)/.installed-test: pyproject.toml $(CONSTRAINTS) requirements/test.txt | $(BIN)/python
	$(PIP) install -c $(CONSTRAINTS) torch==2.13.0
	$(PIP) install -c $(CONSTRAINTS) -e '.[$(TEST_EXTRAS)]' -r requirements/test.txt
	touch $@

$(VENV)/.installed-bench: $(VENV)/.installed-test
	$(PIP) install -c $(CONSTRAINTS) -e '.[$(BENCH_EXTRAS)]'
	touch $@

run: $(VENV)/.installed-run
	$(BIN)/preflog --db $(DEMO_DB) serve --demo --host $(HOST) --port $(PORT)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy

pytest: $(VENV)/.installed-test
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck pytest

# The PostgreSQL benchmarks use $PREFLOG_TEST_POSTGRES_URL, or else a throw-away cluster when
# PostgreSQL is installed (scripts/pg-test-cluster.sh; left running, like the tests'); without
# either they are skipped with a message.
bench: $(VENV)/.installed-bench
	PREFLOG_TEST_POSTGRES_URL="$${PREFLOG_TEST_POSTGRES_URL:-$$(scripts/pg-test-cluster.sh start 2>/dev/null | tail -n 1)}" \
	  $(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
