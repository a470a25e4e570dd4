"""The README's main job: PURE end to end on a built-in arithmetic task, on CPU, in minutes.

    python -m openrlhf_pure.cli.demo                     # PURE-PRM+VR, softmin credit, seed 0
    python -m openrlhf_pure.cli.demo --credit sum --mode prm --rl_steps 80 --output runs/sum
    python -m openrlhf_pure.cli.demo --pure.preset authors_verl   # the authors' verl advantages

Prints progress and a compact table per RL step, writes a report folder, and ends with one
JSON line: {"accuracy_before": ..., "accuracy_after": ..., "seconds": ..., "report": ...}.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields

from openrlhf_pure.cli.errors import report_errors
from openrlhf_pure.cli.logs import quiet_libraries
from openrlhf_pure.core.advantages import AdvantageConfig
from openrlhf_pure.core.credit import CREDIT_MODES
from openrlhf_pure.core.presets import PRESETS
from openrlhf_pure.engines.advantage_flags import explicit_dests
from openrlhf_pure.engines.local.demo import DemoConfig, run_demo
from openrlhf_pure.engines.local.trainer import MODES


def build_parser() -> argparse.ArgumentParser:
    """Flags for every :class:`DemoConfig` field (``--output`` is ``output_dir``, ``--pure.preset`` is ``preset``)."""
    parser = argparse.ArgumentParser(description="PURE on a built-in arithmetic task (CPU, a few minutes).")
    parser.add_argument("--pure.preset", dest="preset", choices=PRESETS.names(), default=None,
                        help="the whole advantage configuration (docs/presets.md); --credit and --temperature "
                        "override it when given")  # fmt: skip
    defaults = DemoConfig()
    for f in fields(DemoConfig):
        if f.name == "preset":
            continue
        flag = "--output" if f.name == "output_dir" else f"--{f.name}"
        kwargs = {"default": getattr(defaults, f.name), "type": type(getattr(defaults, f.name)), "dest": f.name}
        if f.name == "credit":
            kwargs["choices"] = CREDIT_MODES.names()
        if f.name == "mode":
            kwargs["choices"] = MODES
        parser.add_argument(flag, **kwargs, help=f"(default: {getattr(defaults, f.name)})")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse, run the demo, print its JSON line; returns the exit status (2 for bad flags)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.preset is not None:  # the preset's credit mode and temperature, unless given
        given, credit = explicit_dests(parser, argv), AdvantageConfig.preset(args.preset).credit
        args.credit = args.credit if "credit" in given else credit.mode
        args.temperature = args.temperature if "temperature" in given else credit.temperature
    names = ("rl_steps", "prompts_per_step", "samples_per_prompt", "max_new_tokens", "hidden", "layers")
    errors = [f"--{name} must be >= 1, got {getattr(args, name)}" for name in names if getattr(args, name) < 1]
    if errors:
        return report_errors(errors)
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # the tiny models' load reports and progress bars are noise here
    quiet_libraries(progress=False)
    result = run_demo(DemoConfig(**vars(args)))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
