# The README's two commands:
#   make reproduce   every figure, table and number (quick CPU profile) and paper/main.pdf
#   make test        the test suite
# Both create .venv from the pins in pyproject.toml when it is missing and reuse it otherwise.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: reproduce test lint clean-outputs

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

reproduce: $(STAMP)
	$(BIN)/snakemake --cores all

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check code tests

clean-outputs:
	rm -rf data/mnist1d data/runs figures/*.pdf figures/*.png paper/generated/* logs benchmarks
