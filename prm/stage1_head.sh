#!/usr/bin/env bash
# PURE's PRM, stage 1 of 2 (PURE.md section 3): the backbone is frozen and only the 2-class head
# is trained, lr 1e-4, 3 epochs, on PRM800K in TRL stepwise form. See prm/README.md.
#
#   bash prm/stage1_head.sh                          # 8 GPUs, Qwen2.5-Math-7B, the hub data set
#   MODEL=... DATA=train.jsonl OUTPUT=... NUM_GPUS=4 bash prm/stage1_head.sh
#   DRY_RUN=1 bash prm/stage1_head.sh                # print the command, validate, stop
#
# MODEL (default Qwen/Qwen2.5-Math-7B), OUTPUT (default runs/prm/stage1); the other settings
# are described in prm/common.sh.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
export PYTHONPATH="${REPO}${PYTHONPATH:+:${PYTHONPATH}}"  # the package, for every launched process

MODEL=${MODEL:-Qwen/Qwen2.5-Math-7B}
OUTPUT=${OUTPUT:-runs/prm/stage1}
STAGE_ARGS=(
    --train.freeze_backbone
    --train.lr 1e-4
    --train.epochs 3
)
source "${REPO}/prm/common.sh"
