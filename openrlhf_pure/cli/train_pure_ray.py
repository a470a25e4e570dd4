"""Train with PURE on OpenRLHF's Ray PPO: ``python -m openrlhf_pure.cli.train_pure_ray [flags]``.

Flags: every flag of OpenRLHF 0.11.2's ``openrlhf.cli.train_ppo_ray`` (same dotted names,
defaults and meaning; the parser is OpenRLHF's own, see ``engines.openrlhf.args``) plus PURE's
``--pure.*`` flags (``--help`` lists them under "PURE") and ``--dry_run``.

Steps: parse; ``--pure.preset`` fills the advantage flags not given; PURE's checks of the raw
arguments; OpenRLHF's own normalisation and checks; PURE's checks of the result (paths, batch
divisibility, GPUs, PRM placement, algorithm options); the resolved advantage configuration is
kept in ``args.pure.advantage``.
Every problem is printed on its own line (exit status 2). With ``--dry_run`` the resolved
configuration and the placement plan are printed and nothing is started; otherwise the run
starts (``engines.openrlhf.launch.train_pure``).
"""

from __future__ import annotations

import json
import sys

from openrlhf_pure.engines.advantage_flags import explicit_dests
from openrlhf_pure.engines.openrlhf.args import build_parser, hierarchize, namespace_to_dict, normalize_openrlhf_args
from openrlhf_pure.engines.openrlhf.settings import PureSettings, apply_preset
from openrlhf_pure.engines.openrlhf.validate import notes, post_checks, pre_checks


def resolve(argv: list[str] | None = None):
    """Parse and check. Returns (normalised args, errors); errors is empty when the configuration is valid."""
    parser = build_parser()
    args = hierarchize(parser.parse_args(argv))
    apply_preset(args, explicit_dests(parser, argv))
    errors = pre_checks(args)
    if errors:
        return args, errors
    try:
        normalize_openrlhf_args(args)
    except AssertionError as err:
        return args, [f"OpenRLHF: {err}"]
    errors = post_checks(args)
    if not errors:
        args.pure.advantage = PureSettings.from_args(args).advantage.to_dict()
    return args, errors


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
        print(json.dumps({"config": namespace_to_dict(args), "placement": placement_plan(args)}, indent=2, default=str))
        for note in notes(args):
            print(f"note: {note}")
        print("dry run: configuration is valid; nothing was started")
        return 0
    from openrlhf_pure.engines.openrlhf.launch import train_pure

    train_pure(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
