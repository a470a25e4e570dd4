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
