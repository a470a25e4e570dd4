"""``pure-train`` (``python -m openrlhf_pure.cli.train_local``): PURE on a real model in one process (CPU or one GPU).

Flags use the names of ``train_pure_ray`` for the same settings (OpenRLHF's ``--actor.*``,
``--data.prompt_dataset``, ``--data.input_key``, ``--data.label_key``, ``--algo.kl.*``,
``--rollout.*`` and PURE's ``--pure.*``, e.g. ``--pure.data.answer_key``); ``--help`` lists them.
Steps: parse; check everything before any model loads and print each problem on its own line
(exit status 2): model and data names (``data.sources``), the device, the output folder (a
previous run needs ``--train.resume`` or ``--overwrite_output_dir``), every option, and every
row of the data (the question, the answer field, the visibility flag: see
``data.problems``); with ``--dry_run`` print the resolved configuration as JSON and stop,
loading nothing (with ``--pure.preset``, the advantage flags given override the preset, the others
do not); otherwise load the policy, its frozen reference (when the KL coefficient is
positive), the PRM (in this process, or as a Ray actor group with ``--pure.prm.engine ray``),
run :class:`~openrlhf_pure.engines.local.trainer.LocalTrainer`, write a last checkpoint (so that
``--train.resume`` can continue with more steps) and save the final policy and tokenizer to
``output_dir/final`` atomically. Every saved policy records its prompt template and step
separator (``data.prompts``), and ``--data.template auto`` (the default) reuses the one saved
with the policy it starts from. All the mathematics lives in ``openrlhf_pure.core``.

PURE-PRM+VR must know which answers the verifiable reward may use: the rows' visibility flag
(``--pure.data.visible_key``, default ``pure_vr_answer_visible``, PURE's 10%) or a seeded draw
(``--pure.vr.visible_fraction 0.1``; ``1.0`` uses every answer). Without either it stops.

The shipped training set (``data/train``) reads with ``--data.prompt_dataset
data/train/math_level3to5_8523.jsonl --data.input_key prompt --data.label_key label
--data.template none`` (its prompts already hold PURE's template).
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from dataclasses import asdict
from pathlib import Path

from openrlhf_pure.cli.errors import report_errors
from openrlhf_pure.cli.logs import quiet_libraries
from openrlhf_pure.cli.validation import clear_previous_run, device_problem, output_dir_problem, resume_problem
from openrlhf_pure.data.problems import Problem, ProblemFields, choose_visible, read_problem_file
from openrlhf_pure.data.prompts import (
    PURE_TEMPLATE,
    PromptFormat,
    chat_prompt_template,
    check_template_string,
    saved_prompt_format,
)
from openrlhf_pure.data.sources import source_problem
from openrlhf_pure.engines.advantage_flags import FLAG_FIELDS, explicit_dests, resolve_advantage
from openrlhf_pure.engines.local.trainer import MODES, LocalTrainConfig
from openrlhf_pure.engines.openrlhf.args import parse_bool, parse_separator
from openrlhf_pure.models.prm_families import PRM_FAMILIES, family_problem
from openrlhf_pure.models.prm_scores import TRANSFORM_NAMES

DEFAULT_VISIBLE_KEY = "pure_vr_answer_visible"
TEMPLATE_HELP = (
    "auto (saved with the policy, else pure), pure, chat (the question field as the user message of the "
    "policy tokenizer's chat template), none (the question is the prompt), or a format string"
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (dotted flag names; ``vars(args)`` keys keep the dots)."""
    parser = argparse.ArgumentParser(prog="pure-train", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)  # fmt: skip
    add = parser.add_argument
    add("--actor.model_name_or_path", required=True, help="the policy to train (a directory or a hub name)")
    add("--output_dir", default="runs/train_local", help="metrics.jsonl, tensorboard/, checkpoints/, final/")
    add("--overwrite_output_dir", action="store_true", help="replace a previous run in output_dir")
    add("--device", choices=("cpu", "cuda"), default="cpu")
    add("--dtype", default=None, help="policy and PRM dtype (float32, bfloat16, float16); default bf16 on cuda")
    add(
        "--dry_run",
        action="store_true",
        help="check everything (data included), print the configuration; load no model",
    )
    add("--data.prompt_dataset", "--data.path", dest="data.prompt_dataset", required=True,
        help="training problems: .jsonl, .json or .parquet")  # fmt: skip
    add("--data.input_key", "--data.question_key", dest="data.input_key", default="question",
        help="the question field (the whole prompt with --data.template none)")  # fmt: skip
    add("--data.label_key", default=None, help="an object field holding the answer and visibility fields")
    add("--data.template", default="auto", help=TEMPLATE_HELP)
    add("--data.no_template", dest="data.template", action="store_const", const="none", help=argparse.SUPPRESS)
    add("--pure.data.answer_key", "--data.answer_key", dest="pure.data.answer_key", default="gt_answer",
        help="the ground-truth answer field (null: no known answer)")  # fmt: skip
    add("--pure.data.visible_key", "--pure.vr.visible_key", dest="pure.data.visible_key", default=None,
        help=f"the visibility flag field (prm_vr; default {DEFAULT_VISIBLE_KEY})")  # fmt: skip
    add("--pure.reward_mode", choices=MODES, default="prm_vr")
    add("--pure.step_separator", type=parse_separator, default=None, help='saved with the policy, else "\\n\\n"')
    add("--pure.prm.model_name_or_path", default=None, help="the PRM (modes prm and prm_vr)")
    add(
        "--pure.prm.family",
        choices=PRM_FAMILIES.names(),
        default=None,
        help="PRM family (head, step format, score); default: detected from the PRM's config.json",
    )
    add("--pure.prm.format", default=None, help="the PRM's step format (default: saved with the PRM, or its family's)")
    add(
        "--pure.prm.score_transform",
        choices=TRANSFORM_NAMES,
        default="auto",
        help="map of the PRM's native score to credit assignment's scale: auto (2p-1 for probabilities), 2p-1, none",
    )
    add("--pure.prm.max_tokens_per_batch", type=int, default=16384)
    add("--pure.prm.engine", choices=("inprocess", "ray"), default="inprocess")
    add("--pure.prm.num_replicas", type=int, default=1, help="Ray PRM replicas (engine ray)")
    add("--pure.prm.num_gpus_per_replica", type=float, default=0.0, help="GPUs per Ray PRM replica")
    add("--pure.prm.ray_num_cpus", type=int, default=None, help="CPUs of the local Ray (engine ray)")
    add("--pure.preset", default=None, help="default, authors_openrlhf or authors_verl: the whole advantage "
        "configuration (docs/presets.md); the advantage flags below override it only when given")  # fmt: skip
    add("--pure.credit.mode", default="softmin", help="sum, min, softmin or future_min")
    add("--pure.credit.temperature", type=float, default=0.1)
    add("--pure.credit.gamma", type=float, default=1.0)
    add("--pure.pr_coef", type=float, default=1.0)
    add("--pure.vr_coef", type=float, default=1.0)
    add("--pure.pr_baseline", default="token", help="token, max_len, step, step_mean or none")
    add("--pure.step_token_count", default="with_closing", help="with_closing or without_closing")
    add("--pure.vr.estimator", default="rloo", help="rloo, grpo or none")
    add("--pure.token_returns", default="sum", help="sum or running_min")
    add("--pure.return_baseline", default="none", help="none or max_len (over the returns of all rewards)")
    add(
        "--pure.mask_reward_tokens", type=parse_bool, default=True, help="zero advantages on reward tokens (true/false)"
    )
    add("--pure.no_mask_reward_tokens", dest="pure.mask_reward_tokens", action="store_false", help=argparse.SUPPRESS)
    add("--pure.mask_tokens", default="reward", help="reward or closing (every step-closing token)")
    add("--pure.whiten", type=parse_bool, default=True, help="whiten advantages over the batch (true/false)")
    add("--pure.no_whiten", dest="pure.whiten", action="store_false", help=argparse.SUPPRESS)
    add("--pure.whitening", default="masked", help="masked, nonzero_mean or unbiased")
    add("--pure.kl.clamp", type=float, default=None, help="clamp each KL estimate to [-c, c]")
    add("--pure.vr.visible_fraction", type=float, default=None, help="seeded share of visible answers (prm_vr)")
    add("--pure.vr.visible_seed", type=int, default=0)
    add("--algo.kl.init_coef", type=float, default=1e-3, help="KL penalty; 0 loads no reference model")
    add("--algo.kl.estimator", default="k1", help="k1, k2 or k3")
    add("--rollout.n_samples_per_prompt", type=int, default=4)
    add("--rollout.prompts_per_step", type=int, default=8)
    add("--rollout.max_new_tokens", type=int, default=512)
    add("--rollout.temperature", type=float, default=1.0)
    add("--rollout.top_p", type=float, default=1.0)
    add("--train.steps", type=int, default=20)
    add("--train.lr", type=float, default=1e-6)
    add("--train.weight_decay", type=float, default=0.0)
    add("--train.warmup_steps", type=int, default=0)
    add("--train.max_grad_norm", type=float, default=1.0)
    add("--train.clip_eps", type=float, default=0.2)
    add("--train.micro_batch_size", type=int, default=8)
    add("--train.updates_per_batch", type=int, default=1)
    add("--train.seed", type=int, default=42)
    add("--train.save_every", type=int, default=0, help="checkpoint every k steps (0: only at the end)")
    add("--train.resume", action="store_true", help="continue from output_dir/checkpoints")
    add("--train.stop_on_hacking", action="store_true")
    add("--log.tensorboard", action="store_true", help="TensorBoard events under output_dir/tensorboard")
    add("--log.wandb_project", default=None)
    return parser


