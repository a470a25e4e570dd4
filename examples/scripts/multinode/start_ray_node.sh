#!/usr/bin/env bash
# Start Ray on one node of a multi-node PURE cluster (run on every node, head first).
#
#   multinode/start_ray_node.sh head                # on the head node
#   multinode/start_ray_node.sh worker HEAD_IP      # on each other node
#
# Then, from any machine that reaches the head's dashboard port (8265), submit a recipe:
#   NNODES=2 PRM=/shared/prm OUTPUT=/shared/runs/pure SUBMIT_ADDRESS=http://HEAD_IP:8265 \
#     examples/scripts/pure_prm_vr_qwen2.5-math-7b.sh
# (or multinode/submit_pure.sh). Every node needs the same environment (the Docker image in
# dockerfile/, or scripts/setup_env.sh gpu) and OUTPUT on storage that all nodes share.
# Ports: GCS 6379 (RAY_PORT), dashboard / job submission 8265; keep them inside the cluster network.
set -euo pipefail
ROLE=${1:?usage: start_ray_node.sh head|worker [HEAD_IP]}
GPUS=${GPUS_PER_NODE:-8}
PORT=${RAY_PORT:-6379}
case "$ROLE" in
  head) exec ray start --head --port "$PORT" --dashboard-host 0.0.0.0 --num-gpus "$GPUS" ;;
  worker) exec ray start --address "${2:?worker needs the head node address}:$PORT" --num-gpus "$GPUS" ;;
  *) echo "unknown role: $ROLE (head or worker)" >&2; exit 2 ;;
esac
