"""A tiny policy saved to disk and loaded back through transformers, shared by engine tests."""

from __future__ import annotations

import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer

from openrlhf_pure.models.tiny import tiny_causal_lm


@pytest.fixture(scope="session")
def tiny_policy_dir(tmp_path_factory, tokenizer):
    """A random Qwen2-shaped policy (hidden 64, 2 layers) and its tokenizer, saved with save_pretrained."""
    path = tmp_path_factory.mktemp("policy")
    tiny_causal_lm(len(tokenizer), seed=1).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture
def load_policy(tiny_policy_dir):
    """Load (model, tokenizer) fresh from disk."""

    def load():
        return AutoModelForCausalLM.from_pretrained(tiny_policy_dir), AutoTokenizer.from_pretrained(tiny_policy_dir)

    return load