def resolve_prompt_format(flags: dict) -> tuple[PromptFormat | None, str]:
    """(the prompt format, or None for ``--data.template none``; the step separator) of the run."""
    try:
        saved = saved_prompt_format(flags["actor.model_name_or_path"])
    except ValueError:
        saved = None
    separator = flags["pure.step_separator"] or (saved.step_separator if saved else "\n\n")
    spec = flags["data.template"]
    if spec == "none":
        return None, separator
    if spec == "chat":
        from transformers import AutoTokenizer

        path = flags["actor.model_name_or_path"]
        try:
            template = chat_prompt_template(AutoTokenizer.from_pretrained(path))
        except ValueError as err:
            raise ValueError(f"--data.template chat: {path}: {err}") from None
        return PromptFormat(template, separator), separator
    template = {"auto": saved.template if saved else PURE_TEMPLATE, "pure": PURE_TEMPLATE}.get(spec, spec)
    return PromptFormat(template, separator), separator


def check_flags(flags: dict) -> list[str]:
    """Every problem with the flags alone (no file is read beyond a model folder's config.json)."""
    mode, prm = flags["pure.reward_mode"], flags["pure.prm.model_name_or_path"]
    errors = [
        source_problem("--data.prompt_dataset", flags["data.prompt_dataset"], "file"),
        source_problem("--actor.model_name_or_path", flags["actor.model_name_or_path"], "model"),
        device_problem("--device", flags["device"]),
        output_dir_problem(flags["output_dir"], flags["train.resume"], flags["overwrite_output_dir"]),
    ]
    if mode in ("prm", "prm_vr"):
        if prm is None:
            errors.append(f"--pure.reward_mode {mode} needs a PRM: give --pure.prm.model_name_or_path")
        else:
            errors.append(source_problem("--pure.prm.model_name_or_path", prm, "model"))
            if errors[-1] is None:
                errors.append(family_problem("--pure.prm.model_name_or_path", prm, flags["pure.prm.family"]))
    if flags["data.template"] not in ("auto", "pure", "chat", "none"):
        try:
            check_template_string(flags["data.template"])
        except ValueError as err:
            errors.append(f"--data.template: {err} ({TEMPLATE_HELP})")
    if flags["pure.data.visible_key"] and flags["pure.vr.visible_fraction"] is not None:
        errors.append("give either --pure.data.visible_key or --pure.vr.visible_fraction, not both")
    fraction = flags["pure.vr.visible_fraction"]
    if fraction is not None and not 0.0 <= fraction <= 1.0:
        errors.append(f"--pure.vr.visible_fraction must lie in [0, 1], got {fraction}")
    if flags["pure.prm.num_replicas"] < 1:
        errors.append(f"--pure.prm.num_replicas must be >= 1, got {flags['pure.prm.num_replicas']}")
    if flags["train.resume"]:
        errors.append(resume_problem(flags["output_dir"]))
    if flags["dtype"] is not None:
        from openrlhf_pure.models.prm import resolve_dtype

        try:
            resolve_dtype(flags["dtype"], flags["device"])
        except ValueError as err:
            errors.append(f"--dtype: {err}")
    return [e for e in errors if e]


