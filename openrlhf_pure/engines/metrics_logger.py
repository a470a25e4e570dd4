"""Per-step metrics to the console, a JSONL file, and TensorBoard or wandb when asked."""

from __future__ import annotations

import json
import os
import sys
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
        """Drop JSONL rows with a step above ``step`` (used when a run resumes from a checkpoint).

        A last line that is not complete JSON (a run killed mid-write; each row is written with
        one ``write`` call, so only a crash of the machine can leave one) is dropped with a
        warning; a bad line elsewhere raises ValueError naming the file and line.
        """
        if not self.path.exists():
            return
        lines = [(n, raw) for n, raw in enumerate(self.path.read_bytes().split(b"\n"), start=1) if raw.strip()]
        kept = []
        for position, (line_no, raw) in enumerate(lines):
            try:
                row = json.loads(raw.decode("utf-8"))
                if not isinstance(row, dict) or not isinstance(row.get("step"), int | float):
                    raise ValueError("no step")
            except ValueError as err:
                if position == len(lines) - 1:
                    print(f"warning: {self.path}:{line_no}: dropped a torn last line ({len(raw)} bytes)",
                          file=sys.stderr, flush=True)  # fmt: skip
                    break
                raise ValueError(f"{self.path}:{line_no}: not a metrics row ({err}); fix or remove the line") from None
            if row["step"] <= step:
                kept.append(raw.decode("utf-8"))
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
        os.replace(tmp, self.path)

    def log(self, step: int, metrics: dict) -> None:
        """Record the metrics of one step (``step`` is added to the row).

        The row is appended with a single ``os.write`` on a file opened for appending, then
        fsynced: a killed run leaves whole rows only.
        """
        row = {"step": step, **{k: float(v) for k, v in metrics.items()}}
        data = (json.dumps(row) + "\n").encode("utf-8")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            written = os.write(fd, data)
            while written < len(data):  # a short write (a full disk or a signal): finish the line
                written += os.write(fd, data[written:])
            os.fsync(fd)
        finally:
            os.close(fd)
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
