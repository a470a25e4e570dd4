#!/usr/bin/env bash
# PURE-VR on Qwen2.5-7B, single node (8 GPUs) by default; see train_pure_ray.sh for
# the hyperparameters and the environment overrides (MODEL, PRM, DATA, OUTPUT, NNODES, DRY_RUN, ...).
# Published result: not reported in the paper.
exec "$(dirname "${BASH_SOURCE[0]}")/train_pure_ray.sh" qwen2.5-7b vr "$@"