def trainer_config(flags: dict, separator: str, given: set[str]) -> LocalTrainConfig:
    """The :class:`LocalTrainConfig` the flags describe (ValueError for a bad option).

    ``given``: the flag destinations typed on the command line (they override ``--pure.preset``).
    """
    values = {dest: flags[dest] for dest in FLAG_FIELDS}
    advantage = resolve_advantage(flags["pure.preset"], values, given)
    advantage = advantage.with_overrides({"max_len": flags["rollout.max_new_tokens"]})
    return LocalTrainConfig(
        mode=flags["pure.reward_mode"], steps=flags["train.steps"], prompts_per_step=flags["rollout.prompts_per_step"],
        samples_per_prompt=flags["rollout.n_samples_per_prompt"], max_new_tokens=flags["rollout.max_new_tokens"],
        temperature=flags["rollout.temperature"], top_p=flags["rollout.top_p"], lr=flags["train.lr"],
        weight_decay=flags["train.weight_decay"], warmup_steps=flags["train.warmup_steps"],
        max_grad_norm=flags["train.max_grad_norm"], updates_per_batch=flags["train.updates_per_batch"],
        micro_batch_size=flags["train.micro_batch_size"], clip_eps=flags["train.clip_eps"], advantage=advantage,
        separator=separator, seed=flags["train.seed"], output_dir=flags["output_dir"],
        save_every=flags["train.save_every"], tensorboard=flags["log.tensorboard"],
        wandb_project=flags["log.wandb_project"], stop_on_hacking=flags["train.stop_on_hacking"],
    )  # fmt: skip


