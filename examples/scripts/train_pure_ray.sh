#!/usr/bin/env bash
# PURE on OpenRLHF's Ray PPO: the shared launcher behind every recipe script in this folder.
#
#   examples/scripts/train_pure_ray.sh MODEL_KEY MODE [extra train_pure_ray flags...]
#
# MODEL_KEY: qwen2.5-math-1.5b | qwen2.5-math-7b | qwen2.5-7b | llama3.1-8b
# MODE:      prm (PURE-PRM) | vr (PURE-VR) | prm_vr (PURE-PRM+VR)
#
# Hyperparameters are the paper's (PURE.md section 6, the verl runs): 64 prompts x 8 samples per
# step, one gradient step per rollout batch (train batch 512), lr 1e-6 (VR, PRM+VR) or 5e-7
# (PRM), constant, temperature 1.0, KL reward penalty 1e-3 (k1), softmin credit with T = 0.1,
# token-level process baseline, RLOO on the verifiable reward, PPO clip 0.2, token-mean loss,
# grad-norm clip 1.0, a checkpoint every 50 steps. Steps: 500 for the Math models, 1000 for
# Qwen2.5-7B and Llama-3.1-8B, rounded up to whole passes over the 8,523 problems (133 steps
# each): 4 episodes (532 steps) or 8 (1064). Max generation 8192 tokens, except Qwen2.5-Math
# (4,096-token context): 3072.
#
# Environment overrides (defaults in brackets):
#   MODEL [the recipe's hub name]   PRM [jinachris/PURE-PRM-7B, the paper's PRM; modes prm, prm_vr]
#   PRM_FAMILY [detected from the PRM's config.json]: pure | qwen_prm | math_shepherd | rlhflow |
#   skywork (see prm/README.md); PRM_SCORE_TRANSFORM [auto: probabilities -> 2p - 1]
#   DATA [data/train/math_level3to5_8523.jsonl, relative to the repository, which is also the
#   job's working directory on a cluster]   OUTPUT [outputs/pure/<recipe>; on a cluster, give
#   a path every node can write]   NNODES [1]  GPUS_PER_NODE [8]   MAX_NEW_TOKENS, LR, EPISODES,
#   TRAIN_MICRO_BATCH, ROLLOUT_MICRO_BATCH, VLLM_MEM [0.5], ZERO_STAGE, PRM_GPUS [0.2 per replica]
#   SUBMIT_ADDRESS: submit to a running Ray cluster with `ray job submit` (its dashboard, e.g.
#                   http://HEAD:8265). Unset: run here; Ray starts locally, or joins the cluster
#                   named by Ray's own RAY_ADDRESS (e.g. HEAD:6379, as the SLURM script does).
#   WANDB_API_KEY: log to wandb (project WANDB_PROJECT [pure]); TensorBoard always, under OUTPUT.
#   PRESET: --pure.preset authors_openrlhf | authors_verl (docs/presets.md): the recipe's own
#           advantage flags (KL coefficient and estimator, credit, baseline, coefficients) are
#           then left out, so that the preset decides them; extra flags still override it.
#   DRY_RUN=1: pass --dry_run (validate and print the plan; no Ray, no GPUs), run locally.
#   PYTHON [python]
set -euo pipefail

usage() { sed -n '2,9p' "$0" >&2; exit 2; }
[[ $# -ge 2 ]] || usage
MODEL_KEY=$1 MODE=$2
shift 2
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# --- the recipe table ---------------------------------------------------------------------------
case "$MODEL_KEY" in
  qwen2.5-math-1.5b) hub=Qwen/Qwen2.5-Math-1.5B; gen=3072; episodes=4; zero=2; tmb=2; rmb=4 ;;
  qwen2.5-math-7b)   hub=Qwen/Qwen2.5-Math-7B;   gen=3072; episodes=4; zero=3; tmb=1; rmb=2 ;;
  qwen2.5-7b)        hub=Qwen/Qwen2.5-7B;        gen=8192; episodes=8; zero=3; tmb=1; rmb=2 ;;
  llama3.1-8b)       hub=meta-llama/Llama-3.1-8B; gen=8192; episodes=8; zero=3; tmb=1; rmb=2 ;;
  *) echo "unknown model key: $MODEL_KEY" >&2; usage ;;
esac
case "$MODE" in
  prm) lr=5e-7 ;;
  vr | prm_vr) lr=1e-6 ;;
  *) echo "unknown mode: $MODE" >&2; usage ;;
esac

