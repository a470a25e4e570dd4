#!/usr/bin/env bash
# PURE-PRM+VR on Llama-3.1-8B, single node (8 GPUs) by default; see train_pure_ray.sh for
# the hyperparameters and the environment overrides (MODEL, PRM, DATA, OUTPUT, NNODES, DRY_RUN, ...).
# Published result: Table 2 (rebuttal): MATH500 26.0, Minerva 10.3, Olympiad 5.5, AIME24 3.3, AMC23 15.0, avg 12.0.
exec "$(dirname "${BASH_SOURCE[0]}")/train_pure_ray.sh" llama3.1-8b prm_vr "$@"
