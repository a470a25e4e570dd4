#!/usr/bin/env bash
# PURE-PRM+VR on Qwen2.5-Math-7B, single node (8 GPUs) by default; see train_pure_ray.sh for
# the hyperparameters and the environment overrides (MODEL, PRM, DATA, OUTPUT, NNODES, DRY_RUN, ...).
# Published result: Table 2: MATH500 82.6, Minerva 37.1, Olympiad 44.1, AIME24 20.0, AMC23 82.5, avg 53.3.
exec "$(dirname "${BASH_SOURCE[0]}")/train_pure_ray.sh" qwen2.5-math-7b prm_vr "$@"
