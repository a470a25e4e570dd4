"""Train a real model with PURE in one process (CPU or one GPU): ``python -m openrlhf_pure.cli.train_local``.

Flags use OpenRLHF's dotted style (``--actor.model_name_or_path``, ``--pure.credit.mode``, ...;
``--help`` lists them). Steps: parse; check everything (paths exist, the reward mode has what it
needs, every option is known) and print each problem on its own line (exit status 2); with
``--dry_run`` print the resolved configuration as JSON and stop, loading nothing (with
``--pure.preset``, the advantage flags given override the preset, the others do not); otherwise
load the policy, its frozen reference (when the KL coefficient is positive), the PRM (in this
process, or as a Ray actor group with ``--pure.prm.engine ray``) and the problems, run
:class:`~openrlhf_pure.engines.local.trainer.LocalTrainer`, write a last checkpoint (so that
``--train.resume`` can continue with more steps) and save the final policy and tokenizer to
``output_dir/final`` atomically. All the mathematics lives in ``openrlhf_pure.core``.

The shipped training set (``data/train``) reads with ``--data.question_key prompt
--data.no_template --data.label_key label --data.answer_key gt_answer --pure.vr.visible_key
pure_vr_answer_visible``.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from dataclasses import asdict
from pathlib import Path

from openrlhf_pure.cli.errors import report_errors
from openrlhf_pure.data.problems import Problem
from openrlhf_pure.engines.advantage_flags import FLAG_FIELDS, explicit_dests, resolve_advantage
from openrlhf_pure.engines.local.trainer import MODES, LocalTrainConfig
from openrlhf_pure.models.prm_families import PRM_FAMILIES, family_problem
from openrlhf_pure.models.prm_scores import TRANSFORM_NAMES

HUB_NAME = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (dotted flag names; ``vars(args)`` keys keep the dots)."""
    parser = argparse.ArgumentParser(prog="pure-train", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)  # fmt: skip
    add = parser.add_argument
    add("--actor.model_name_or_path", required=True, help="the policy to train (a directory or a hub name)")
    add("--output_dir", default="runs/train_local", help="metrics.jsonl, tensorboard/, checkpoints/, final/")
    add("--device", choices=("cpu", "cuda"), default="cpu")
    add("--dtype", default=None, help="policy and PRM dtype (float32, bfloat16, float16); default bf16 on cuda")
    add("--dry_run", action="store_true", help="check and print the resolved configuration; load nothing")
    add("--data.path", required=True, help="training problems, JSONL")
    add("--data.question_key", default="question")
    add("--data.answer_key", default="gt_answer")
    add("--data.label_key", default=None, help="a nested object holding the answer and visibility fields")
    add("--data.template", dest="data.template", action="store_true", default=True, help="wrap in PURE's prompt")
    add("--data.no_template", dest="data.template", action="store_false", help="the question is the prompt")
    add("--pure.reward_mode", choices=MODES, default="prm_vr")
    add("--pure.step_separator", default="\n\n")
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
    add("--pure.mask_reward_tokens", dest="pure.mask_reward_tokens", action="store_true", default=True)
    add("--pure.no_mask_reward_tokens", dest="pure.mask_reward_tokens", action="store_false")
    add("--pure.mask_tokens", default="reward", help="reward or closing (every step-closing token)")
    add("--pure.whiten", dest="pure.whiten", action="store_true", default=True)
    add("--pure.no_whiten", dest="pure.whiten", action="store_false")
    add("--pure.whitening", default="masked", help="masked, nonzero_mean or unbiased")
    add("--pure.kl.clamp", type=float, default=None, help="clamp each KL estimate to [-c, c]")
    add("--pure.vr.visible_key", default=None, help="data field flagging visible answers (prm_vr)")
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


def _model_path_problem(flag: str, value: str) -> str | None:
    if Path(value).exists() or (HUB_NAME.match(value) and not value.startswith(".")):
        return None
    return f"{flag}: {value} does not exist (and is not a hub name)"


