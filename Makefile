PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The SAM CLI pins its own boto3 and click: it gets a virtualenv of its own.
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
SAM_CLI_VERSION := 1.170.0
export SAM_CLI_TELEMETRY := 0

.PHONY: install tools test lint typecheck unit demo bench build template clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml plugins/requirements.txt
	$(BIN)/pip install --quiet -e '.[dev]' -r plugins/requirements.txt
	touch $(STAMP)

install: $(STAMP)

$(SAM):
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/pip install --quiet aws-sam-cli==$(SAM_CLI_VERSION)

tools: $(SAM)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP) $(SAM)
	SAM_CLI=$(SAM) $(BIN)/pytest tests

test: lint typecheck unit

# The whole pipeline on this machine: FPT emulator, moto as AWS, the stack of template.yaml.
demo: $(STAMP)
	$(BIN)/shotgun-events demo

# Regenerate the per-plugin part of template.yaml after changing plugins/.
template: $(STAMP)
	$(BIN)/shotgun-events generate-template

build: $(STAMP) $(SAM)
	$(BIN)/shotgun-events generate-template --check
	$(SAM) build

# The benchmarks (README: Performance); `make bench BENCH_ARGS=--quick` for the short runs.
bench: $(STAMP) $(SAM)
	$(BIN)/python bench/poller_catchup.py
	SAM_CLI=$(SAM) $(BIN)/python bench/footprint.py $(BENCH_ARGS)
	$(BIN)/python bench/cost.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(SAM_VENV) .mypy_cache .pytest_cache .ruff_cache .aws-sam build dist *.egg-info
