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

# plugins/ is the studio's code in the daemon's style: our ruff and mypy skip it, except the
# plugins whose first line is `# shotgun-events: checked` (our shipped examples).
CHECKED_PLUGINS := $(shell grep -l -x -e '\# shotgun-events: checked' plugins/*.py 2>/dev/null)

lint: $(STAMP)
	$(BIN)/ruff check . $(CHECKED_PLUGINS)
	$(BIN)/ruff format --check . $(CHECKED_PLUGINS)

typecheck: $(STAMP)
	$(BIN)/mypy
	$(if $(CHECKED_PLUGINS),$(BIN)/mypy $(CHECKED_PLUGINS))

unit: $(STAMP)
	$(BIN)/pytest tests

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python bench/poller_catchup.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .aws-sam build dist *.egg-info
