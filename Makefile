# rollguard: `make demo` runs a real local rollout of the example chat service;
# `make test` runs lint and the whole test suite. Each target installs what it needs once.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint unit fmt clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,postgres]'
	@touch $(STAMP)

demo: $(STAMP)
	@bash scripts/system-packages.sh
	$(BIN)/rollguard demo

lint: $(STAMP)
	$(BIN)/ruff check src tests examples benchmarks
	$(BIN)/ruff format --check src tests examples benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

test: $(STAMP)
	@bash scripts/system-packages.sh
	$(MAKE) --no-print-directory lint
	$(BIN)/pytest

unit: $(STAMP)
	$(BIN)/pytest -m "not e2e"

fmt: $(STAMP)
	$(BIN)/ruff format src tests examples benchmarks
	$(BIN)/ruff check --fix src tests examples benchmarks

clean:
	rm -rf $(VENV) .rollguard .pytest_cache .mypy_cache .ruff_cache
