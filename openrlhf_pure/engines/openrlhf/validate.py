"""Checks of a ``train_pure_ray`` configuration, each giving one clear message.

Two passes around OpenRLHF's own normalisation (see :mod:`args`):

- :func:`pre_checks` on the raw arguments: what PURE does not support from OpenRLHF (a
  critic, a scalar reward model, rewards computed at generation time, ...) and what would
  make OpenRLHF's normalisation fail obscurely;
- :func:`post_checks` on the normalised arguments: required paths, batch-size divisibility,
  GPU counts, PRM placement and colocation, PURE's algorithm options, and every row of the
  local prompt data (:func:`read_prompt_data`).

Each check returns a list of messages; all of them are reported at once. Nothing here starts
Ray or loads a model, so a dry run works on any machine.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from openrlhf_pure.data.problems import ProblemFields, read_problem_file
from openrlhf_pure.data.sources import source_problem
from openrlhf_pure.engines.openrlhf.settings import VR_ESTIMATOR_OF, PureSettings
from openrlhf_pure.models.prm_families import family_problem

# (flag, predicate on args, message): OpenRLHF features that do not apply to PURE.
UNSUPPORTED = (
    ("--critic.model_name_or_path", lambda a: a.critic.model_name_or_path, "PURE trains without a critic"),
    ("--reward.model_name_or_path", lambda a: a.reward.model_name_or_path,
     "PURE's rewards come from the PRM (--pure.prm.model_name_or_path) and the grader, not a scalar reward model"),
    ("--reward.remote_url", lambda a: a.reward.remote_url and not str(a.reward.remote_url).endswith(".py"),
     "PURE grades responses itself; only a reward-function file (for --eval.dataset) is accepted, e.g. "
     "openrlhf_pure/integrations/openrlhf_reward_func.py"),
    ("--train.agent_func_path", lambda a: a.train.agent_func_path, "multi-turn agents are not supported by PURE"),
    ("--algo.dynamic_filtering_enable", lambda a: a.algo.dynamic_filtering_enable,
     "dynamic filtering needs rewards at generation time; PURE computes them in the experience maker"),
    ("--train.async_enable", lambda a: a.train.async_enable, "the asynchronous trainer is not installed by PURE"),
    ("--reward.overlong_buffer_len", lambda a: a.reward.overlong_buffer_len is not None,
     "length penalties act on OpenRLHF's scalar reward, which PURE replaces"),
    ("--reward.stop_properly_penalty_coef", lambda a: a.reward.stop_properly_penalty_coef is not None,
     "length penalties act on OpenRLHF's scalar reward, which PURE replaces"),
    ("--algo.advantage.no_std_norm", lambda a: a.algo.advantage.no_std_norm,
     "PURE whitens advantages itself; use --pure.whiten false to switch whitening off"),
    ("--eval.dataset", lambda a: a.eval.dataset and not a.reward.remote_url,
     "evaluation during training needs a reward at generation time: add --reward.remote_url "
     "openrlhf_pure/integrations/openrlhf_reward_func.py (the verifiable reward)"),
)  # fmt: skip


def pre_checks(args) -> list[str]:
    """Checks on the raw (hierarchised, not yet normalised) arguments."""
    errors = [f"{flag} is not supported: {why}" for flag, given, why in UNSUPPORTED if given(args)]
    if args.algo.advantage.estimator not in VR_ESTIMATOR_OF:
        errors.append(
            f"--algo.advantage.estimator {args.algo.advantage.estimator} is not supported: PURE computes advantages "
            f"itself; choose rloo (PURE's leave-one-out VR baseline) or group_norm (GRPO's)"
        )
    if args.rollout.n_samples_per_prompt < 2:
        errors.append("--rollout.n_samples_per_prompt must be >= 2: PURE's baselines compare the samples of a prompt")
    return errors


def _path_problem(flag: str, value: str | None, required: bool, kind: str) -> str | None:
    if not value:
        return f"{flag} is required" if required else None
    for item in str(value).split(","):
        problem = source_problem(flag, item.strip(), kind)
        if problem:
            return problem
    return None


def check_paths(args) -> list[str]:
    """Model and data paths exist; hub names (``Qwen/Qwen2.5-Math-7B``) pass unless the hub is offline
    and they are not cached (the rule of ``openrlhf_pure.data.sources``)."""
    uses_prm = args.pure.reward_mode != "vr"
    problems = (
        _path_problem("--actor.model_name_or_path", args.actor.model_name_or_path, True, "model"),
        _path_problem("--data.prompt_dataset", args.data.prompt_dataset, True, "data"),
        _path_problem("--pure.prm.model_name_or_path", args.pure.prm.model_name_or_path, uses_prm, "model"),
    )
    return [p for p in problems if p]


def check_batches(args) -> list[str]:
    """Divisibility of the batch sizes by the GPUs and the samples per prompt."""
    errors = []
    shards = args.ds.ring_attn_size * args.ds.tensor_parallel_size
    gpus = args.actor.num_nodes * args.actor.num_gpus_per_node
    if gpus % shards:
        errors.append(f"actor GPUs ({gpus}) must be divisible by ring_attn_size x tensor_parallel_size ({shards})")
    dp = max(gpus // shards, 1)
    per_step = args.train.micro_batch_size * dp
    if args.train.batch_size % per_step:
        errors.append(
            f"--train.batch_size {args.train.batch_size} must be divisible by --train.micro_batch_size x "
            f"data-parallel actors ({args.train.micro_batch_size} x {dp} = {per_step})"
        )
    samples = args.rollout.batch_size * args.rollout.n_samples_per_prompt
    if samples % args.train.batch_size:
        errors.append(
            f"--rollout.batch_size x --rollout.n_samples_per_prompt ({samples} samples) must be divisible by "
            f"--train.batch_size {args.train.batch_size}, or the last partial training batch is dropped"
        )
    if args.data.max_len and args.rollout.max_new_tokens and args.rollout.max_new_tokens >= args.data.max_len:
        errors.append(
            f"--data.max_len {args.data.max_len} (prompt + response) must exceed --rollout.max_new_tokens "
            f"{args.rollout.max_new_tokens}"
        )
    return errors


def check_engines(args) -> list[str]:
    """vLLM engines and the GPU counts that OpenRLHF's launcher asserts."""
    errors = []
    if not args.vllm.num_engines or args.vllm.num_engines < 1:
        errors.append("--vllm.num_engines must be >= 1: OpenRLHF 0.11.2 samples only through vLLM engines")
    gpus = args.actor.num_nodes * args.actor.num_gpus_per_node
    if args.train.colocate_all and args.vllm.num_engines:
        engine_gpus = args.vllm.num_engines * args.vllm.tensor_parallel_size
        if engine_gpus != gpus:
            errors.append(
                f"--train.colocate_all needs vLLM GPUs (num_engines x tensor_parallel_size = {engine_gpus}) equal "
                f"to actor GPUs ({gpus})"
            )
    colocated_ref = (args.train.colocate_actor_ref or args.train.colocate_all) and args.algo.kl.init_coef > 0
    ref_shape, actor_shape = (
        (args.ref.num_nodes, args.ref.num_gpus_per_node),
        (args.actor.num_nodes, args.actor.num_gpus_per_node),
    )
    if colocated_ref and ref_shape != actor_shape:
        errors.append("a colocated reference model needs the actor's --*.num_nodes and --*.num_gpus_per_node")
    return errors


