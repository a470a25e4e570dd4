#!/usr/bin/env bash
# PURE-VR on Llama-3.1-8B, single node (8 GPUs) by default; see train_pure_ray.sh for
# the hyperparameters and the environment overrides (MODEL, PRM, DATA, OUTPUT, NNODES, DRY_RUN, ...).
# Published result: not reported in the paper.
exec "$(dirname "${BASH_SOURCE[0]}")/train_pure_ray.sh" llama3.1-8b vr "$@"
