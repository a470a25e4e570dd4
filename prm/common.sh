# Shared by stage1_head.sh and stage2_full.sh (sourced, not run): PURE's PRM recipe settings,
# the `deepspeed` launcher command, and DRY_RUN. The caller sets MODEL, OUTPUT and STAGE_ARGS.
#
# Environment (all optional):
#   DATA          TRL-format stepwise rows: a local .jsonl/.json/.parquet file or a hub name
#                 (default HuggingFaceH4/prm800k-trl-dedup, the ~369k rows PURE trained on)
#   EVAL          held-out rows for step accuracy / F1 during training (EVAL_SPLIT for a hub set)
#   EVAL_FRACTION hold out this share of the training prompts instead (default: none)
#   NUM_GPUS      GPUs on this node (default 8); LAUNCHER_ARGS replaces "--num_gpus N" entirely,
#                 e.g. "--hostfile hostfile --num_nodes 2" for several nodes
#   PYTHON        the interpreter for DRY_RUN (default python)
#   DRY_RUN=1     print the launch command, run only the CLI's validation, launch nothing
# Extra arguments to the script are passed to the CLI (e.g. --train.max_steps 10).

DATA=${DATA:-HuggingFaceH4/prm800k-trl-dedup}
NUM_GPUS=${NUM_GPUS:-8}
LAUNCHER_ARGS=${LAUNCHER_ARGS:-"--num_gpus ${NUM_GPUS}"}
PYTHON=${PYTHON:-python}

# Global batch 128 rows, AdamW weight decay 0.1, beta2 0.95, bf16, ZeRO-2, gradient checkpointing.
RECIPE_ARGS=(
    --model.name_or_path "${MODEL}"
    --data.train "${DATA}"
    --data.format trl
    --train.backend deepspeed
    --train.rows_per_step 128
    --train.max_tokens_per_batch "${MAX_TOKENS_PER_BATCH:-16384}"
    --train.weight_decay 0.1
    --train.adam_beta1 0.9
    --train.adam_beta2 0.95
    --train.gradient_checkpointing
    --train.eval_every "${EVAL_EVERY:-500}"
    --train.save_every "${SAVE_EVERY:-500}"
    --ds.zero_stage 2
    --ds.bf16
    --log.tensorboard
    --output_dir "${OUTPUT}"
)
if [[ -n "${EVAL:-}" ]]; then
    RECIPE_ARGS+=(--data.eval "${EVAL}" --data.eval_split "${EVAL_SPLIT:-test}")
elif [[ -n "${EVAL_FRACTION:-}" ]]; then
    RECIPE_ARGS+=(--data.eval_fraction "${EVAL_FRACTION}")
fi

ARGS=("${RECIPE_ARGS[@]}" "${STAGE_ARGS[@]}" "$@")
# shellcheck disable=SC2206  # LAUNCHER_ARGS is a list of words on purpose
LAUNCH=(deepspeed ${LAUNCHER_ARGS} --module openrlhf_pure.cli.train_prm "${ARGS[@]}")

if [[ "${DRY_RUN:-0}" == "1" ]]; then
    echo "DRY_RUN: would launch:"
    printf '%q ' "${LAUNCH[@]}"
    echo
    exec "${PYTHON}" -m openrlhf_pure.cli.train_prm "${ARGS[@]}" --dry_run
fi
exec "${LAUNCH[@]}"