def resolve(argv: list[str] | None = None) -> tuple[dict, LocalTrainConfig | None, list[str]]:
    """Parse and check the flags. Returns (flags by dotted name, trainer config or None, problems found)."""
    parser = build_parser()
    flags = vars(parser.parse_args(argv))
    given = explicit_dests(parser, argv)
    errors = check_flags(flags)
    config = None
    try:
        prompt_format, separator = resolve_prompt_format(flags)
        flags["prompt_format"] = asdict(prompt_format) if prompt_format else None
        flags["pure.step_separator"] = separator  # resolved: the flag, else the policy's, else "\n\n"
        config = trainer_config(flags, separator, given)
    except (ValueError, KeyError) as err:
        errors.append(str(err).strip("'\""))
    return flags, config, errors


def read_problems(flags: dict) -> tuple[list[Problem], list[str], str]:
    """The training problems, their answers visible as the flags say: (problems, errors, summary line).

    Every row is checked (``data.problems``); nothing is loaded but the data file.
    """
    mode, fraction = flags["pure.reward_mode"], flags["pure.vr.visible_fraction"]
    visible_key = None
    if mode == "prm_vr" and fraction is None:
        visible_key = flags["pure.data.visible_key"] or DEFAULT_VISIBLE_KEY
    fields = ProblemFields(flags["data.input_key"], flags["pure.data.answer_key"], flags["data.label_key"],
                           visible_key, answer_required=mode != "prm")  # fmt: skip
    found = read_problem_file(flags["data.prompt_dataset"], fields)
    errors = found.errors
    flag_name = visible_key if flags["data.label_key"] is None else f"{flags['data.label_key']}.{visible_key}"
    if visible_key is not None and flag_name in found.missing_everywhere:
        errors = [e for e in errors if not e.endswith(f"no row has field {flag_name!r}")]
        errors.append(
            f"{found.path}: no row has the visibility field {flag_name!r}, so PURE-PRM+VR cannot tell which answers "
            "the verifiable reward may use: name the field with --pure.data.visible_key, or draw them with "
            "--pure.vr.visible_fraction 0.1 (PURE's 10%; 1.0 uses every answer)"
        )
    prompt_format = PromptFormat(**flags["prompt_format"]) if flags.get("prompt_format") else None
    problems = found.problems(prompt_format.render if prompt_format else (lambda question: question))
    if fraction is not None and mode == "prm_vr":
        problems = choose_visible(problems, fraction, flags["pure.vr.visible_seed"])
    summary = found.summary()
    if mode == "prm_vr":
        visible = sum(p.visible and p.answer is not None for p in problems)
        summary += f", {visible} visible to the verifiable reward"
    return problems, errors, summary


