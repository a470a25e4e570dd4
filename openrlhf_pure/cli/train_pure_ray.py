"""Train with PURE on OpenRLHF's Ray PPO: ``python -m openrlhf_pure.cli.train_pure_ray [flags]``.

Flags: every flag of OpenRLHF 0.11.2's ``openrlhf.cli.train_ppo_ray`` (same dotted names,
defaults and meaning; the parser is OpenRLHF's own, see ``engines.openrlhf.args``) plus PURE's
``--pure.*`` flags (``--help`` lists them under "PURE") and ``--dry_run``.

Steps: parse; ``--pure.preset`` fills the advantage flags not given; PURE's checks of the raw
arguments; OpenRLHF's own normalisation and checks; PURE's checks of the result (paths, batch
divisibility, GPUs, PRM placement, algorithm options); the resolved advantage configuration is
kept in ``args.pure.advantage``.
Every problem is printed on its own line, all at once, the local prompt data included (every
row is read and checked); exit status 2. With ``--dry_run`` the resolved configuration and the
placement plan (with the memory estimate of one colocated GPU, ``engines.openrlhf.capacity``)
are printed as JSON, then notes, warnings (the estimate exceeds ``--pure.gpu_memory_gb``, or
prompts and responses can outgrow the PRM's context) and a short human summary (mode, models,
data rows and visible answers, rollout shape, GPUs), and nothing is started; otherwise the run
starts (``engines.openrlhf.launch.train_pure``).
"""

from __future__ import annotations

import json
import sys

from openrlhf_pure.engines.advantage_flags import explicit_dests
from openrlhf_pure.engines.openrlhf.args import build_parser, hierarchize, namespace_to_dict, normalize_openrlhf_args
from openrlhf_pure.engines.openrlhf.settings import PureSettings, apply_preset
from openrlhf_pure.engines.openrlhf.validate import notes, post_checks, pre_checks, read_prompt_data


def resolve(argv: list[str] | None = None):
    """Parse and check. Returns (normalised args, errors); errors is empty when the configuration is valid.

    Every check runs, so every problem is reported at once: PURE's checks of the raw
    arguments, OpenRLHF's normalisation, then the checks of the normalised arguments and of the
    data. When a raw-argument check already failed, a failing normalisation is its echo and is
    not repeated, and each later check runs if it can on the arguments as they are.
    """
    parser = build_parser()
    args = hierarchize(parser.parse_args(argv))
    apply_preset(args, explicit_dests(parser, argv))
    errors = pre_checks(args)
    try:
        normalize_openrlhf_args(args)
    except Exception as err:  # noqa: BLE001 - OpenRLHF asserts; an unsupported option may fail otherwise
        if not errors:
            return args, [
                f"OpenRLHF: {err}" if isinstance(err, AssertionError) else f"OpenRLHF: {type(err).__name__}: {err}"
            ]
        return args, [*errors, *post_checks(args, skip_failing=True)]
    errors = [*errors, *post_checks(args)]
    if not errors:
        args.pure.advantage = PureSettings.from_args(args).advantage.to_dict()
    return args, errors


def human_summary(args, plan: dict) -> list[str]:
    """A few lines saying what the run would do (printed after the full JSON by ``--dry_run``)."""
    pure = args.pure
    lines = [f"mode {pure.reward_mode}, credit {pure.credit.mode} (T={pure.credit.temperature}), "
             f"policy {args.actor.model_name_or_path}"]  # fmt: skip
    if pure.reward_mode != "vr":
        lines.append(f"PRM {pure.prm.model_name_or_path}: {pure.prm.num_replicas} replica(s)")
    lines += [f"data {line}" for line in read_prompt_data(args)[1]]
    lines.append(
        f"rollouts {args.rollout.batch_size} prompts x {args.rollout.n_samples_per_prompt} samples, "
        f"{args.train.num_episodes} episode(s); GPUs requested: {plan['total_gpus']}"
    )
    return lines


def placement_plan(args) -> dict:
    """GPUs each model group asks Ray for (what the run will request)."""
    actor_gpus = args.actor.num_nodes * args.actor.num_gpus_per_node
    colocated = args.train.colocate_actor_ref or args.train.colocate_all
    plan = {"actor": {"gpus": actor_gpus, "colocated": bool(colocated)}}
    if args.algo.kl.init_coef > 0:
        plan["reference"] = {"gpus": args.ref.num_nodes * args.ref.num_gpus_per_node, "colocated": bool(colocated)}
    plan["vllm"] = {
        "engines": args.vllm.num_engines,
        "gpus": (args.vllm.num_engines or 0) * args.vllm.tensor_parallel_size,
        "colocated": bool(args.train.colocate_all),
    }
    if args.pure.reward_mode != "vr":
        prm = args.pure.prm
        plan["prm"] = {
            "replicas": prm.num_replicas,
            "gpus_per_replica": prm.num_gpus_per_replica,
            "colocated": bool(prm.colocate),
        }
    total = actor_gpus  # the actor's GPUs, shared by whatever is colocated with it
    total += sum(
        group["gpus"] for name, group in plan.items() if name in ("reference", "vllm") and not group["colocated"]
    )
    if "prm" in plan and not plan["prm"]["colocated"]:
        total += plan["prm"]["replicas"] * plan["prm"]["gpus_per_replica"]
    plan["total_gpus"] = total
    return plan


def main(argv: list[str] | None = None) -> int:
    args, errors = resolve(argv)
    if errors:
        for message in errors:
            print(f"error: {message}", file=sys.stderr)
        print(f"{len(errors)} problem(s) in the configuration; nothing was started", file=sys.stderr)
        return 2
    if args.dry_run:
        from openrlhf_pure.engines.openrlhf.capacity import capacity_report

        plan = placement_plan(args)
        plan["memory"], warnings = capacity_report(args)
        print(json.dumps({"config": namespace_to_dict(args), "placement": plan}, indent=2, default=str))
        for note in notes(args):
            print(f"note: {note}")
        for warning in warnings:
            print(f"warning: {warning}")
        for line in human_summary(args, plan):
            print(f"summary: {line}")
        print("dry run: configuration is valid; nothing was started")
        return 0
    from openrlhf_pure.engines.openrlhf.launch import train_pure

    train_pure(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
