"""Test-only runner: two PPO steps of ``train_pure_ray`` through OpenRLHF's real loop on CPU, with the
tests' harness (:mod:`real_loop`: the vLLM and flash-attn stand-ins, :mod:`openrlhf_on_cpu`, Ray with
2 CPUs and 2 logical GPUs, the recipe's flags at tiny scale) on a given policy and PRM.

    python tests/openrlhf/run_real_loop.py --model POLICY_DIR --prm PRM_DIR --out OUT_DIR

The policy is also the reference. Writes ``OUT_DIR/summary.json`` (exit code of ``main``, seconds, the
steps that logged a gradient norm, the PRM's steps per response each step, whether 2 steps completed)
and prints it; exits 0 only when the run exited 0 with steps 1 and 2 logged.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from real_loop import enter_stand_ins, recipe_argv, start_ray, write_arithmetic_prompts  # noqa: E402


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The runner's flags; a missing model folder or a non-empty output folder is an argument error."""
    parser = argparse.ArgumentParser(prog="run_real_loop.py", description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="policy (and reference) folder, Hugging Face format")
    parser.add_argument("--prm", required=True, help="PRM folder (openrlhf_pure ProcessRewardModel)")
    parser.add_argument("--out", required=True, help="output folder (created; must be empty or absent)")
    args = parser.parse_args(argv)
    for flag in ("model", "prm"):
        if not (Path(getattr(args, flag)) / "config.json").is_file():
            parser.error(f"--{flag} {getattr(args, flag)}: no config.json there (not a model folder)")
    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        parser.error(f"--out {out}: exists and is not an empty folder")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the two steps; see the module docstring."""
    args = parse(argv)
    out = Path(args.out).resolve()
    (out / "engine_records").mkdir(parents=True, exist_ok=True)
    enter_stand_ins()
    start_ray(out / "engine_records")
    from openrlhf_pure.atomic import write_text_atomic
    from openrlhf_pure.cli.train_pure_ray import main as train_pure_ray
    from openrlhf_pure.engines.openrlhf.run_check import read_dumps, read_scalars

    data = write_arithmetic_prompts(out / "prompts.jsonl")
    models = {"policy": str(Path(args.model).resolve()), "prm": str(Path(args.prm).resolve())}
    start = time.perf_counter()
    code = train_pure_ray(recipe_argv(models, data, out))
    seconds = time.perf_counter() - start
    logged = read_scalars(out / "tensorboard") if (out / "tensorboard").exists() else {}
    norms = logged.get("train/actor_grad_norm", {})
    steps = [float(b["step_scores"].shape[1]) if b.get("step_scores") is not None else None
             for b in (read_dumps(out / "rollouts") if (out / "rollouts").exists() else [])]  # fmt: skip
    summary = {"code": code, "seconds": round(seconds, 1), "steps_logged": sorted(norms),
               "grad_norms": [norms[s] for s in sorted(norms)],
               "steps_per_response": {s: logged.get("train/pure/steps/mean", {}).get(s) for s in sorted(norms)},
               "prm_step_columns": steps, "completed_2_steps": code == 0 and sorted(norms) == [1, 2]}  # fmt: skip
    write_text_atomic(out / "summary.json", json.dumps(summary) + "\n")
    print(json.dumps(summary))
    return 0 if summary["completed_2_steps"] else 1


if __name__ == "__main__":
    sys.exit(main())
