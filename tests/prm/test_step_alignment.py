"""Alignment: policy steps -> PRM inputs (text path or token fast path) -> scores on the policy's steps."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from openrlhf_pure.core.advantages import AdvantageConfig, compute_advantages
from openrlhf_pure.core.steps import separator_token_ids, split_steps
from openrlhf_pure.engines.prm_scorer import PRMScorer, ScorerConfig
from openrlhf_pure.models.step_alignment import StepAligner, same_vocabulary, scatter_step_scores
from openrlhf_pure.models.step_formats import get_step_format

PROMPT = "Compute (12 + 30) * 4.\n\nPlease reason step by step.\n\n"

# (response text, ends with EOS, its steps as the policy's separator tokens cut them)
RESPONSES = [
    (
        "First, we add:\n\n12 + 30 = 42.\n\nThen we multiply: 42 * 4 = 168\n\nLet me check.\n\n\nSo \\boxed{168}.",
        True,
        [
            "First, we add:\n\n",
            "12 + 30 = 42.\n\n",
            "Then we multiply: 42 * 4 = 168\n\n",
            "Let me check.\n\n\n",
            "So \\boxed{168}.",
        ],
    ),
    ("First, we add:\n\n12 + 30 = ", False, ["First, we add:\n\n", "12 + 30 = "]),  # truncated
    ("", False, []),  # empty: 0 steps
    ("Then 42.\n\n", True, ["Then 42.\n\n", ""]),  # the EOS after a separator is a step of its own
    ("", True, [""]),  # only an EOS
    ("We add 12 and 30", True, ["We add 12 and 30"]),  # no separator: one step
]


def policy_batch(tokenizer, left_pad=False):
    """(B, T) ids, their layout, prompts, and the expected step texts."""
    rows = [
        tokenizer(text, add_special_tokens=False)["input_ids"] + ([tokenizer.eos_token_id] if eos else [])
        for text, eos, _ in RESPONSES
    ]
    width = max(len(r) for r in rows) + 1
    ids = torch.full((len(rows), width), tokenizer.pad_token_id)
    mask = torch.zeros(len(rows), width, dtype=torch.bool)
    for b, r in enumerate(rows):
        start = width - len(r) if left_pad else 0
        ids[b, start : start + len(r)] = torch.tensor(r, dtype=torch.long)
        mask[b, start : start + len(r)] = True
    layout = split_steps(ids, mask, separator_token_ids(tokenizer))
    return ids, layout, [PROMPT] * len(rows), [steps for _, _, steps in RESPONSES]


def test_policy_steps_decode_to_their_text_with_the_separators_kept(prm, other_tokenizer):
    ids, layout, _, expected = policy_batch(other_tokenizer)
    texts = StepAligner(other_tokenizer, prm.tokenizer, prm.step_format).step_texts(ids, layout)
    assert ["".join(row) for row in texts] == [text for text, _, _ in RESPONSES]
    # where a step's newlines go depends on the vocabulary (".\n\n" + "\n"); the PRM drops them at both ends
    assert [[t.strip("\n") for t in row] for row in texts] == [[t.strip("\n") for t in row] for row in expected]


def test_the_token_path_is_taken_only_for_a_shared_vocabulary_and_a_per_step_format(prm, other_tokenizer):
    assert StepAligner(prm.tokenizer, prm.tokenizer, prm.step_format).fast
    assert not StepAligner(prm.tokenizer, prm.tokenizer, prm.step_format, fast_path=False).fast
    assert not StepAligner(other_tokenizer, prm.tokenizer, prm.step_format).fast
    assert not same_vocabulary(other_tokenizer, prm.tokenizer)


@pytest.mark.parametrize("left_pad", [False, True])
def test_token_and_text_paths_build_the_same_prm_inputs(prm, left_pad):
    ids, layout, prompts, _ = policy_batch(prm.tokenizer, left_pad)
    fast = StepAligner(prm.tokenizer, prm.tokenizer, prm.step_format).prm_inputs(prompts, ids, layout)
    text = StepAligner(prm.tokenizer, prm.tokenizer, prm.step_format, fast_path=False).prm_inputs(prompts, ids, layout)
    assert fast == text
    assert [0 if x is None else len(x.label_positions) for x in fast] == layout.num_steps.tolist()


def test_token_and_text_paths_give_the_same_scores(prm):
    ids, layout, prompts, _ = policy_batch(prm.tokenizer)
    fast = PRMScorer(prm).score_policy_tokens(prompts, ids, layout)
    text = PRMScorer(prm, config=ScorerConfig(fast_path=False)).score_policy_tokens(prompts, ids, layout)
    torch.testing.assert_close(fast, text, rtol=0, atol=1e-6)


def test_a_policy_with_another_tokenizer_gets_the_scores_of_its_step_texts(prm, other_tokenizer):
    ids, layout, prompts, expected = policy_batch(other_tokenizer)
    scores = PRMScorer(prm, policy_tokenizer=other_tokenizer).score_policy_tokens(prompts, ids, layout)
    assert scores.shape == layout.step_mask.shape
    by_text = PRMScorer(prm).score_steps(prompts, expected)
    for b, row in enumerate(by_text):
        n = int(layout.num_steps[b])
        if n:
            torch.testing.assert_close(scores[b, :n], row, rtol=0, atol=1e-6)


def test_zero_step_responses_get_an_all_masked_zero_row_and_scores_feed_the_advantages(prm, other_tokenizer):
    ids, layout, prompts, _ = policy_batch(other_tokenizer, left_pad=True)
    scores = PRMScorer(prm, policy_tokenizer=other_tokenizer).score_policy_tokens(prompts, ids, layout)
    assert not bool(layout.step_mask[2].any()) and bool((scores[2] == 0).all())
    assert bool((scores[~layout.step_mask] == 0).all()) and bool((scores[layout.step_mask] != 0).all())
    result = compute_advantages(layout.action_mask, AdvantageConfig(), layout=layout, step_rewards=scores, groups=3)
    assert bool(torch.isfinite(result.advantages).all())


def test_token_ids_outside_the_policy_vocabulary_are_an_error(prm):
    ids, layout, prompts, _ = policy_batch(prm.tokenizer)
    ids[0, 0] = len(prm.tokenizer) + 5
    with pytest.raises(ValueError, match="response 0 holds token id .* outside the policy vocabulary"):
        StepAligner(prm.tokenizer, prm.tokenizer, prm.step_format).prm_inputs(prompts, ids, layout)


def test_scatter_checks_the_number_of_scores_per_response(prm):
    _, layout, _, _ = policy_batch(prm.tokenizer)
    scores = [torch.ones(n) if n else None for n in layout.num_steps.tolist()]
    assert scatter_step_scores(scores, layout).sum() == layout.num_steps.sum()
    scores[0] = torch.ones(1)
    with pytest.raises(ValueError, match=f"response 0 has {int(layout.num_steps[0])} steps but 1 scores"):
        scatter_step_scores(scores, layout)


BODIES = ["First, we add:", "12 + 30 = 42.", "Then we multiply: 42 * 4 = 168", "Let me check.", "So \\boxed{168}.", ""]


@settings(max_examples=40)
@given(
    st.lists(st.tuples(st.sampled_from(BODIES), st.sampled_from(["\n\n", "\n\n\n", ".\n\n"])), max_size=5),
    st.booleans(),
    st.integers(min_value=0, max_value=8),
)
def test_token_and_text_paths_agree_on_canonically_encoded_responses(prm_tokenizer, steps, eos, cut):
    ids = prm_tokenizer("".join(body + sep for body, sep in steps), add_special_tokens=False)["input_ids"]
    ids = (ids[: max(len(ids) - cut, 0)] if not eos else ids) + ([prm_tokenizer.eos_token_id] if eos else [])
    response = torch.tensor([ids + [prm_tokenizer.pad_token_id]])
    mask = torch.arange(response.shape[1]).unsqueeze(0) < len(ids)
    layout = split_steps(response, mask, separator_token_ids(prm_tokenizer))
    fmt = get_step_format("pure")
    fast = StepAligner(prm_tokenizer, prm_tokenizer, fmt).prm_inputs([PROMPT], response, layout)
    text = StepAligner(prm_tokenizer, prm_tokenizer, fmt, fast_path=False).prm_inputs([PROMPT], response, layout)
    assert fast == text
