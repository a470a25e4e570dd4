#!/usr/bin/env bash
# PURE-PRM+VR on Qwen2.5-Math-1.5B, single node (8 GPUs) by default; see train_pure_ray.sh for
# the hyperparameters and the environment overrides (MODEL, PRM, DATA, OUTPUT, NNODES, DRY_RUN, ...).
# Published result: Table 2: MATH500 76.0, Minerva 31.6, Olympiad 37.2, AIME24 16.7, AMC23 55.0, avg 43.3.
exec "$(dirname "${BASH_SOURCE[0]}")/train_pure_ray.sh" qwen2.5-math-1.5b prm_vr "$@"
