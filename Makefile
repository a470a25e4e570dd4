# The two README commands: `make demo` (main job) and `make test` (lint + tests). Both build
# .venv first if needed (scripts/setup_env.sh is idempotent: a second run returns at once).
PY := .venv/bin/python
export DS_ACCELERATOR ?= cpu
export TOKENIZERS_PARALLELISM ?= false

.PHONY: setup demo test lint bench

setup:
	bash scripts/setup_env.sh

demo: setup
	$(PY) -m openrlhf_pure.cli.demo

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

test: lint
	$(PY) -m pytest

bench: setup
	$(PY) benchmarks/credit_assignment.py
