PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test lint typecheck unit demo bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml plugins/requirements.txt
	$(BIN)/pip install --quiet -e '.[dev]' -r plugins/requirements.txt
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest tests

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python bench/poller_catchup.py
	$(BIN)/python bench/doorbell_latency.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .aws-sam build dist *.egg-info
