#!/usr/bin/env bash
# PURE-VR on Qwen2.5-Math-7B, single node (8 GPUs) by default; see train_pure_ray.sh for
# the hyperparameters and the environment overrides (MODEL, PRM, DATA, OUTPUT, NNODES, DRY_RUN, ...).
# Published result: Table 2: MATH500 79.4, Minerva 36.8, Olympiad 41.8, AIME24 23.3, AMC23 60.0, avg 48.3.
exec "$(dirname "${BASH_SOURCE[0]}")/train_pure_ray.sh" qwen2.5-math-7b vr "$@"
