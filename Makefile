# The two commands of the README: `make run` (set up .venv, run the workflow on the
# embedded default) and `make test` (set up .venv, run the test suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= all

.PHONY: run test lint bench report clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

run: $(BIN)/.installed
	$(BIN)/snakemake --cores $(CORES)

test: $(BIN)/.installed
	$(BIN)/python -m pytest

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/snakemake --lint

bench: $(BIN)/.installed
	$(BIN)/python bench/extract.py

clean:
	rm -rf results .snakemake
