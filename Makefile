# monitor: the two commands a newcomer needs are `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TESTSTAMP := $(VENV)/.installed-test

.PHONY: run test test-deps pg-up test-slow demo lint bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	touch $@

$(TESTSTAMP): $(STAMP)
	$(BIN)/pip install -q -e '.[test]'
	touch $@

run: $(STAMP)  ## start the daemon with config/monitor.yaml and rules/
	mkdir -p state
	$(BIN)/monitor --config config/monitor.yaml run

test-deps:  ## system packages the tests need (chromium); idempotent
	scripts/install-test-deps.sh

pg-up:  ## the PostgreSQL the store tests use (127.0.0.1:5432), started if it is down; idempotent
	scripts/start-postgres.sh

test: $(TESTSTAMP) test-deps pg-up  ## run the whole test suite (SQLite and PostgreSQL)
	$(BIN)/ruff check monitor tests bench
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

test-slow: $(TESTSTAMP)  ## the long drills: fault drill (150 feeds) and 20-kill crash drill
	$(BIN)/python -m pytest -q -m slow

demo: $(STAMP)  ## run the pipeline offline against the seed articles
	$(BIN)/monitor demo

lint: $(TESTSTAMP)
	$(BIN)/ruff check monitor tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) state/*.db* state/digests
