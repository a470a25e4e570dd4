"""``serve_prm``: serve a process reward model over HTTP (see ``engines/prm_server.py`` for the API).

    python -m openrlhf_pure.cli.serve_prm --model runs/prm/stage2/final --port 8000
    curl -s localhost:8000/health
    curl -s localhost:8000/score -H 'Content-Type: application/json' \
        -d '{"items": [{"prompt": "1+1?", "steps": ["1+1=2.", "So 2."]}]}'

The server binds 127.0.0.1 unless ``--host`` says otherwise (it has no authentication: expose it
only behind something that has). ``--port 0`` picks a free port; the bound address is printed
once the model is loaded. Exit status 2 on bad arguments (a missing model folder is caught before
anything is loaded). ``/health`` reports the model folder's name only, never its path.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from openrlhf_pure.cli.errors import report_errors
from openrlhf_pure.cli.logs import quiet_libraries
from openrlhf_pure.cli.validation import device_problem

LIMIT_FLAGS = (
    "max_body_bytes",
    "max_items",
    "max_steps",
    "max_item_chars",
    "max_item_tokens",
    "max_request_tokens",
    "max_queued_requests",
    "listen_backlog",
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser."""
    from openrlhf_pure.engines.prm_server import ServerLimits
    from openrlhf_pure.models.prm_families import PRM_FAMILIES
    from openrlhf_pure.models.prm_scores import TRANSFORM_NAMES

    limits = ServerLimits()
    parser = argparse.ArgumentParser(prog="serve_prm", description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="PRM folder of any supported family (prm/README.md)")
    parser.add_argument("--prm.family", default=None, choices=PRM_FAMILIES.names(), help="default: detected")
    parser.add_argument("--prm.score_transform", default="auto", choices=TRANSFORM_NAMES,
                        help="native score -> common scale: auto (2p-1 for probabilities), 2p-1, none")  # fmt: skip
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: local clients only)")
    parser.add_argument("--port", type=int, default=8000, help="port to bind; 0 picks a free one")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    parser.add_argument("--dtype", default=None, help="bf16 / float32 (default: bf16 on GPU, float32 on CPU)")
    parser.add_argument("--max_tokens_per_batch", type=int, default=16384, help="token budget of one forward pass")
    parser.add_argument("--max_body_bytes", type=int, default=limits.max_body_bytes, help="largest request body")
    parser.add_argument("--max_items", type=int, default=limits.max_items, help="most items per request")
    parser.add_argument("--max_steps", type=int, default=limits.max_steps, help="most steps per item")
    parser.add_argument("--max_item_chars", type=int, default=limits.max_item_chars, help="most characters per item")
    parser.add_argument("--max_item_tokens", type=int, default=limits.max_item_tokens, help="most PRM tokens per item")
    parser.add_argument(
        "--max_request_tokens", type=int, default=limits.max_request_tokens, help="most PRM tokens per request"
    )
    parser.add_argument(
        "--max_queued_requests",
        type=int,
        default=limits.max_queued_requests,
        help="most requests waiting or being scored (503 past it)",
    )
    parser.add_argument(
        "--listen_backlog", type=int, default=limits.listen_backlog, help="connections the kernel queues"
    )
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    return parser


def validate(args: argparse.Namespace) -> list[str]:
    """Every problem with the arguments, before the model is loaded."""
    errors = []
    model = Path(args.model).expanduser()
    if not model.is_dir():
        errors.append(f"--model {args.model}: no such folder")
    elif not (model / "config.json").is_file():
        errors.append(f"--model {args.model}: no config.json, not a model folder")
    else:
        from openrlhf_pure.models.prm_families import family_problem

        errors += filter(None, [family_problem("--model", str(model), vars(args)["prm.family"])])
    errors += filter(None, [device_problem("--device", args.device)])
    if not 0 <= args.port <= 65535:
        errors.append(f"--port must be in 0..65535, got {args.port}")
    for name in ("max_tokens_per_batch", *LIMIT_FLAGS):
        if getattr(args, name) < 1:
            errors.append(f"--{name} must be positive, got {getattr(args, name)}")
    return errors


def main(argv: list[str] | None = None) -> int:
    """Parse, validate, load the PRM and serve until interrupted; returns the exit status."""
    args = build_parser().parse_args(argv)
    errors = validate(args)
    if errors:
        return report_errors(errors)
    from openrlhf_pure.engines.prm_scorer import PRMScorer, ScorerConfig
    from openrlhf_pure.engines.prm_server import PRMServer, ServerLimits
    from openrlhf_pure.models.prm import ProcessRewardModel

    quiet_libraries(progress=not args.quiet)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(asctime)s %(message)s")
    a = vars(args)
    prm = ProcessRewardModel.from_pretrained(str(Path(args.model).expanduser()), device=args.device,
                                             dtype=args.dtype, family=a["prm.family"],
                                             score_transform=a["prm.score_transform"])  # fmt: skip
    scorer = PRMScorer(prm, config=ScorerConfig(max_tokens_per_batch=args.max_tokens_per_batch))
    limits = ServerLimits(**{name: getattr(args, name) for name in LIMIT_FLAGS})
    try:
        server = PRMServer(scorer, host=args.host, port=args.port, limits=limits, model_name=args.model)
    except OSError as err:
        print(f"error: cannot bind {args.host}:{args.port}: {err}", file=sys.stderr)
        return 2
    print(f"serving PRM {args.model} ({prm.family} family, {prm.step_format.name} format, score {prm.score_name}, "
          f"transform {prm.transform.name}) on {server.address}", flush=True)  # fmt: skip
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
