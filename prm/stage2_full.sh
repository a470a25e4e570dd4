#!/usr/bin/env bash
# PURE's PRM, stage 2 of 2 (PURE.md section 3): full fine-tune from stage 1's PRM, lr 1e-6,
# 1 epoch, on the same data. See prm/README.md.
#
#   bash prm/stage2_full.sh                          # after stage1_head.sh with its defaults
#   MODEL=runs/prm/stage1/final OUTPUT=... NUM_GPUS=4 bash prm/stage2_full.sh
#   DRY_RUN=1 bash prm/stage2_full.sh                # print the command, validate, stop
#
# MODEL (default runs/prm/stage1/final, stage 1's output), OUTPUT (default runs/prm/stage2);
# the other settings are described in prm/common.sh.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
export PYTHONPATH="${REPO}${PYTHONPATH:+:${PYTHONPATH}}"  # the package, for every launched process

MODEL=${MODEL:-runs/prm/stage1/final}
OUTPUT=${OUTPUT:-runs/prm/stage2}
STAGE_ARGS=(
    --train.lr 1e-6
    --train.epochs 1
)
source "${REPO}/prm/common.sh"
