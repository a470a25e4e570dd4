#!/usr/bin/env bash
# PURE's comparison over seeds: min-form (softmin) against sum-form credit, PURE-PRM and
# PURE-PRM+VR, with the project's defaults and with the setting of the paper's sum-form figure
# (the authors' verl code: `--pure.preset authors_verl`, the max_len return baseline), plus
# PURE-VR; every run of a seed starts from the same warm-up policy and PRM (one demo call per
# seed trains them once). Prints each seed's table and mean +- sd over seeds per setting, and
# plots every run of a seed in one figure (<OUT>/seed<k>/plots/training_dynamics.png).
#
#   bash examples/scripts/hacking_demo.sh                          # 3 seeds, 60 RL steps each
#   SEEDS="0" RL_STEPS=20 OUT=runs/hack bash examples/scripts/hacking_demo.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-.venv/bin/python}
SEEDS=${SEEDS:-"0 1 2"}
RL_STEPS=${RL_STEPS:-60}
WORKERS=${WORKERS:-2}   # runs trained at once, one torch thread each (use the cores you have)
OUT=${OUT:-runs/hacking_demo}
EXTRA=${EXTRA:-}
V=@authors_verl
DEFAULT_RUNS="softmin/prm,sum/prm,softmin/prm_vr,sum/prm_vr,vr"
VERL_RUNS="softmin/prm$V,sum/prm$V,softmin/prm_vr$V,sum/prm_vr$V,vr"
export OMP_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false DS_ACCELERATOR=cpu

results=()
for seed in $SEEDS; do
  echo "== seed $seed -> $OUT/seed$seed"
  # shellcheck disable=SC2086
  "$PYTHON" -m openrlhf_pure.cli.demo --seed "$seed" --rl_steps "$RL_STEPS" --workers "$WORKERS" \
    --runs "$DEFAULT_RUNS,${VERL_RUNS%,vr}" --output "$OUT/seed$seed" $EXTRA | tail -n 1 > /dev/null
  results+=("$OUT/seed$seed/result.json")
done
echo "### the project's defaults"
"$PYTHON" -m openrlhf_pure.cli.compare_runs "${results[@]}" --runs "$DEFAULT_RUNS"
echo "### the paper's sum-form figure setting (authors_verl: max_len return baseline)"
"$PYTHON" -m openrlhf_pure.cli.compare_runs "${results[@]}" --runs "$VERL_RUNS"