def resolve(argv: list[str] | None = None) -> tuple[dict, LocalTrainConfig | None, list[str]]:
    """Parse and check. Returns (flags by dotted name, trainer config or None, problems found)."""
    parser = build_parser()
    flags = vars(parser.parse_args(argv))
    given = explicit_dests(parser, argv)
    errors = []
    if not Path(flags["data.path"]).is_file():
        errors.append(f"--data.path: {flags['data.path']} does not exist")
    errors += filter(None, [_model_path_problem("--actor.model_name_or_path", flags["actor.model_name_or_path"])])
    mode, prm = flags["pure.reward_mode"], flags["pure.prm.model_name_or_path"]
    if mode in ("prm", "prm_vr"):
        if prm is None:
            errors.append(f"--pure.reward_mode {mode} needs a PRM: give --pure.prm.model_name_or_path")
        else:
            errors += filter(None, [_model_path_problem("--pure.prm.model_name_or_path", prm)])
            errors += filter(None, [family_problem("--pure.prm.model_name_or_path", prm, flags["pure.prm.family"])])
    if flags["pure.vr.visible_key"] and flags["pure.vr.visible_fraction"] is not None:
        errors.append("give either --pure.vr.visible_key or --pure.vr.visible_fraction, not both")
    fraction = flags["pure.vr.visible_fraction"]
    if fraction is not None and not 0.0 <= fraction <= 1.0:
        errors.append(f"--pure.vr.visible_fraction must lie in [0, 1], got {fraction}")
    if flags["pure.prm.num_replicas"] < 1:
        errors.append(f"--pure.prm.num_replicas must be >= 1, got {flags['pure.prm.num_replicas']}")
    if flags["dtype"] is not None:
        from openrlhf_pure.models.prm import resolve_dtype

        try:
            resolve_dtype(flags["dtype"], flags["device"])
        except ValueError as err:
            errors.append(f"--dtype: {err}")
    config = None
    try:
        values = {dest: flags[dest] for dest in FLAG_FIELDS}
        advantage = resolve_advantage(flags["pure.preset"], values, given)
        advantage = advantage.with_overrides({"max_len": flags["rollout.max_new_tokens"]})
        config = LocalTrainConfig(
            mode=mode, steps=flags["train.steps"], prompts_per_step=flags["rollout.prompts_per_step"],
            samples_per_prompt=flags["rollout.n_samples_per_prompt"], max_new_tokens=flags["rollout.max_new_tokens"],
            temperature=flags["rollout.temperature"], top_p=flags["rollout.top_p"], lr=flags["train.lr"],
            weight_decay=flags["train.weight_decay"], warmup_steps=flags["train.warmup_steps"],
            max_grad_norm=flags["train.max_grad_norm"], updates_per_batch=flags["train.updates_per_batch"],
            micro_batch_size=flags["train.micro_batch_size"], clip_eps=flags["train.clip_eps"], advantage=advantage,
            separator=flags["pure.step_separator"], seed=flags["train.seed"], output_dir=flags["output_dir"],
            save_every=flags["train.save_every"], tensorboard=flags["log.tensorboard"],
            wandb_project=flags["log.wandb_project"], stop_on_hacking=flags["train.stop_on_hacking"],
        )  # fmt: skip
    except (ValueError, KeyError) as err:
        errors.append(str(err).strip("'\""))
    return flags, config, errors


def read_problems(flags: dict) -> list[Problem]:
    """The training problems, their answers visible as the flags say."""
    from openrlhf_pure.data.problems import choose_visible, load_problems
    from openrlhf_pure.data.prompts import pure_prompt

    path, label_key = flags["data.path"], flags["data.label_key"]
    question_key, answer_key, visible_key = flags["data.question_key"], flags["data.answer_key"], flags[
        "pure.vr.visible_key"]  # fmt: skip
    if label_key is None:
        problems = load_problems(path, question_key, answer_key, visible_key, flags["data.template"])
    else:  # answer and visibility nested under label_key (the shipped training set's layout)
        problems = []
        for line_no, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            row = json.loads(line)
            label = row.get(label_key) if isinstance(row.get(label_key), dict) else {}
            if not isinstance(row.get(question_key), str):
                raise ValueError(f"{path}:{line_no}: missing string field {question_key!r}")
            question = row[question_key]
            answer = label.get(answer_key)
            visible = bool(label[visible_key]) if visible_key and visible_key in label else True
            prompt = pure_prompt(question) if flags["data.template"] else question
            problems.append(Problem(prompt, None if answer is None else str(answer), visible))
        if not problems:
            raise ValueError(f"{path}: no problems found")
    if flags["pure.vr.visible_fraction"] is not None:
        problems = choose_visible(problems, flags["pure.vr.visible_fraction"], flags["pure.vr.visible_seed"])
    return problems


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


def run(flags: dict, config: LocalTrainConfig) -> list[dict]:
    """Load everything, train, save the final policy; returns the metric history."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from openrlhf_pure.core.grading.extract import extract_answer
    from openrlhf_pure.core.grading.reward import verifiable_rewards
    from openrlhf_pure.engines.checkpoint import save_pretrained_atomic
    from openrlhf_pure.engines.local.trainer import LocalTrainer
    from openrlhf_pure.models.prm import resolve_dtype

    device = flags["device"]
    dtype = resolve_dtype(flags["dtype"], device)
    problems = read_problems(flags)
    path = flags["actor.model_name_or_path"]
    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    policy = AutoModelForCausalLM.from_pretrained(path, dtype=dtype).to(device)
    reference = copy.deepcopy(policy) if config.advantage.kl_coef > 0 else None
    step_scorer, close = build_step_scorer(flags, tokenizer, device, flags["dtype"])
    try:
        trainer = LocalTrainer(policy, reference, tokenizer, problems, config, step_scorer=step_scorer,
                               verifier=verifiable_rewards, extract_answer=extract_answer)  # fmt: skip
        history = trainer.train(resume=flags["train.resume"])
    finally:
        close()
    final = save_pretrained_atomic(policy, Path(config.output_dir) / "final")
    tokenizer.save_pretrained(str(final))
    print(f"final policy saved to {final}", flush=True)
    return history


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status (2 for a bad configuration)."""
    flags, config, errors = resolve(argv)
    if errors:
        return report_errors(errors)
    if flags["dry_run"]:
        resolved = {"flags": flags, "trainer": asdict(config)}
        print(json.dumps(resolved, indent=2, default=str))
        return 0
    run(flags, config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
