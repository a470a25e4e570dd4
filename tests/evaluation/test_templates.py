"""Prompt templates: PURE's prompt by default, Qwen2.5-Math's chat CoT prompt, format strings."""

from __future__ import annotations

import pytest

from openrlhf_pure.data.prompts import pure_prompt
from openrlhf_pure.evaluation.templates import QWEN_COT_SYSTEM, TemplateError, resolve_template


def test_pure_template_is_the_training_prompt(tokenizer):
    template = resolve_template("pure")
    assert template.render("What is 2+3?", tokenizer) == pure_prompt("What is 2+3?")
    text = template.render("What is 2+3?")
    assert template.encode(text, tokenizer) == tokenizer(text)["input_ids"]


def test_qwen_cot_template_uses_the_tokenizers_chat_template(tokenizer):
    template = resolve_template("qwen25-math-cot")
    text = template.render("What is 2+3?", tokenizer)
    expected = tokenizer.apply_chat_template(
        [{"role": "system", "content": QWEN_COT_SYSTEM}, {"role": "user", "content": "What is 2+3?"}],
        tokenize=False,
        add_generation_prompt=True,
    )
    assert text == expected
    assert QWEN_COT_SYSTEM in text and text.endswith("<|assistant|>")
    assert template.encode(text, tokenizer) == tokenizer(text, add_special_tokens=False)["input_ids"]


def test_qwen_cot_template_needs_a_chat_template(tokenizer):
    plain = tokenizer.__class__(tokenizer_object=tokenizer.backend_tokenizer)
    plain.chat_template = None
    with pytest.raises(TemplateError, match="chat template"):
        resolve_template("qwen25-math-cot").render("q", plain)


def test_format_string_template():
    template = resolve_template("Question: {question}\nAnswer in \\boxed{{}}:")
    assert template.render("1+1?") == "Question: 1+1?\nAnswer in \\boxed{}:"


def test_unknown_template_lists_the_known_ones():
    with pytest.raises(TemplateError, match="known: pure, qwen25-math-cot, chat, or a format string"):
        resolve_template("chatml")


def test_format_string_with_other_fields_is_rejected():
    with pytest.raises(TemplateError, match="bad format string"):
        resolve_template("{question} in \\boxed{}")


def test_chat_template_puts_pures_prompt_in_the_only_user_message(tokenizer):
    text = resolve_template("chat").render("What is 2+3?", tokenizer)
    expected = tokenizer.apply_chat_template(
        [{"role": "user", "content": pure_prompt("What is 2+3?")}], tokenize=False, add_generation_prompt=True
    )
    assert text == expected and QWEN_COT_SYSTEM not in text
    plain = tokenizer.__class__(tokenizer_object=tokenizer.backend_tokenizer)
    plain.chat_template = None
    with pytest.raises(TemplateError, match="'chat' needs a tokenizer with a chat template"):
        resolve_template("chat").render("q", plain)
