"""The README's main job: PURE's comparison on a built-in arithmetic task, on CPU, in minutes.

    python -m openrlhf_pure.cli.demo                     # PRM+VR softmin, PRM+VR sum, PURE-VR; seed 0
    python -m openrlhf_pure.cli.demo --mode prm --runs softmin,sum --output runs/prm
    python -m openrlhf_pure.cli.demo --pure.preset authors_verl   # the authors' verl advantages
    python -m openrlhf_pure.cli.demo --runs softmin,sum/prm@authors_verl,vr   # runs of any kind

Prints progress, one side-by-side table of the runs, writes a report folder, and ends with one
JSON line: {"accuracy_before": ..., "accuracy_after": ..., "seconds": ..., "report": ...,
"runs": {"softmin": {...}, "sum": {...}, "vr": {...}}} (the first run is the default run).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields

from openrlhf_pure.cli.errors import report_errors
from openrlhf_pure.cli.logs import quiet_libraries
from openrlhf_pure.core.advantages import AdvantageConfig
from openrlhf_pure.core.presets import PRESETS
from openrlhf_pure.engines.advantage_flags import explicit_dests
from openrlhf_pure.engines.local.demo import DemoConfig, run_demo
from openrlhf_pure.engines.local.demo_runs import parse_runs
from openrlhf_pure.engines.local.trainer import MODES


def build_parser() -> argparse.ArgumentParser:
    """Flags for every :class:`DemoConfig` field (``--output`` is ``output_dir``, ``--pure.preset`` is ``preset``)."""
    parser = argparse.ArgumentParser(description="PURE on a built-in arithmetic task (CPU, a few minutes).")
    parser.add_argument("--pure.preset", dest="preset", choices=PRESETS.names(), default=None,
                        help="the whole advantage configuration (docs/presets.md) of runs that name none; "
                        "--temperature overrides it when given")  # fmt: skip
    defaults = DemoConfig()
    for f in fields(DemoConfig):
        if f.name == "preset":
            continue
        flag = "--output" if f.name == "output_dir" else f"--{f.name}"
        kwargs = {"default": getattr(defaults, f.name), "type": type(getattr(defaults, f.name)), "dest": f.name}
        if f.name == "mode":
            kwargs["choices"] = [m for m in MODES if m != "vr"]
        parser.add_argument(flag, **kwargs, help=f"(default: {getattr(defaults, f.name)})")
    return parser


def validate(config: DemoConfig) -> list[str]:
    """One line per invalid setting (the flag named), before any work."""
    names = ("rl_steps", "prompts_per_step", "samples_per_prompt", "max_new_tokens", "hidden", "layers", "workers",
             "threads", "max_term")  # fmt: skip
    errors = [f"--{name} must be >= 1, got {getattr(config, name)}" for name in names if getattr(config, name) < 1]
    if config.max_factor < 2:
        errors.append(f"--max_factor must be >= 2, got {config.max_factor}")
    total = config.max_term**2 * max(config.max_factor - 1, 0)
    if not 0 < config.held_out < total:
        errors.append(f"--held_out must be in 1..{total - 1} (the task has {total} problems), got {config.held_out}")
    if not 0.0 <= config.visible_fraction <= 1.0:
        errors.append(f"--visible_fraction must be in [0, 1], got {config.visible_fraction}")
    if not 0.0 <= config.hack_rate <= 1 / 3:
        errors.append(f"--hack_rate must be in [0, 1/3], got {config.hack_rate}")
    try:
        parse_runs(config)
    except ValueError as err:
        errors.append(f"--runs: {err}")
    return errors


def main(argv: list[str] | None = None) -> int:
    """Parse, run the demo, print its JSON line; returns the exit status (2 for bad flags)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.preset is not None and "temperature" not in explicit_dests(parser, argv):  # the preset's, unless given
        args.temperature = AdvantageConfig.preset(args.preset).credit.temperature
    config = DemoConfig(**vars(args))
    errors = validate(config)
    if errors:
        return report_errors(errors)
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # the tiny models' load reports and progress bars are noise here
    quiet_libraries(progress=False)
    result = run_demo(config)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