def colocated_fraction(args) -> float:
    """GPU share per bundle already taken by the models that share the actor's placement group."""
    share = 0.2  # the actor (OpenRLHF requests 0.2 GPU per colocated model)
    share += 0.2 if args.algo.kl.init_coef > 0 else 0.0  # the reference
    share += 0.2 if args.train.colocate_all and args.vllm.num_engines else 0.0  # vLLM in hybrid mode
    return share


def check_prm(args) -> list[str]:
    """PRM replicas, GPUs per replica and colocation."""
    prm = args.pure.prm
    if args.pure.reward_mode == "vr":
        return []
    errors = []
    if prm.num_replicas < 1:
        errors.append(f"--pure.prm.num_replicas must be >= 1, got {prm.num_replicas}")
    if not 0.0 <= prm.num_gpus_per_replica <= 1.0:
        errors.append(
            f"--pure.prm.num_gpus_per_replica must lie in [0, 1] (0: CPU), got {prm.num_gpus_per_replica}; "
            f"a PRM replica holds one model on at most one GPU: add replicas instead"
        )
    if prm.model_name_or_path:
        errors += filter(None, [family_problem("--pure.prm.model_name_or_path", prm.model_name_or_path, prm.family)])
    if prm.max_tokens_per_batch < 1 or prm.max_restarts < 0:
        errors.append("--pure.prm.max_tokens_per_batch must be >= 1 and --pure.prm.max_restarts >= 0")
    if prm.max_length is not None and prm.max_length < 1:
        errors.append(f"--pure.prm.max_length must be >= 1 (the PRM's context in tokens), got {prm.max_length}")
    if prm.colocate:
        bundles = args.actor.num_nodes * args.actor.num_gpus_per_node
        if not (args.train.colocate_actor_ref or args.train.colocate_all):
            return [*errors, "--pure.prm.colocate needs --train.colocate_actor_ref or --train.colocate_all"]
        if prm.num_replicas > bundles:
            errors.append(f"--pure.prm.colocate: {prm.num_replicas} PRM replicas do not fit on {bundles} actor GPUs")
        taken = colocated_fraction(args)
        if taken + prm.num_gpus_per_replica > 1.0 + 1e-9:
            errors.append(
                f"--pure.prm.colocate: {prm.num_gpus_per_replica} GPU per PRM replica does not fit beside the "
                f"colocated models ({taken:.1f} GPU taken); use --pure.prm.num_gpus_per_replica <= {1 - taken:.1f}"
            )
    return errors


