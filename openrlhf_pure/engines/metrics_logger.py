"""Per-step metrics to the console, a JSONL file, and TensorBoard or wandb when asked."""

from __future__ import annotations

import json
import os
from pathlib import Path

CONSOLE_COLUMNS = (
    ("step", "step", "{:>5d}"),
    ("accuracy/avg@n", "acc", "{:>6.3f}"),
    ("reward/process", "prm", "{:>7.3f}"),
    ("steps/mean", "steps", "{:>6.2f}"),
    ("length/mean", "len", "{:>6.1f}"),
    ("length/clip_ratio", "clip", "{:>5.2f}"),
    ("policy/kl", "kl", "{:>8.4f}"),
    ("policy/grad_norm", "gnorm", "{:>7.3f}"),
    ("time/step", "sec", "{:>6.1f}"),
)


class MetricsLogger:
    """Writes one metrics dict per step.

    Args:
        output_dir: ``metrics.jsonl`` is appended there (one JSON object per step).
        tensorboard: also write TensorBoard event files under ``output_dir/tensorboard``.
        wandb_project: also log to wandb (``WANDB_MODE=offline`` works without network).
        console: print a compact table row per step.
        config: the run's configuration, recorded as wandb's run config and a TensorBoard text.
    """

    def __init__(
        self,
        output_dir: str | Path,
        tensorboard: bool = False,
        wandb_project: str | None = None,
        console=True,
        config: dict | None = None,
    ):
        self.path = Path(output_dir) / "metrics.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.console = console
        self._rows = 0
        self._tb = None
        self._wandb = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(str(Path(output_dir) / "tensorboard"))
            if config is not None:
                self._tb.add_text("config", "```\n" + json.dumps(config, indent=2, default=str) + "\n```")
        if wandb_project:
            import wandb

            self._wandb = wandb.init(project=wandb_project, dir=str(output_dir), mode=os.environ.get("WANDB_MODE"),
                                     config=config)  # fmt: skip

    def truncate_after(self, step: int) -> None:
        """Drop JSONL rows with a step above ``step`` (used when a run resumes from a checkpoint)."""
        if not self.path.exists():
            return
        kept = [line for line in self.path.read_text().splitlines() if line and json.loads(line)["step"] <= step]
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text("".join(line + "\n" for line in kept))
        os.replace(tmp, self.path)

    def log(self, step: int, metrics: dict) -> None:
        """Record the metrics of one step (``step`` is added to the row)."""
        row = {"step": step, **{k: float(v) for k, v in metrics.items()}}
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(row) + "\n")
        if self._tb is not None:
            for key, value in metrics.items():
                self._tb.add_scalar(key, float(value), step)
            self._tb.flush()
        if self._wandb is not None:
            self._wandb.log(metrics, step=step)
        if self.console:
            if self._rows % 20 == 0:
                print("  ".join(f"{name:>{len(fmt.format(0))}}" for _, name, fmt in CONSOLE_COLUMNS), flush=True)
            cells = []
            for key, _, fmt in CONSOLE_COLUMNS:
                value = row.get(key)
                width = len(fmt.format(0))
                cells.append(" " * width if value is None else fmt.format(int(value) if key == "step" else value))
            print("  ".join(cells), flush=True)
            self._rows += 1

    def close(self) -> None:
        """Flush and close the TensorBoard and wandb writers."""
        if self._tb is not None:
            self._tb.close()
        if self._wandb is not None:
            self._wandb.finish()
