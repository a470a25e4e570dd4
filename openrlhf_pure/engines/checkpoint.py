"""Atomic checkpoints of the single-process trainers: weights, optimizer, scheduler, RNG, position.

A checkpoint is a folder ``step_NNNNNN/`` holding ``policy/`` (the model's ``save_pretrained``
and its tokenizer: a Hugging Face folder that loads on its own), ``trainer_state.pt`` (the
tensors: optimizer and scheduler state, torch's RNG state) and ``trainer_state.json``
(everything else: the step, the Python and NumPy RNG states, the caller's ``extra``). The
``.pt`` file is read with ``torch.load(weights_only=True)``, which unpickles tensors and plain
containers only, so a crafted checkpoint cannot run code on ``--train.resume``.

It is written under a temporary name and renamed into place, and the ``latest`` pointer file is
replaced the same way, so a run killed mid-save never leaves a half-written checkpoint behind
(nothing already written is lost).
"""

from __future__ import annotations

import json
import os
import pickle
import random
import shutil
from pathlib import Path

import numpy as np
import torch

from openrlhf_pure.atomic import write_text_atomic

STATE_TENSORS, STATE_JSON = "trainer_state.pt", "trainer_state.json"


class CheckpointError(ValueError):
    """A checkpoint that cannot be restored (missing, malformed or unsafe): the message names the file."""


def rng_state() -> tuple[dict, dict]:
    """The state of every random generator the trainer uses: (tensors, JSON-able values)."""
    tensors = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        tensors["cuda"] = torch.cuda.get_rng_state_all()
    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    plain = {"python": [version, list(internal), gauss], "numpy": [kind, keys.tolist(), pos, has_gauss, cached]}
    return tensors, plain


def set_rng_state(tensors: dict, plain: dict) -> None:
    """Restore what :func:`rng_state` returned."""
    torch.set_rng_state(tensors["torch"])
    if "cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(tensors["cuda"])
    version, internal, gauss = plain["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = plain["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))


def save_model_folder(model, path: str | Path, tokenizer=None) -> None:
    """``model.save_pretrained`` (and ``tokenizer.save_pretrained``) into ``path``: a folder any loader reads.

    ``model`` may be a transformers model or anything with ``save_pretrained`` that writes its
    own tokenizer (the PRM).
    """
    model.save_pretrained(str(path))
    if tokenizer is not None:
        tokenizer.save_pretrained(str(path))


def save_pretrained_atomic(model, path: str | Path, tokenizer=None) -> Path:
    """:func:`save_model_folder` into a temporary folder, then renamed to ``path`` (replacing it)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    save_model_folder(model, tmp, tokenizer)
    if path.exists():
        shutil.rmtree(path)
    os.replace(tmp, path)
    return path


def write_trainer_state(folder: Path, tensors: dict, plain: dict) -> None:
    """``trainer_state.pt`` (tensors and plain containers) and ``trainer_state.json`` (the rest) in ``folder``."""
    torch.save(tensors, folder / STATE_TENSORS)
    (folder / STATE_JSON).write_text(json.dumps(plain), encoding="utf-8")


def read_trainer_state(folder: str | Path) -> tuple[dict, dict]:
    """What :func:`write_trainer_state` wrote, read safely (``weights_only=True``).

    Raises:
        CheckpointError: naming the file that is missing, is not valid JSON, or holds anything
            but tensors and plain containers (e.g. a pickle that would run code).
    """
    folder = Path(folder)
    pt, js = folder / STATE_TENSORS, folder / STATE_JSON
    for path in (pt, js):
        if not path.is_file():
            raise CheckpointError(f"{path}: missing (a checkpoint of an older version, or not a checkpoint)")
    try:
        tensors = torch.load(pt, weights_only=True, map_location="cpu")
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"{pt}: refused, it holds more than tensors and plain values ({first})") from None
    try:
        plain = json.loads(js.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{js}: not valid JSON ({err})") from None
    return tensors, plain


def save_checkpoint(root: str | Path, step: int, policy, optimizer, scheduler, extra: dict, tokenizer=None) -> Path:
    """Write checkpoint ``step`` under ``root`` atomically and point ``root/latest`` at it.

    Args:
        root: the checkpoints folder.
        step: the number of completed training steps.
        policy: the model (its folder: :func:`save_model_folder`).
        optimizer, scheduler: their ``state_dict`` is saved.
        extra: anything else to restore (metric history, data position, ...): JSON-able values.
        tokenizer: saved next to the weights, so the folder loads on its own.
    Returns:
        the checkpoint folder.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step_{step:06d}"
    tmp = root / f".step_{step:06d}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    save_model_folder(policy, tmp / "policy", tokenizer)
    rng_tensors, rng_plain = rng_state()
    tensors = {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "rng": rng_tensors}
    write_trainer_state(tmp, tensors, {"step": step, "rng": rng_plain, "extra": extra})
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    write_text_atomic(root / "latest", final.name)
    return final


def latest_checkpoint(root: str | Path) -> Path | None:
    """The folder ``root/latest`` points at, or None when there is no checkpoint."""
    pointer = Path(root) / "latest"
    if not pointer.exists():
        return None
    folder = Path(root) / pointer.read_text().strip()
    if not (folder / STATE_TENSORS).exists():
        raise CheckpointError(f"{pointer} points at {folder}, which holds no {STATE_TENSORS}")
    return folder


def load_checkpoint(folder: str | Path, policy, optimizer, scheduler) -> tuple[int, dict]:
    """Restore weights, optimizer, scheduler and RNG from ``folder``.

    Returns:
        (step, extra) as given to :func:`save_checkpoint`.
    """
    from safetensors.torch import load_file

    folder = Path(folder)
    tensors, plain = read_trainer_state(folder)  # first: nothing is changed if the checkpoint is refused
    weights = {}
    for shard in sorted((folder / "policy").glob("*.safetensors")):
        weights.update(load_file(shard))
    if not weights:
        raise CheckpointError(f"{folder / 'policy'} holds no .safetensors weights")
    missing, unexpected = policy.load_state_dict(weights, strict=False)
    tied = {key for key in missing if key.endswith("lm_head.weight")} if policy.config.tie_word_embeddings else set()
    if set(missing) - tied or unexpected:
        raise CheckpointError(f"{folder}: weights do not match the policy (missing {missing}, unexpected {unexpected})")
    if hasattr(policy, "tie_weights"):
        policy.tie_weights()
    optimizer.load_state_dict(tensors["optimizer"])
    scheduler.load_state_dict(tensors["scheduler"])
    set_rng_state(tensors["rng"], plain["rng"])
    return plain["step"], plain["extra"]
