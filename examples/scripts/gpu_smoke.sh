#!/usr/bin/env bash
# PURE on OpenRLHF, first run on a GPU node: the shipped recipe's layout (train_pure_ray.sh:
# --train.colocate_all, vLLM and DeepSpeed sleep modes, ZeRO-2, bf16, PURE-PRM+VR, one PRM replica
# per GPU beside the models) for STEPS PPO steps of a small batch, a checkpoint every step and
# every step's rollouts dumped; then it checks what the run left and prints what else to look at.
#
#   examples/scripts/gpu_smoke.sh [extra train_pure_ray flags...]
#
# Environment overrides (defaults in brackets):
#   MODEL [Qwen/Qwen2.5-Math-1.5B, or any small causal LM: a path or hub name]
#   PRM, PRM_FAMILY [the recipe's: jinachris/PURE-PRM-7B, from the hub or its local cache]
#   GPUS_PER_NODE [the GPUs nvidia-smi lists]   STEPS [3]
#   MAX_NEW_TOKENS [1024]   OUTPUT [outputs/gpu_smoke; must not hold an earlier run]
#   DRY_RUN=1: validate and print the plan and its memory estimate; nothing starts.   PYTHON [python]
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export MODEL=${MODEL:-Qwen/Qwen2.5-Math-1.5B}
GPUS=${GPUS_PER_NODE:-$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)}
if [[ ${GPUS:-0} -lt 1 ]]; then
  [[ ${DRY_RUN:-0} == 1 ]] || { echo "no GPU found (nvidia-smi -L); set GPUS_PER_NODE" >&2; exit 2; }
  GPUS=1
fi
export NNODES=1 GPUS_PER_NODE=$GPUS
export OUTPUT=${OUTPUT:-$REPO/outputs/gpu_smoke}
export MAX_NEW_TOKENS=${MAX_NEW_TOKENS:-1024}
export PYTHON=${PYTHON:-python}
STEPS=${STEPS:-3}
if [[ ${DRY_RUN:-0} != 1 && -e $OUTPUT/ckpt ]]; then
  echo "$OUTPUT already holds a run (its checkpoints would be resumed or mixed in): remove it or set OUTPUT" >&2
  exit 2
fi

prompts=$((2 * GPUS)) samples=4
smoke=(
  --rollout.batch_size "$prompts" --rollout.n_samples_per_prompt "$samples"
  --train.batch_size $((prompts * samples)) --train.micro_batch_size 1 --rollout.micro_batch_size 2
  --data.max_samples $((prompts * STEPS)) --train.num_episodes 1
  --ckpt.save_steps 1 --pure.dump_rollouts "$OUTPUT/rollouts"
)
"$REPO/examples/scripts/train_pure_ray.sh" qwen2.5-math-1.5b prm_vr "${smoke[@]}" "$@"

if [[ ${DRY_RUN:-0} == 1 ]]; then
  echo "dry run: after a real run this script checks $OUTPUT with"
  echo "  $PYTHON -m openrlhf_pure.cli.check_run $OUTPUT --steps $STEPS"
  exit 0
fi
cd "$REPO"
status=0
"$PYTHON" -m openrlhf_pure.cli.check_run "$OUTPUT" --steps "$STEPS" || status=$?
cat <<EOF

Also look at:
- the log above: "Global step 1..$STEPS", no "PURE reward-hacking detector" storm, no NCCL or CUDA
  out-of-memory errors; timing/* per step (generation, make_experience, ppo_train, broadcast);
- nvidia-smi while it runs: every GPU busy, memory within the dry run's estimate
  (DRY_RUN=1 $0 prints it under "memory");
- tensorboard --logdir $OUTPUT/tensorboard: train/pure/* (rewards, steps, accuracy, hacking flags),
  train/kl rising from 0 after step 1, train/actor_grad_norm > 0;
- python -c "import torch; b = torch.load('$OUTPUT/rollouts/rollouts_00000.pt', weights_only=False);
  print(b['responses'][0]); print(b['step_scores'][0])": responses with "\n\n" steps, one PRM score each;
- $OUTPUT/ckpt/global_step${STEPS}_hf and $OUTPUT/final load with transformers.
EOF
exit "$status"
