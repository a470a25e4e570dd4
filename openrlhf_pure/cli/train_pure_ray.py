"""Train with PURE on OpenRLHF's Ray PPO: ``python -m openrlhf_pure.cli.train_pure_ray [flags]``.

Flags: every flag of OpenRLHF 0.11.2's ``openrlhf.cli.train_ppo_ray`` (same dotted names,
defaults and meaning; the parser is OpenRLHF's own, see ``engines.openrlhf.args``) plus PURE's
``--pure.*`` flags (``--help`` lists them under "PURE") and ``--dry_run``.

Steps: parse; PURE's checks of the raw arguments; OpenRLHF's own normalisation and checks;
PURE's checks of the result (paths, batch divisibility, GPUs, PRM placement, algorithm options).
Every problem is printed on its own line (exit status 2). With ``--dry_run`` the resolved
configuration, the placement plan and the memory estimate of one colocated GPU
(``engines.openrlhf.capacity``; a warning when it cannot fit ``--pure.gpu_memory_gb``, or when
prompts and responses can outgrow the PRM's context) are printed and nothing is started;
otherwise the run starts (``engines.openrlhf.launch.train_pure``).
"""

from __future__ import annotations

import json
import sys

from openrlhf_pure.engines.openrlhf.args import build_parser, hierarchize, namespace_to_dict, normalize_openrlhf_args
from openrlhf_pure.engines.openrlhf.validate import notes, post_checks, pre_checks


def resolve(argv: list[str] | None = None):
    """Parse and check. Returns (normalised args, errors); errors is empty when the configuration is valid."""
    args = hierarchize(build_parser().parse_args(argv))
    errors = pre_checks(args)
    if errors:
        return args, errors
    try:
        normalize_openrlhf_args(args)
    except AssertionError as err:
        return args, [f"OpenRLHF: {err}"]
    return args, post_checks(args)


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
        print("dry run: configuration is valid; nothing was started")
        return 0
    from openrlhf_pure.engines.openrlhf.launch import train_pure

    train_pure(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
