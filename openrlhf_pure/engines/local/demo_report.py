"""The demo's report folder: ``summary.md`` (settings, the comparison table, the PRM's metrics, each run's
resolved advantage configuration), written atomically."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from openrlhf_pure.atomic import write_text_atomic
from openrlhf_pure.engines.local.demo_runs import parse_runs, run_advantage

if TYPE_CHECKING:
    from openrlhf_pure.engines.local.demo import DemoConfig


def write_summary(out: Path, config: DemoConfig, result: dict, prepared: dict, table: str) -> None:
    """summary.md: settings, the comparison table, the PRM's held-out metrics, each run's configuration."""
    lines = [
        "# PURE CPU demo",
        "",
        f"Seed {config.seed}, {result['seconds']:.0f} s. Held-out greedy accuracy before RL "
        f"{result['accuracy_before']:.3f} ({config.held_out} problems).",
        "",
        "```",
        table,
        "```",
        "",
        "| setting | value |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in asdict(config).items()),
        "",
        "Warm-up responses by style: " + ", ".join(f"{k} {v}" for k, v in sorted(prepared["warmup_styles"].items())),
        "",
        "PRM held-out step metrics: " + (", ".join(f"{k[5:]} {v:.3f}" for k, v in prepared["prm"].items()) or "-"),
        "",
        *(f"Advantage configuration of {run.name} (resolved): "
          f"`{json.dumps(run_advantage(run, config.temperature).to_dict())}`\n" for run in parse_runs(config)),
        "Files: `runs/<run>/rl/metrics.jsonl` (every RL step), `runs/<run>/samples.md`, `runs/<run>/train.log`, "
        "`prm/metrics.jsonl`, `plots/training_dynamics.png`.",
    ]  # fmt: skip
    write_text_atomic(out / "summary.md", "\n".join(lines) + "\n")
