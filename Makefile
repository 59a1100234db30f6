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

# plugins/ is the studio's code in the daemon's style: our ruff and mypy skip it, except the
# plugins whose first line is `# shotgun-events: checked` (our shipped examples).
CHECKED_PLUGINS := $(shell grep -l -x -e '\# shotgun-events: checked' plugins/*.py 2>/dev/null)

lint: $(STAMP)
	$(BIN)/ruff check . $(CHECKED_PLUGINS)
	$(BIN)/ruff format --check . $(CHECKED_PLUGINS)

typecheck: $(STAMP)
	$(BIN)/mypy
	$(if $(CHECKED_PLUGINS),$(BIN)/mypy $(CHECKED_PLUGINS))

unit: $(STAMP) $(SAM)
	SAM_CLI=$(SAM) $(BIN)/pytest tests

test: lint typecheck unit

# The whole pipeline on this machine: FPT emulator, moto as AWS, the stack of template.yaml.
demo: $(STAMP)
	$(BIN)/shotgun-events demo

# Regenerate the per-plugin part of template.yaml after changing plugins/.
template: $(STAMP)
	$(BIN)/shotgun-events generate-template

# Lambda's /var/task is read-only: without bytecode in the artifact every cold start compiles it
# again (README: Footprint). unchecked-hash: the .pyc is used whatever the files' times are.
build: $(STAMP) $(SAM)
	$(BIN)/shotgun-events generate-template --check
	$(SAM) build
	$(BIN)/python -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11) and "bytecode must be compiled by Python 3.11, the functions runtime")'
	$(BIN)/python -m compileall -q -j 0 --invalidation-mode unchecked-hash .aws-sam/build

# The benchmarks (README: Performance); `make bench BENCH_ARGS=--quick` for the short runs.
bench: $(STAMP) $(SAM)
	$(BIN)/python bench/poller_catchup.py $(BENCH_ARGS)
	$(BIN)/python bench/live_latency.py $(BENCH_ARGS)
	$(BIN)/python bench/fanout.py $(BENCH_ARGS)
	$(BIN)/python bench/fpt_load.py $(BENCH_ARGS)
	$(BIN)/python bench/doorbell_latency.py $(BENCH_ARGS)
	SAM_CLI=$(SAM) $(BIN)/python bench/footprint.py $(BENCH_ARGS)
	$(BIN)/python bench/cost.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(SAM_VENV) .mypy_cache .pytest_cache .ruff_cache .aws-sam build dist *.egg-info