def check_algorithm(args) -> list[str]:
    """PURE's algorithm options, checked by the core's own config classes."""
    errors = []
    try:
        if args.algo.advantage.estimator in VR_ESTIMATOR_OF:  # else the pre-checks name it already
            PureSettings.from_args(args)
    except ValueError as err:
        errors.append(f"--pure.*: {err}")
    fraction = args.pure.vr.visible_fraction
    if fraction is not None and not 0.0 <= fraction <= 1.0:
        errors.append(f"--pure.vr.visible_fraction must lie in [0, 1], got {fraction}")
    if not args.pure.gpu_memory_gb > 0:
        errors.append(f"--pure.gpu_memory_gb must be > 0, got {args.pure.gpu_memory_gb}")
    if not args.pure.step_separator:
        errors.append("--pure.step_separator must not be empty")
    return errors


LOCAL_DATA_SUFFIXES = (".jsonl", ".json", ".parquet")


def read_prompt_data(args) -> tuple[list[str], list[str]]:
    """Read every local file of ``--data.prompt_dataset`` as the run will use it: (problems, summaries).

    Each row is checked (``openrlhf_pure.data.problems``): the ``--data.input_key`` string, the
    ``--data.label_key`` field with the ``--pure.data.answer_key`` answer (vr, prm_vr) and, in
    prm_vr without ``--pure.vr.visible_fraction``, the ``--pure.data.visible_key`` flag. Hub
    names and dataset folders are not read (a summary line says so).
    """
    mode, pure = args.pure.reward_mode, args.pure
    errors, summaries = [], []
    if mode != "prm" and not args.data.label_key:
        errors.append(
            f"--pure.reward_mode {mode} needs the answers: give --data.label_key (the field holding "
            f"{pure.data.answer_key!r}, or the answer itself)"
        )
        return errors, summaries
    visible_key = pure.data.visible_key if mode == "prm_vr" and pure.vr.visible_fraction is None else None
    fields = ProblemFields(args.data.input_key, pure.data.answer_key, args.data.label_key, visible_key,
                           answer_required=mode != "prm")  # fmt: skip
    for item in str(args.data.prompt_dataset or "").split(","):
        item = item.strip()
        if not item or source_problem("--data.prompt_dataset", item, "data"):
            continue  # reported by check_paths
        path = Path(item).expanduser()
        if not (path.is_file() and path.suffix.lower() in LOCAL_DATA_SUFFIXES):
            summaries.append(f"{item}: not read here (a hub data set or a folder: OpenRLHF reads it at start)")
            continue
        found = read_problem_file(path, fields)
        flag = f"{args.data.label_key}.{visible_key}"
        if visible_key is not None and flag in found.missing_everywhere:
            found.errors = [e for e in found.errors if not e.endswith(f"no row has field {flag!r}")]
            found.errors.append(
                f"{path}: no row has the visibility field {flag!r}, so PURE-PRM+VR cannot tell which answers the "
                "verifiable reward may use: name it with --pure.data.visible_key, or draw them with "
                "--pure.vr.visible_fraction 0.1 (PURE's 10%; 1.0 uses every answer)"
            )
        errors += found.errors
        visible = f", {found.visible} visible to the verifiable reward" if visible_key else ""
        summaries.append(found.summary() + visible)
    return errors, summaries


