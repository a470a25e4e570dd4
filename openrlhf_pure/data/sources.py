"""Where a model or a data set comes from: a local path or a Hugging Face hub name, decided up front.

Every CLI checks its model and data arguments with :func:`source_problem` before any work
starts, so a name that can only fail gets one line instead of a minute of hub retries and a
traceback. The rule:

- a value that exists on disk is a local path (a model must be a folder with ``config.json``);
- a value that *looks like a path* and is not on disk is an error: it starts with ``/``, ``.``
  or ``~``, holds a backslash or more than one ``/``, ends with ``/`` or a file suffix, or its
  first part is a folder that exists here or ``runs`` (where this project writes its outputs);
- anything else of the hub's shape ``org/name`` is a hub name, unless the hub is offline
  (``HF_HUB_OFFLINE``, ``TRANSFORMERS_OFFLINE``, ``HF_DATASETS_OFFLINE``): then only a name in
  the local cache passes;
- a bare name (no ``/``) that is not on disk is an error.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

HUB_NAME = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
OUTPUT_ROOTS = ("runs",)  # the project's own output folder: runs/... is always a path
FILE_SUFFIXES = (".json", ".jsonl", ".parquet", ".csv", ".arrow", ".txt", ".safetensors", ".bin", ".pt", ".gguf")
OFFLINE_VARIABLES = {
    "model": ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"),
    "data": ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"),
}
OFFLINE_VARIABLES["tokenizer"] = OFFLINE_VARIABLES["model"]
WHAT = {"model": "model folder", "tokenizer": "tokenizer folder", "data": "file or folder", "file": "file"}


def _truthy(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def offline_variable(kind: str) -> str | None:
    """The environment variable that switches the hub off for ``kind`` ("model" or "data"), if one is set."""
    names = OFFLINE_VARIABLES["data" if kind == "data" else "model"]
    return next((name for name in names if _truthy(name)), None)


def looks_like_path(value: str) -> bool:
    """Whether ``value`` can only be meant as a local path (module docstring).

    >>> [looks_like_path(v) for v in ("runs/tiny", "./m", "a/b/c", "data.jsonl", "Qwen/Qwen2.5-Math-7B")]
    [True, True, True, True, False]
    """
    first = value.split("/")[0]
    return (
        value.startswith(("/", ".", "~"))
        or "\\" in value
        or value.endswith("/")
        or value.count("/") > 1
        or value.lower().endswith(FILE_SUFFIXES)
        or first in OUTPUT_ROOTS
        or ("/" in value and Path(first).expanduser().is_dir())
    )


def in_local_cache(name: str, kind: str) -> bool:
    """Whether hub repository ``name`` has a downloaded copy (the hub cache, or the datasets cache for data)."""
    hub_home = Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface")).expanduser()
    hub_cache = Path(os.environ.get("HF_HUB_CACHE", hub_home / "hub")).expanduser()
    repo_type = "datasets" if kind == "data" else "models"
    snapshots = hub_cache / f"{repo_type}--{name.replace('/', '--')}" / "snapshots"
    if snapshots.is_dir() and any(snapshots.iterdir()):
        return True
    if repo_type == "datasets":
        datasets_cache = Path(os.environ.get("HF_DATASETS_CACHE", hub_home / "datasets")).expanduser()
        return (datasets_cache / name.replace("/", "___")).is_dir()
    return False


def source_problem(flag: str, value: str | None, kind: str = "model") -> str | None:
    """The one-line problem with a model or data argument, or None when it can be used.

    Args:
        flag: the flag's name for the message (``--model``).
        value: the argument (None or "" passes: whether it is required is the caller's check).
        kind: "model" (a folder with config.json, or a hub model), "tokenizer", "data" (a file,
            a folder or a hub data set) or "file" (a local file only).
    Returns:
        None for an existing local path of the right kind or a usable hub name; else the message.

    >>> source_problem("--model", "runs/tiny")
    '--model runs/tiny: no such model folder (a path that does not exist)'
    """
    if not value:
        return None
    path = Path(value).expanduser()
    what = WHAT[kind]
    if path.exists():
        if kind == "model" and not (path / "config.json").is_file():
            where = "the folder holds" if path.is_dir() else "a file, not a folder: it has"
            return f"{flag} {value}: {where} no config.json"
        if kind == "file" and not path.is_file():
            return f"{flag} {value}: a folder, not a file"
        return None
    if looks_like_path(value) or kind == "file":
        return f"{flag} {value}: no such {what} (a path that does not exist)"
    if not HUB_NAME.match(value):
        return f"{flag} {value}: no such {what} here, and not a hub name (hub names are org/name)"
    offline = offline_variable(kind)
    if offline and not in_local_cache(value, kind):
        return f"{flag} {value}: not on disk, and the hub is offline ({offline}=1) with no cached copy"
    return None


def is_hub_name(value: str) -> bool:
    """Whether ``value`` is read from the hub: not on disk, of the hub's shape, not path-like."""
    return not Path(value).expanduser().exists() and HUB_NAME.match(value) is not None and not looks_like_path(value)
