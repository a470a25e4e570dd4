"""Atomic checkpoints of the single-process trainers: weights, optimizer, scheduler, RNG, position.

A checkpoint is a folder ``step_NNNNNN/`` holding ``policy/`` (the model's ``save_pretrained``,
usable by any Hugging Face loader) and ``trainer_state.pt``. It is written under a temporary name and
renamed into place, and the ``latest`` pointer file is replaced the same way, so a run killed
mid-save never leaves a half-written checkpoint behind (nothing already written is lost).
"""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import numpy as np
import torch


def rng_state() -> dict:
    """The state of every random generator the trainer uses."""
    state = {"torch": torch.get_rng_state(), "python": random.getstate(), "numpy": np.random.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore what :func:`rng_state` returned."""
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def save_pretrained_atomic(model, path: str | Path) -> Path:
    """``model.save_pretrained`` into a temporary folder, then renamed to ``path`` (replacing it)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp))
    if path.exists():
        shutil.rmtree(path)
    os.replace(tmp, path)
    return path


def save_checkpoint(root: str | Path, step: int, policy, optimizer, scheduler, extra: dict) -> Path:
    """Write checkpoint ``step`` under ``root`` atomically and point ``root/latest`` at it.

    Args:
        root: the checkpoints folder.
        step: the number of completed training steps.
        policy: the model (saved with ``save_pretrained``).
        optimizer, scheduler: their ``state_dict`` is saved.
        extra: anything else to restore (metric history, data position, ...), saved with torch.save.
    Returns:
        the checkpoint folder.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step_{step:06d}"
    tmp = root / f".step_{step:06d}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    policy.save_pretrained(tmp / "policy", safe_serialization=True)
    state = {"step": step, "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "rng": rng_state()}
    torch.save({**state, "extra": extra}, tmp / "trainer_state.pt")
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    _write_atomic(root / "latest", final.name)
    return final


def latest_checkpoint(root: str | Path) -> Path | None:
    """The folder ``root/latest`` points at, or None when there is no checkpoint."""
    pointer = Path(root) / "latest"
    if not pointer.exists():
        return None
    folder = Path(root) / pointer.read_text().strip()
    if not (folder / "trainer_state.pt").exists():
        raise FileNotFoundError(f"{pointer} points at {folder}, which holds no trainer_state.pt")
    return folder


def load_checkpoint(folder: str | Path, policy, optimizer, scheduler) -> tuple[int, dict]:
    """Restore weights, optimizer, scheduler and RNG from ``folder``.

    Returns:
        (step, extra) as given to :func:`save_checkpoint`.
    """
    from safetensors.torch import load_file

    folder = Path(folder)
    weights = {}
    for shard in sorted((folder / "policy").glob("*.safetensors")):
        weights.update(load_file(shard))
    if not weights:
        raise FileNotFoundError(f"{folder / 'policy'} holds no .safetensors weights")
    missing, unexpected = policy.load_state_dict(weights, strict=False)
    tied = {key for key in missing if key.endswith("lm_head.weight")} if policy.config.tie_word_embeddings else set()
    if set(missing) - tied or unexpected:
        raise ValueError(f"{folder}: weights do not match the policy (missing {missing}, unexpected {unexpected})")
    if hasattr(policy, "tie_weights"):
        policy.tie_weights()
    state = torch.load(folder / "trainer_state.pt", weights_only=False)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    set_rng_state(state["rng"])
    return state["step"], state["extra"]