def check_data(args) -> list[str]:
    """The problems :func:`read_prompt_data` finds in the prompt data."""
    return read_prompt_data(args)[0]


POST_CHECKS: tuple[Callable, ...] = (check_paths, check_batches, check_engines, check_prm, check_algorithm, check_data)


def post_checks(args, skip_failing: bool = False) -> list[str]:
    """Every check of the normalised arguments (``skip_failing``: arguments OpenRLHF could not
    normalise; a check that cannot run on them is skipped)."""
    messages = []
    for check in POST_CHECKS:
        try:
            messages += check(args)
        except (AttributeError, TypeError, ValueError, KeyError):
            if not skip_failing:
                raise
    return messages


def notes(args) -> list[str]:
    """Harmless but noteworthy settings (printed by the dry run, not errors)."""
    out = []
    if args.pure.reward_mode == "vr" and args.pure.prm.model_name_or_path:
        out.append("--pure.prm.model_name_or_path is ignored in vr mode (no PRM is started)")
    if args.pure.reward_mode != "prm_vr" and args.pure.vr.visible_fraction is not None:
        out.append("--pure.vr.visible_fraction applies to prm_vr only (vr uses every answer, prm none)")
    if args.algo.kl.use_loss:
        out.append("--algo.kl.use_loss: KL is a loss term in the actor, not PURE's reward penalty")
    if args.reward.remote_url:
        out.append("--reward.remote_url: its rewards serve evaluation only; PURE computes the training rewards")
    vr_of_estimator = VR_ESTIMATOR_OF.get(args.algo.advantage.estimator)
    if args.pure.preset is not None and vr_of_estimator not in (None, args.pure.vr.estimator):
        out.append(f"--pure.preset {args.pure.preset} sets the VR baseline to {args.pure.vr.estimator}; --algo."
                   f"advantage.estimator does not change it (give --pure.vr.estimator {vr_of_estimator})")  # fmt: skip
    if args.data.apply_chat_template:
        out.append("--data.apply_chat_template: PURE's recipes prompt without a chat template")
    if args.pure.prm.offload and not args.pure.prm.colocate:
        out.append("--pure.prm.offload without --pure.prm.colocate: the PRM's own GPUs are freed for nothing")
    return out
