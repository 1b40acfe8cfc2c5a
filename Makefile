# tlsscope: `make run` and `make test` do all their own set-up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PEER   := .venv-peer

.PHONY: run test test-fast lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## run: read the bundled sample reports and show what they say (the dashboard comes later)
run: $(STAMP)
	$(BIN)/tlsscope parse samples/

## test: lint, then the whole test suite
test: $(STAMP) lint
	$(BIN)/pytest

## test-fast: the offline core suite only (no slow fuzzing)
test-fast: $(STAMP)
	$(BIN)/pytest -m "not slow"

## lint: ruff, mypy --strict and the import-layer contract
lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

$(PEER)/.installed:
	$(PYTHON) -m venv $(PEER)
	$(PEER)/bin/pip install --quiet --upgrade pip
	$(PEER)/bin/pip install --quiet 'parsedmarc==11.1.0'
	touch $@

## bench: speed against parsedmarc 11.1.0 (installed in its own venv), same inputs, same run
bench: $(STAMP) $(PEER)/.installed
	mkdir -p bench/out
	$(BIN)/python bench/run_all.py --peer $(PEER)/bin/python --peer-cli $(PEER)/bin/parsedmarc \
		| tee bench/out/latest.md

clean:
	rm -rf $(VENV) $(PEER) .pytest_cache .mypy_cache .ruff_cache
