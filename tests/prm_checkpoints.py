"""Tiny PRM checkpoints of the published families, for entry-point tests (``from prm_checkpoints import ...``)."""

from __future__ import annotations


def save_family_checkpoint(path, family: str, tokenizer, seed: int = 0) -> str:
    """A tiny random PRM of ``family`` in its published layout (class name, keys, head shapes), no ``pure_prm`` key.

    The tokenizer is copied and given what the family's format needs ("<extra_0>", a BOS). Entry-point
    tests use it; tests/prm/test_prm_families.py writes each layout by hand and checks it against the cards.
    """
    import copy

    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM, Qwen2ForTokenClassification

    from openrlhf_pure.models.prm_families import PRM_FAMILIES
    from openrlhf_pure.models.prm_heads import HEADS, native_model_class
    from openrlhf_pure.models.step_formats import add_format_tokens, get_step_format

    fam, tok = PRM_FAMILIES.get(family), copy.deepcopy(tokenizer)
    fmt, head = get_step_format(fam.step_format), HEADS.get(fam.head)
    add_format_tokens(tok, fmt)
    if fmt.prefix_bos and tok.bos_token is None:
        tok.bos_token = tok.eos_token
    config = Qwen2Config(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, num_labels=2)  # fmt: skip
    torch.manual_seed(seed)
    if head.native:
        model = native_model_class(config, head)(config)
        for param in getattr(model, head.attribute).parameters():
            torch.nn.init.normal_(param, std=0.5)
    else:
        model = (Qwen2ForTokenClassification if fam.head == "classifier" else Qwen2ForCausalLM)(config)
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return str(path)
