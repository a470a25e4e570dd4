#!/usr/bin/env bash
# PURE-PRM on Qwen2.5-Math-7B, single node (8 GPUs) by default; see train_pure_ray.sh for
# the hyperparameters and the environment overrides (MODEL, PRM, DATA, OUTPUT, NNODES, DRY_RUN, ...).
# Published result: Table 2: MATH500 81.8, Minerva 38.2, Olympiad 44.7, AIME24 16.7, AMC23 60.0, avg 49.3.
exec "$(dirname "${BASH_SOURCE[0]}")/train_pure_ray.sh" qwen2.5-math-7b prm "$@"
