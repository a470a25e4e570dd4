#!/usr/bin/env bash
# PURE-PRM+VR on Qwen2.5-7B, single node (8 GPUs) by default; see train_pure_ray.sh for
# the hyperparameters and the environment overrides (MODEL, PRM, DATA, OUTPUT, NNODES, DRY_RUN, ...).
# Published result: Table 2: MATH500 80.4, Minerva 37.9, Olympiad 43.0, AIME24 16.7, AMC23 60.0, avg 47.6.
exec "$(dirname "${BASH_SOURCE[0]}")/train_pure_ray.sh" qwen2.5-7b prm_vr "$@"