def build_step_scorer(flags: dict, tokenizer, device, dtype):
    """The PRM step scorer of the run (None in mode vr), and a closer to call at the end."""
    if flags["pure.reward_mode"] == "vr":
        return None, lambda: None
    prm_path = flags["pure.prm.model_name_or_path"]
    if flags["pure.prm.engine"] == "ray":
        from openrlhf_pure.engines.local.ray_prm import RayPRMStepScorer

        scorer = RayPRMStepScorer(prm_path, flags["actor.model_name_or_path"], flags["pure.prm.num_replicas"],
                                  flags["pure.prm.num_gpus_per_replica"], flags["pure.prm.ray_num_cpus"],
                                  flags["pure.prm.format"], flags["pure.step_separator"],
                                  flags["pure.prm.max_tokens_per_batch"], flags["dtype"], flags["pure.prm.family"],
                                  flags["pure.prm.score_transform"])  # fmt: skip
        print(f"PRM: {scorer.description}", flush=True)
        return scorer, scorer.close
    from openrlhf_pure.engines.prm_scorer import PRMScorer, RolloutStepScorer, ScorerConfig
    from openrlhf_pure.models.prm import ProcessRewardModel

    prm = ProcessRewardModel.from_pretrained(prm_path, step_format=flags["pure.prm.format"], dtype=dtype,
                                             device=device, family=flags["pure.prm.family"],
                                             score_transform=flags["pure.prm.score_transform"])  # fmt: skip
    print(f"PRM: {prm.describe()}", flush=True)
    scorer = PRMScorer(prm, tokenizer, ScorerConfig(max_tokens_per_batch=flags["pure.prm.max_tokens_per_batch"]))
    return RolloutStepScorer(scorer), (lambda: None)


def run(flags: dict, config: LocalTrainConfig, problems: list[Problem]) -> list[dict]:
    """Load the models, train, save the final policy; returns the metric history."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from openrlhf_pure.core.grading.extract import extract_answer
    from openrlhf_pure.core.grading.reward import verifiable_rewards
    from openrlhf_pure.data.prompts import record_prompt_format
    from openrlhf_pure.engines.checkpoint import save_pretrained_atomic
    from openrlhf_pure.engines.local.trainer import LocalTrainer
    from openrlhf_pure.models.prm import resolve_dtype

    device = flags["device"]
    dtype = resolve_dtype(flags["dtype"], device)
    path = flags["actor.model_name_or_path"]
    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    policy = AutoModelForCausalLM.from_pretrained(path, dtype=dtype).to(device)
    if flags["prompt_format"] is not None:  # every checkpoint of the run records how it was prompted
        record_prompt_format(policy, PromptFormat(**flags["prompt_format"]))
    reference = copy.deepcopy(policy) if config.advantage.kl_coef > 0 else None
    step_scorer, close = build_step_scorer(flags, tokenizer, device, flags["dtype"])
    try:
        trainer = LocalTrainer(policy, reference, tokenizer, problems, config, step_scorer=step_scorer,
                               verifier=verifiable_rewards, extract_answer=extract_answer)  # fmt: skip
        history = trainer.train(resume=flags["train.resume"])
    finally:
        close()
    final = save_pretrained_atomic(policy, Path(config.output_dir) / "final", tokenizer)
    print(f"final policy saved to {final}", flush=True)
    return history


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status (2 for a bad configuration or bad data)."""
    flags, config, errors = resolve(argv)
    problems, summary = [], None
    if config is not None and not any(e.startswith("--data.prompt_dataset") for e in errors):
        problems, data_errors, summary = read_problems(flags)
        errors += data_errors
    if errors:
        return report_errors(errors)
    if flags["dry_run"]:
        print(f"dry run: the configuration is valid, nothing was loaded; {summary}")
        print(json.dumps({"flags": flags, "trainer": asdict(config), "data": summary}, indent=2, default=str))
        return 0
    print(summary, flush=True)
    quiet_libraries()
    if flags["overwrite_output_dir"] and not flags["train.resume"]:
        clear_previous_run(flags["output_dir"])
    run(flags, config, problems)
    return 0


if __name__ == "__main__":
    sys.exit(main())
