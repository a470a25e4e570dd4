"""Check what a finished ``train_pure_ray`` run left: ``python -m openrlhf_pure.cli.check_run OUTPUT --steps N``.

OUTPUT is the launch scripts' output folder (tensorboard/, ckpt/, final/, rollouts/; see
``engines.openrlhf.run_check``). Prints one ``ok`` or ``FAIL`` line per check, then one JSON line
with the figures and the verdict; the exit status is 1 when a check fails.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m openrlhf_pure.cli.check_run", description=__doc__.split("\n")[0])
    parser.add_argument("output", type=Path, help="the run's output folder")
    parser.add_argument("--steps", type=int, required=True, help="PPO steps the run should have done")
    parser.add_argument("--prm-device", default="cuda", choices=("cuda", "cpu"), help="where PRM replicas ran")
    args = parser.parse_args(argv)
    if not (args.output / "tensorboard").is_dir():
        print(
            f"error: {args.output}/tensorboard does not exist: not the output folder of a finished run", file=sys.stderr
        )
        return 2
    from openrlhf_pure.engines.openrlhf.run_check import check_run

    checks, figures = check_run(args.output, args.steps, args.prm_device)
    for passed, what in checks:
        print(f"{'ok  ' if passed else 'FAIL'} {what}")
    verdict = all(passed for passed, _ in checks)
    print(json.dumps({**figures, "ok": verdict}))
    return 0 if verdict else 1


if __name__ == "__main__":
    sys.exit(main())
