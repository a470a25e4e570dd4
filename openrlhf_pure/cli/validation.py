"""Checks every CLI makes before any work, each giving one line (see ``errors.report_errors``).

- :func:`device_problem`: a CUDA device asked for where torch sees none;
- :func:`output_dir_problem` and :func:`clear_previous_run`: a training run refuses an output
  folder that holds a previous run unless told to resume or to overwrite it (the same flags in
  ``pure-train`` and ``pure-train-prm``: ``--train.resume``, ``--overwrite_output_dir``);
- :func:`resume_problem`: the checkpoint a resume would load is read (safely) up front;
- model and data names: :func:`openrlhf_pure.data.sources.source_problem`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

RUN_OUTPUTS = ("checkpoints", "final", "tensorboard", "metrics.jsonl")  # what a training run writes


def device_problem(flag: str, device: str | None) -> str | None:
    """The problem with a ``--device`` value, or None ("auto", None, "cpu" always pass).

    >>> device_problem("--device", "tpu")
    '--device tpu: unknown device (use cpu, cuda or cuda:N)'
    """
    if device in (None, "", "auto", "cpu"):
        return None
    import torch

    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError):
        return f"{flag} {device}: unknown device (use cpu, cuda or cuda:N)"
    if parsed.type != "cuda":
        return f"{flag} {device}: unknown device (use cpu, cuda or cuda:N)"
    if not torch.cuda.is_available():
        return f"{flag} {device}: torch sees no CUDA GPU here (torch {torch.__version__}); use --device cpu"
    if parsed.index is not None and parsed.index >= torch.cuda.device_count():
        return f"{flag} {device}: only {torch.cuda.device_count()} CUDA device(s) here"
    return None


def output_dir_problem(output_dir: str, resume: bool, overwrite: bool) -> str | None:
    """The problem with a training run's output folder, or None.

    A folder that exists and is not empty is refused unless ``resume`` (continue its run) or
    ``overwrite`` (its previous run's outputs are removed when the run starts).
    """
    out = Path(output_dir).expanduser()
    if out.exists() and not out.is_dir():
        return f"--output_dir {output_dir} exists and is not a folder"
    if resume or overwrite or not out.is_dir() or not any(out.iterdir()):
        return None
    names = sorted(p.name for p in out.iterdir())
    previous = [name for name in names if name in RUN_OUTPUTS]
    what = "holds a previous run" if previous else "is not empty"
    return (
        f"--output_dir {output_dir} {what} ({', '.join((previous or names)[:5])}): pass --train.resume to "
        "continue it, --overwrite_output_dir to replace it, or choose another folder"
    )


def resume_problem(output_dir: str) -> str | None:
    """The problem with the checkpoint ``--train.resume`` would load (its state read safely, nothing
    restored), or None; no checkpoint yet is not a problem (the run starts from step 0)."""
    from openrlhf_pure.engines.checkpoint import CheckpointError, latest_checkpoint, read_trainer_state

    try:
        folder = latest_checkpoint(Path(output_dir) / "checkpoints")
        if folder is not None:
            read_trainer_state(folder)
    except CheckpointError as err:
        return f"--train.resume: {err}"
    return None


def clear_previous_run(output_dir: str) -> None:
    """Remove what a previous training run left in ``output_dir`` (``--overwrite_output_dir``)."""
    out = Path(output_dir)
    for name in RUN_OUTPUTS:
        target = out / name
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)
