#!/usr/bin/env bash
# Submit a PURE recipe to a running Ray cluster (see start_ray_node.sh) with `ray job submit`.
#
#   SUBMIT_ADDRESS=http://HEAD_IP:8265 NNODES=2 PRM=... OUTPUT=/shared/... \
#     examples/scripts/multinode/submit_pure.sh MODEL_KEY MODE [extra flags...]
#
# Actor, reference, vLLM engines and PRM replicas spread over NNODES x GPUS_PER_NODE GPUs.
# DRY_RUN=1 validates locally and prints the submission instead of submitting.
set -euo pipefail
export NNODES=${NNODES:-2}
export SUBMIT_ADDRESS=${SUBMIT_ADDRESS:-http://127.0.0.1:8265}
exec "$(dirname "${BASH_SOURCE[0]}")/../train_pure_ray.sh" "$@"
