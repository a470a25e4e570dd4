"""The real pretrained model (SmolLM2-135M-Instruct), loaded once per session; skipped when not installed."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def smollm2():
    """(folder, model, tokenizer): the converted SmolLM2 folder, its fp32 causal LM in eval mode, its tokenizer.

    Skips, saying how to install it, when ``make real-model`` has not been run. Do not mutate.
    """
    from openrlhf_pure.models.packaged_assets import AssetMissing
    from openrlhf_pure.models.real_model import smollm2_dir

    try:
        folder = smollm2_dir()
    except AssetMissing as err:
        pytest.skip(f"real model not installed ({err})")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32).eval()
    return folder, model, tokenizer
