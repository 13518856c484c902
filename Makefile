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

RUN_EXTRAS := server,analytics,cli,stream
# spark: pip builds pyspark's sdist (~456 MB) on a fresh machine, ~70 s of a 90-minute CI budget.
TEST_EXTRAS := server,compile,analytics,plot,verify,cli,stream,spark,dev
BENCH_EXTRAS := $(TEST_EXTRAS),bench

HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_DB ?= preflog-demo.db

.PHONY: run test lint typecheck pytest screenshots bench clean

# PostgreSQL for the tests and benchmarks: $PREFLOG_TEST_POSTGRES_URL when set, else a throw-away
# cluster when PostgreSQL is installed (scripts/pg-test-cluster.sh; left running for the next run).
# Without either the PostgreSQL tests skip, and the skip summary at the end says how to enable them.
WITH_PG = url="$${PREFLOG_TEST_POSTGRES_URL:-$$(scripts/pg-test-cluster.sh start 2>/dev/null | tail -n 1)}"; \
	if [ -n "$$url" ]; then export PREFLOG_TEST_POSTGRES_URL="$$url"; fi;

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
	@$(WITH_PG) $(BIN)/pytest $(PYTEST_ARGS)

# The whole check; it must leave the work tree as it found it (git status --porcelain unchanged).
test:
	@before="$$(git status --porcelain 2>/dev/null)"; \
	$(MAKE) --no-print-directory lint typecheck pytest || exit $$?; \
	after="$$(git status --porcelain 2>/dev/null)"; \
	if [ "$$before" != "$$after" ]; then \
	  echo "make test changed the work tree (git status --porcelain before and after):" >&2; \
	  diff <(echo "$$before") <(echo "$$after") >&2; exit 1; \
	fi

# The browser tests, writing their screenshots into docs/screenshots (the tests write them to a
# temporary directory otherwise, so that make test leaves the work tree clean).
screenshots: $(VENV)/.installed-test
	$(BIN)/pytest tests/ui -m browser --screenshots docs/screenshots $(PYTEST_ARGS)

# The PostgreSQL benchmarks run on the same cluster as the tests (WITH_PG); without one they are
# skipped with a message.
bench: $(VENV)/.installed-bench
	@$(WITH_PG) $(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
