"""PRM fixtures: tiny tokenizers and tiny PRMs saved to disk and loaded through the real loading code."""

from __future__ import annotations

import pytest
import torch

from openrlhf_pure.data.arithmetic import arithmetic_corpus
from openrlhf_pure.models.prm import ProcessRewardModel
from openrlhf_pure.models.tiny import tiny_causal_lm, train_tiny_tokenizer


@pytest.fixture(scope="session")
def prm_tokenizer():
    """A tiny BPE that has both the policy's separators (".\\n\\n") and PRM step endings (".\\n")."""
    corpus = arithmetic_corpus()
    return train_tiny_tokenizer(corpus + [text.replace("\n\n", "\n") for text in corpus], vocab_size=400)


@pytest.fixture(scope="session")
def other_tokenizer():
    """A second, different vocabulary (other seed and size), for a policy that does not share the PRM's."""
    return train_tiny_tokenizer(arithmetic_corpus(seed=1), vocab_size=330)


@pytest.fixture(scope="session")
def causal_lm_dir(tmp_path_factory, prm_tokenizer):
    """A tiny Qwen2 causal LM and its tokenizer, saved as a plain Hugging Face directory."""
    path = tmp_path_factory.mktemp("causal_lm")
    tiny_causal_lm(len(prm_tokenizer), seed=1).save_pretrained(path)
    prm_tokenizer.save_pretrained(path)
    return str(path)


@pytest.fixture(scope="session")
def prm_dir(tmp_path_factory, causal_lm_dir):
    """A PRM checkpoint (pure format) made from the causal LM, with a fixed head, saved and ready to load."""
    prm = ProcessRewardModel.from_pretrained(causal_lm_dir, new_head=True)
    torch.manual_seed(2)
    torch.nn.init.normal_(prm.model.score.weight, std=0.5)
    path = tmp_path_factory.mktemp("prm")
    prm.save_pretrained(str(path))
    return str(path)


@pytest.fixture(scope="session")
def prm(prm_dir):
    """The saved pure-format PRM, loaded (float32, CPU)."""
    return ProcessRewardModel.from_pretrained(prm_dir)
