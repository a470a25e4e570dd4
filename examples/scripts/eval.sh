#!/usr/bin/env bash
# Evaluate a model with PURE's protocol (PURE.md section 7): MATH-500, Minerva Math,
# OlympiadBench, AIME 2024, AMC 2023; PURE's training prompt, greedy pass@1, 3,000 new tokens,
# seed 42, stop at the model's EOS ids. Scores land in $OUTPUT/summary.md and summary.json;
# a rerun with the same OUTPUT resumes. Extra arguments go to `pure-eval run` (later flags win).
#
#   MODEL=Qwen/Qwen2.5-Math-7B bash examples/scripts/eval.sh
#   MODEL=runs/pure/actor BACKEND=vllm TP=1 DP=8 OUTPUT=runs/eval/pure bash examples/scripts/eval.sh
#   MODEL=runs/tiny BACKEND=hf BENCHMARKS=math500,amc23 bash examples/scripts/eval.sh --limit 5
#
# Environment: MODEL, BENCHMARKS (comma list or "all"), BACKEND (vllm when it is importable,
# else hf), OUTPUT (default runs/eval/<model name>), TEMPLATE (auto: the one saved with the
# model, else pure), TP, DP (vllm), PYTHON (the interpreter; default .venv/bin/python, else python).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x "$ROOT/.venv/bin/python" ]]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python; fi
fi
MODEL=${MODEL:-Qwen/Qwen2.5-Math-7B}
BENCHMARKS=${BENCHMARKS:-math500,minerva_math,olympiadbench,aime24,amc23}
if [[ -z "${BACKEND:-}" ]]; then
  if "$PYTHON" -c "import vllm" >/dev/null 2>&1; then BACKEND=vllm; else BACKEND=hf; fi
fi
OUTPUT=${OUTPUT:-runs/eval/$(basename "$MODEL")}
TEMPLATE=${TEMPLATE:-auto}
TP=${TP:-1}
DP=${DP:-1}

exec "$PYTHON" -m openrlhf_pure.cli.eval run \
  --model "$MODEL" \
  --benchmarks "$BENCHMARKS" \
  --backend "$BACKEND" \
  --template "$TEMPLATE" \
  --n 1 --temperature 0 --max_new_tokens 3000 --seed 42 \
  --tp "$TP" --dp "$DP" \
  --output_dir "$OUTPUT" \
  "$@"
