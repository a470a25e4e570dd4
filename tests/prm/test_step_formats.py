"""Step formats: how steps are written for the PRM and which token carries each label."""

from __future__ import annotations

import pytest

from openrlhf_pure.models.step_formats import (
    STEP_FORMATS,
    StepFormat,
    add_format_tokens,
    encode_steps,
    get_step_format,
)
from openrlhf_pure.models.tiny import train_tiny_tokenizer

STEPS = ["First, we add:\n\n", "12 + 30 = 42.\n\n", "Let me check.\n\n\n", "", "So \\boxed{168}."]


def label_texts(tokenizer, encoded):
    return [tokenizer.decode([encoded.input_ids[p]]) for p in encoded.label_positions]


def test_the_registry_holds_pure_qwen_prm_and_math_shepherd():
    assert {"pure", "qwen_prm", "math_shepherd"} <= set(STEP_FORMATS.names())
    with pytest.raises(ValueError, match="unknown step format 'nope'; known: .*pure"):
        get_step_format("nope")


def test_pure_keeps_the_text_inside_the_separator_and_ends_each_step_with_one_newline():
    pure = get_step_format("pure")
    assert pure.render_step("12 + 30 = 42.\n\n") == "12 + 30 = 42.\n"  # the authors' construction lost the "."
    assert pure.render_step("Let me check.\n\n\n") == "Let me check.\n"
    assert pure.render_step("no separator") == "no separator\n"
    assert pure.render_step("") == "\n"


def test_pure_labels_sit_on_the_token_holding_each_steps_newline(prm_tokenizer):
    (encoded,) = encode_steps(get_step_format("pure"), prm_tokenizer, ["Q: 2 + 2?"], [STEPS])
    labels = label_texts(prm_tokenizer, encoded)
    assert len(labels) == len(STEPS)
    assert all(text.endswith("\n") for text in labels)
    assert ".\n" in labels  # the newline merged with the "." before it: the merged token carries the label
    assert prm_tokenizer.decode(encoded.input_ids).startswith("Q: 2 + 2?First, we add:\n12 + 30 = 42.\n")


def test_the_input_ends_at_the_last_label_token(prm_tokenizer):
    for name in ("pure", "math_shepherd"):
        (encoded,) = encode_steps(get_step_format(name), prm_tokenizer, ["Q"], [STEPS])
        assert encoded.label_positions[-1] == len(encoded.input_ids) - 1
        assert encoded.label_positions == sorted(encoded.label_positions)


def test_a_solution_without_steps_has_no_input(prm_tokenizer):
    assert encode_steps(get_step_format("pure"), prm_tokenizer, ["Q", "R"], [[], ["a"]])[0] is None


def test_qwen_prm_labels_sit_on_the_step_token_inside_the_chat_template(prm_tokenizer):
    tokenizer = train_tiny_tokenizer(["a b c d.\n\n"] * 50, vocab_size=280)
    fmt = get_step_format("qwen_prm")
    assert add_format_tokens(tokenizer, fmt) == 1
    assert add_format_tokens(tokenizer, fmt) == 0
    (encoded,) = encode_steps(fmt, tokenizer, ["What is 1 + 1?"], [["a b.\n\n", "c d."]])
    step_id = tokenizer.convert_tokens_to_ids("<extra_0>")
    assert [encoded.input_ids[p] for p in encoded.label_positions] == [step_id, step_id]
    text = tokenizer.decode(encoded.input_ids)
    assert "<|system|>Please reason step by step" in text and "<|user|>What is 1 + 1?" in text
    assert text.endswith("<|assistant|>a b.<extra_0>c d.<extra_0>")


def test_qwen_prm_without_its_step_token_gets_an_error_telling_how_to_add_it(prm_tokenizer):
    with pytest.raises(ValueError, match="'<extra_0>' as one token.*add_format_tokens"):
        encode_steps(get_step_format("qwen_prm"), prm_tokenizer, ["Q"], [["a"]])


def test_a_chat_format_on_a_tokenizer_without_chat_template_is_an_error():
    tokenizer = train_tiny_tokenizer(["a b c d.\n\n"] * 50, vocab_size=280)
    tokenizer.chat_template = None
    tokenizer.name_or_path = "plain-tok"
    fmt = get_step_format("qwen_prm")
    add_format_tokens(tokenizer, fmt)
    with pytest.raises(ValueError, match="needs a chat template, and tokenizer 'plain-tok' has none"):
        encode_steps(fmt, tokenizer, ["Q"], [["a"]])


def test_math_shepherd_labels_sit_on_the_tag_and_the_body_is_one_string(prm_tokenizer):
    fmt = get_step_format("math_shepherd")
    assert fmt.head == "lm_candidates" and fmt.candidates == ("+", "-")
    (encoded,) = encode_steps(fmt, prm_tokenizer, ["Q?"], [["Step 1: a.\n\n", "Step 2: b."]])
    assert prm_tokenizer.decode(encoded.input_ids) == "Q? Step 1: a. ки\nStep 2: b. ки"
    for p in encoded.label_positions:  # the label token completes "ки" (the tiny vocabulary splits it in bytes)
        assert prm_tokenizer.decode(encoded.input_ids[: p + 1]).endswith("ки")
        assert not prm_tokenizer.decode(encoded.input_ids[:p]).endswith("ки")


def test_bad_formats_and_inputs_get_clear_errors(prm_tokenizer):
    with pytest.raises(ValueError, match="label_char 5 is outside"):
        StepFormat(name="x", step_ending="\n", label_char=5)
    with pytest.raises(ValueError, match="needs candidate tokens"):
        StepFormat(name="x", step_ending="\n", label_char=0, head="lm_candidates")
    with pytest.raises(ValueError, match="2 prompts but 1 step lists"):
        encode_steps(get_step_format("pure"), prm_tokenizer, ["a", "b"], [["c"]])
    with pytest.raises(ValueError, match=r"steps\[0\] must be a list of step strings, got str 'one step'"):
        encode_steps(get_step_format("pure"), prm_tokenizer, ["a"], ["one step"])
