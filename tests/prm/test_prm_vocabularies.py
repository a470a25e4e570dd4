"""Step formats and policy-to-PRM step alignment on real vocabularies and real solutions.

Vocabularies from the package registry (``tests/conftest.py: packaged_asset``): Qwen2.5's (with
"<extra_0>" added, as Qwen's PRM tokenizer has it) for the Qwen-based families, SmolLM2's
Llama-type BPE for the Llama/Mistral-based ones. Solutions: the first MATH-500 reference
solutions (eval/data), split into steps on "\\n\\n" as a policy's separator splits them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from openrlhf_pure.core.steps import separator_token_ids, split_steps
from openrlhf_pure.models.step_alignment import StepAligner
from openrlhf_pure.models.step_formats import encode_steps, get_step_format

MATH500 = Path(__file__).resolve().parents[2] / "eval" / "data" / "math500" / "test.jsonl"
ROWS = [json.loads(line) for line in MATH500.read_text(encoding="utf-8").splitlines()[:40]]
PROMPTS = [row["problem"] for row in ROWS]
STEPS = [[p + "\n\n" for p in row["solution"].split("\n\n")[:-1]] + [row["solution"].split("\n\n")[-1]] for row in ROWS]
# (format, PRM vocabulary): the vocabulary each published family ships
CASES = [("qwen_prm", "qwen_vocab"), ("pure", "qwen_vocab"), ("skywork", "qwen_vocab"),
         ("math_shepherd", "smollm2_vocab"), ("rlhflow", "smollm2_vocab"), ("pure", "smollm2_vocab")]  # fmt: skip
OTHER = {"qwen_vocab": "smollm2_vocab", "smollm2_vocab": "qwen_vocab"}


def pieces(x, prefix_end: int) -> list[str]:
    """The PRM tokens of each step: from after the previous label to its own label, decoded."""
    bounds = [prefix_end - 1, *x.label_positions]
    return [x.input_ids[a + 1 : b + 1] for a, b in zip(bounds, bounds[1:])]


@pytest.mark.parametrize("name, vocab", CASES)
def test_labels_sit_where_each_family_reads_them(request, name, vocab):
    tok, fmt = request.getfixturevalue(vocab), get_step_format(name)
    encoded = encode_steps(fmt, tok, PROMPTS, STEPS)
    prefixes = fmt.encode_prefixes(tok, PROMPTS) if fmt.layout == "concatenated" else None
    for b, (x, steps) in enumerate(zip(encoded, STEPS)):
        assert len(x.label_positions) == len(steps) and x.label_positions[-1] == len(x.input_ids) - 1
        bodies = [s.strip("\r\n") for s in steps]
        if name == "qwen_prm":  # "<extra_0>" after each step, the step's own text before it
            decoded = [tok.decode(p) for p in pieces(x, len(prefixes[b]))]
            assert decoded == [body + "<extra_0>" for body in bodies]
        elif name == "skywork":  # the "\n" token appended on its own after each step's tokens
            assert {x.input_ids[p] for p in x.label_positions} == {tok.convert_tokens_to_ids("Ċ")}
            assert [tok.decode(p[:-1]) for p in pieces(x, len(prefixes[b]))] == bodies
            assert x.input_ids[: len(prefixes[b])] == tok(PROMPTS[b] + "\n", add_special_tokens=False)["input_ids"]
        elif name == "pure":  # each step + "\n", tokenized alone; the label token holds that "\n"
            assert [tok.decode(p) for p in pieces(x, len(prefixes[b]))] == [body + "\n" for body in bodies]
        elif name == "math_shepherd":  # one string; the text up to each label ends with the step tag
            assert all(tok.decode(x.input_ids[: p + 1]).endswith(" ки") for p in x.label_positions)
        else:  # rlhflow: the token after each label is the assistant's "+"
            plus = tok("+", add_special_tokens=False)["input_ids"]
            full = encode_steps(fmt, tok, [PROMPTS[b]], [steps + ["x"]])[0]  # one more step: the last "+" is kept
            assert [full.input_ids[p + 1 : p + 2] for p in full.label_positions[:-1]] == [plus] * len(steps)
    if name == "pure" and vocab == "qwen_vocab":  # Qwen2 merges "." and "\n": the merged token carries the label
        assert tok.convert_tokens_to_ids(".Ċ") in {
            i for x in encoded for i in (x.input_ids[p] for p in x.label_positions)
        }


def policy_batch(tok):
    """MATH-500 solutions as a policy with this vocabulary writes them: (B, T) ids, their layout."""
    rows = [tok("".join(steps), add_special_tokens=False)["input_ids"] for steps in STEPS]
    width = max(map(len, rows))
    ids = torch.zeros(len(rows), width, dtype=torch.long)
    mask = torch.zeros(len(rows), width, dtype=torch.bool)
    for b, r in enumerate(rows):
        ids[b, : len(r)], mask[b, : len(r)] = torch.tensor(r), True
    return ids, split_steps(ids, mask, separator_token_ids(tok, "\n\n"))


@pytest.mark.parametrize("name, vocab", CASES)
def test_a_policy_of_the_other_vocabulary_gets_one_prm_label_per_step_of_its_own(request, name, vocab):
    prm_tok, policy = request.getfixturevalue(vocab), request.getfixturevalue(OTHER[vocab])
    ids, layout = policy_batch(policy)
    aligner = StepAligner(policy, prm_tok, get_step_format(name))
    assert not aligner.fast
    texts = aligner.step_texts(ids, layout)
    assert ["".join(row) for row in texts] == ["".join(row) for row in STEPS]  # nothing lost or added
    inputs = aligner.prm_inputs(PROMPTS, ids, layout)
    assert [len(x.label_positions) for x in inputs] == layout.num_steps.tolist()
    assert inputs == encode_steps(get_step_format(name), prm_tok, PROMPTS, texts)
    if OTHER[vocab] == "qwen_vocab":  # Qwen2 keeps "\n\n" in one token: the policy's steps are the "\n\n" pieces
        assert [[t.strip("\n") for t in row] for row in texts] == [[s.strip("\n") for s in row] for row in STEPS]
    else:  # SmolLM2 writes "\n\n" before a word as two "\n" tokens: no token ends with the separator there
        assert (layout.num_steps < torch.tensor([len(row) for row in STEPS])).any()


@pytest.mark.parametrize("name, vocab", [("pure", "qwen_vocab"), ("skywork", "qwen_vocab"), ("pure", "smollm2_vocab")])
def test_a_policy_sharing_the_prms_vocabulary_takes_the_token_path_to_the_same_text_and_labels(request, name, vocab):
    tok, fmt = request.getfixturevalue(vocab), get_step_format(name)
    ids, layout = policy_batch(tok)
    assert StepAligner(tok, tok, fmt).fast
    fast = StepAligner(tok, tok, fmt).prm_inputs(PROMPTS, ids, layout)
    text = StepAligner(tok, tok, fmt, fast_path=False).prm_inputs(PROMPTS, ids, layout)
    same = 0
    for a, b in zip(fast, text):  # the token path keeps the policy's token boundaries inside a step
        assert len(a.label_positions) == len(b.label_positions)
        assert tok.decode(a.input_ids) == tok.decode(b.input_ids)
        assert [tok.decode([a.input_ids[p]]) for p in a.label_positions] == [
            tok.decode([b.input_ids[p]]) for p in b.label_positions
        ]
        same += a == b
    assert same >= len(fast) // 2  # identical ids unless a BPE merge crosses into a step's tail
