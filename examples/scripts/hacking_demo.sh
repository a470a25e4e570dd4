#!/usr/bin/env bash
# Sum-form against min-form (softmin) credit on the built-in arithmetic task: the same task,
# seeds and PRM (each seed trains its PRM identically for both runs), PURE-PRM (process
# rewards only, where hacking shows), long enough to matter. Plots steps per response,
# response length, verifiable accuracy and PRM reward for both, per seed and pooled.
#
#   bash examples/scripts/hacking_demo.sh                 # 3 seeds, 80 RL steps each
#   SEEDS="0" RL_STEPS=40 OUT=runs/hack bash examples/scripts/hacking_demo.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-.venv/bin/python}
SEEDS=${SEEDS:-"0 1 2"}
RL_STEPS=${RL_STEPS:-80}
MODE=${MODE:-prm}
OUT=${OUT:-runs/hacking_demo}
EXTRA=${EXTRA:-}

metrics=() labels=()
for seed in $SEEDS; do
  for credit in sum softmin; do
    dir="$OUT/$credit-seed$seed"
    echo "== $credit credit, seed $seed -> $dir"
    # shellcheck disable=SC2086
    "$PYTHON" -m openrlhf_pure.cli.demo --mode "$MODE" --credit "$credit" --seed "$seed" --rl_steps "$RL_STEPS" \
      --output "$dir" $EXTRA | tail -n 1
    metrics+=("$dir/rl/metrics.jsonl")
    labels+=("$credit-seed$seed")
  done
done
"$PYTHON" -m openrlhf_pure.cli.plot_metrics "${metrics[@]}" --labels "${labels[@]}" --out "$OUT/sum_vs_softmin.png" \
  --title "PURE-$MODE: sum-form vs softmin credit"
"$PYTHON" - "$OUT" $SEEDS <<'PY'
import json, sys
from pathlib import Path
out, seeds = Path(sys.argv[1]), sys.argv[2:]
print(f"{'run':<16}{'acc before':>11}{'acc after':>10}{'steps':>7}{'length':>8}{'PRM':>7}")
for seed in seeds:
    for credit in ("sum", "softmin"):
        run = out / f"{credit}-seed{seed}"
        result = json.loads((run / "result.json").read_text())
        last = [json.loads(line) for line in (run / "rl" / "metrics.jsonl").read_text().splitlines()][-10:]
        mean = lambda key: sum(row.get(key, 0.0) for row in last) / len(last)
        print(f"{credit + '-' + seed:<16}{result['accuracy_before']:>11.3f}{result['accuracy_after']:>10.3f}"
              f"{mean('steps/mean'):>7.2f}{mean('length/mean'):>8.1f}{mean('reward/process'):>7.3f}")
PY