MODEL=${MODEL:-$hub}
DATA=${DATA:-data/train/math_level3to5_8523.jsonl}
OUTPUT=${OUTPUT:-$REPO/outputs/pure/${MODEL_KEY}_${MODE}}
NNODES=${NNODES:-1}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
MAX_NEW_TOKENS=${MAX_NEW_TOKENS:-$gen}
GPUS=$((NNODES * GPUS_PER_NODE))
PYTHON=${PYTHON:-python}

args=(
  # models and placement: actor, reference and vLLM share every GPU (sleep modes swap them)
  --actor.model_name_or_path "$MODEL"
  --actor.num_nodes "$NNODES" --actor.num_gpus_per_node "$GPUS_PER_NODE"
  --ref.num_nodes "$NNODES" --ref.num_gpus_per_node "$GPUS_PER_NODE"
  --vllm.num_engines "$GPUS" --vllm.tensor_parallel_size 1 --vllm.gpu_memory_utilization "${VLLM_MEM:-0.5}"
  --train.colocate_all --vllm.enable_sleep --ds.enable_sleep
  --ds.zero_stage "${ZERO_STAGE:-$zero}" --ds.param_dtype bf16 --actor.gradient_checkpointing_enable
  # data: PURE's prompt (no chat template), answers and their visibility in the label object
  --data.prompt_dataset "$DATA" --data.input_key prompt --data.label_key label
  --data.max_len $((MAX_NEW_TOKENS + 1024)) --rollout.max_new_tokens "$MAX_NEW_TOKENS"
  # one step: 64 prompts x 8 samples, one gradient step
  --rollout.batch_size 64 --rollout.n_samples_per_prompt 8 --rollout.temperature 1.0
  --train.batch_size 512 --train.micro_batch_size "${TRAIN_MICRO_BATCH:-$tmb}"
  --rollout.micro_batch_size "${ROLLOUT_MICRO_BATCH:-$rmb}"
  --train.max_epochs 1 --train.num_episodes "${EPISODES:-$episodes}"
  # PPO and optimiser
  --actor.adam.lr "${LR:-$lr}" --actor.lr_scheduler constant --actor.lr_warmup_ratio 0
  --actor.eps_clip 0.2 --actor.loss_agg_mode token-mean --actor.max_norm 1.0
  --algo.advantage.estimator rloo
  # PURE
  --pure.reward_mode "$MODE"
  # checkpoints and logs
  --ckpt.save_steps 50 --ckpt.save_hf --ckpt.path "$OUTPUT/ckpt" --ckpt.output_dir "$OUTPUT/final"
  --logger.tensorboard_dir "$OUTPUT/tensorboard"
)
if [[ -n ${PRESET:-} ]]; then
  args+=(--pure.preset "$PRESET")
else
  args+=(--algo.kl.init_coef 1e-3 --algo.kl.estimator k1 --pure.credit.mode softmin --pure.credit.temperature 0.1
         --pure.pr_baseline token --pure.pr_coef 1.0 --pure.vr_coef 1.0)
fi
if [[ $MODE != vr ]]; then
  PRM=${PRM:-jinachris/PURE-PRM-7B}  # the paper's PRM (Qwen2.5-Math-7B base, PRM800K)
  # one PRM replica per GPU, beside the colocated models
  args+=(--pure.prm.model_name_or_path "$PRM" --pure.prm.score_transform "${PRM_SCORE_TRANSFORM:-auto}"
         --pure.prm.colocate --pure.prm.num_replicas "$GPUS" --pure.prm.num_gpus_per_replica "${PRM_GPUS:-0.2}")
  if [[ -n ${PRM_FAMILY:-} ]]; then
    args+=(--pure.prm.family "$PRM_FAMILY")
  fi
fi
if [[ -n ${WANDB_API_KEY:-} ]]; then
  args+=(--logger.wandb.key "$WANDB_API_KEY" --logger.wandb.project "${WANDB_PROJECT:-pure}"
         --logger.wandb.run_name "${MODEL_KEY}_${MODE}")
fi
if [[ ${DRY_RUN:-0} == 1 ]]; then
  args+=(--dry_run)
fi
command=("$PYTHON" -m openrlhf_pure.cli.train_pure_ray "${args[@]}" "$@")

submit=(ray job submit --address "${SUBMIT_ADDRESS:-}" --working-dir "$REPO"
        --runtime-env-json '{"excludes": ["outputs", ".venv", ".git"]}' -- "${command[@]}")
if [[ -n ${SUBMIT_ADDRESS:-} && ${DRY_RUN:-0} != 1 ]]; then
  exec "${submit[@]}"  # the job runs on the cluster; the repository is its working directory
fi
if [[ -n ${SUBMIT_ADDRESS:-} ]]; then
  echo "dry run: would run $(printf '%q ' "${submit[@]}")"
fi
cd "$REPO"
exec "${command[@]}"
