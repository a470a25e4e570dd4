"""The batch scorer: token-budget batching, sequence packing, and the text entry points."""

from __future__ import annotations

import random

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from openrlhf_pure.engines.prm_scorer import PRMScorer, ScorerConfig, collate, plan_packed, plan_padded
from openrlhf_pure.models.prm import ProcessRewardModel
from openrlhf_pure.models.step_formats import PRMInput


def random_inputs(vocab: int, count: int = 12, seed: int = 0) -> list[PRMInput | None]:
    """Variable-length PRM inputs with a few labels each (and one missing input)."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        n = rng.randint(3, 90)
        labels = sorted(rng.sample(range(n - 1), k=min(3, n - 1))) + [n - 1]
        out.append(PRMInput(input_ids=[rng.randrange(vocab) for _ in range(n)], label_positions=labels))
    out[4] = None
    return out


def unpacked_scores(prm, inputs):
    """Reference: one sequence per forward pass, no padding, no position ids."""
    out = []
    with torch.inference_mode():
        for x in inputs:
            if x is None:
                out.append(None)
                continue
            cols = torch.tensor(x.label_positions)
            out.append(prm(torch.tensor([x.input_ids]), torch.zeros_like(cols), cols))
    return out


@pytest.mark.parametrize("pack, attention", [(True, "segments"), (True, "position_ids"), (False, "auto")])
def test_batched_scores_equal_scoring_each_sequence_alone_within_1e_5(prm, pack, attention):
    inputs = random_inputs(len(prm.tokenizer))
    lengths = [len(x) for x in inputs if x is not None]
    assert any(len(row) > 1 for batch in plan_packed(lengths, max(lengths), 256) for row in batch)
    scorer = PRMScorer(prm, config=ScorerConfig(max_tokens_per_batch=256, pack=pack, packed_attention=attention))
    for got, want in zip(scorer.score_inputs(inputs), unpacked_scores(prm, inputs)):
        if want is None:
            assert got is None
        else:
            torch.testing.assert_close(got, want, rtol=0, atol=1e-5)


def test_lm_candidate_scores_are_also_unchanged_by_packing(causal_lm_dir):
    prm = ProcessRewardModel.from_pretrained(causal_lm_dir, step_format="math_shepherd")
    inputs = random_inputs(len(prm.tokenizer), seed=1)
    packed = PRMScorer(prm, config=ScorerConfig(max_tokens_per_batch=300)).score_inputs(inputs)
    for got, want in zip(packed, unpacked_scores(prm, inputs)):
        if want is not None:
            torch.testing.assert_close(got, want, rtol=0, atol=1e-5)


def test_segment_attention_handles_grouped_query_heads(tmp_path, prm_tokenizer):
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(prm_tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True,
    )  # fmt: skip
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(tmp_path)
    prm_tokenizer.save_pretrained(tmp_path)
    prm = ProcessRewardModel.from_pretrained(str(tmp_path), new_head=True)
    inputs = random_inputs(len(prm.tokenizer), seed=2)
    packed = PRMScorer(prm, config=ScorerConfig(max_tokens_per_batch=300)).score_inputs(inputs)
    for got, want in zip(packed, unpacked_scores(prm, inputs)):
        if want is not None:
            torch.testing.assert_close(got, want, rtol=0, atol=1e-5)
    assert prm.model.config._attn_implementation == "sdpa"  # restored after each packed call


def test_packing_puts_several_sequences_in_a_row_and_restarts_positions():
    inputs = [PRMInput([5] * n, [n - 1]) for n in (6, 3, 2)]
    (rows,) = plan_packed([6, 3, 2], row_capacity=6, max_tokens=100)
    assert rows == [[0], [1, 2]]
    batch = collate(inputs, rows, "cpu")
    assert batch["position_ids"].tolist() == [[0, 1, 2, 3, 4, 5], [0, 1, 2, 0, 1, 0]]
    assert batch["label_rows"].tolist() == [0, 1, 1] and batch["label_cols"].tolist() == [5, 2, 4]


@settings(max_examples=60)
@given(st.lists(st.integers(1, 50), min_size=1, max_size=40), st.integers(50, 400))
def test_packed_plans_place_every_sequence_once_within_capacity_and_budget(lengths, budget):
    plan = plan_packed(lengths, row_capacity=50, max_tokens=budget)
    placed = sorted(i for batch in plan for row in batch for i in row)
    assert placed == list(range(len(lengths)))
    for batch in plan:
        fills = [sum(lengths[i] for i in row) for row in batch]
        assert max(fills) <= 50
        assert len(batch) == 1 or len(batch) * max(fills) <= budget


@settings(max_examples=60)
@given(st.lists(st.integers(1, 50), min_size=1, max_size=40), st.integers(1, 400))
def test_padded_plans_keep_arrival_order_within_budget(lengths, budget):
    plan = plan_padded(lengths, budget)
    assert [row[0] for batch in plan for row in batch] == list(range(len(lengths)))
    for batch in plan:
        assert len(batch) == 1 or len(batch) * max(lengths[row[0]] for row in batch) <= budget


def test_packing_needs_fewer_padded_tokens_than_padding():
    rng = random.Random(0)
    lengths = [int(50 * 40 ** rng.random()) for _ in range(200)]

    def cost(plan):
        return sum(len(batch) * max(sum(lengths[i] for i in row) for row in batch) for batch in plan)

    assert cost(plan_packed(lengths, max(lengths), 16384)) < 0.75 * cost(plan_padded(lengths, 16384))


def test_score_responses_splits_text_with_the_policy_tokenizer(prm, other_tokenizer):
    scorer = PRMScorer(prm, policy_tokenizer=other_tokenizer)
    responses = ["First, we add:\n\n12 + 30 = 42.\n\nSo \\boxed{168}.", "", "One step"]
    scores, layout = scorer.score_responses(["Q"] * 3, responses)
    assert layout.num_steps.tolist() == [3, 0, 1] and scores.shape == (3, 3)
    by_steps = scorer.score_steps(
        ["Q"] * 3, [["First, we add:", "12 + 30 = 42.", "So \\boxed{168}."], [], ["One step"]]
    )
    torch.testing.assert_close(scores[0], by_steps[0], rtol=0, atol=1e-6)
    assert by_steps[1] is None


def test_inputs_past_the_context_are_refused_or_truncated_and_counted(prm):
    long = PRMInput(list(range(2, 14)), [3, 7, 11])  # 12 tokens, step labels at 3, 7 and 11
    refuse = PRMScorer(prm, config=ScorerConfig(max_length=10))
    with pytest.raises(ValueError, match=r"PRM input 1 has 12 tokens .* more than max_length=10 \(the PRM's context\)"):
        refuse.score_inputs([PRMInput([1] * 5, [4]), long])
    cut = PRMScorer(prm, config=ScorerConfig(max_length=10, overflow="truncate"))
    _, scores = cut.score_inputs([PRMInput([1] * 5, [4]), long])
    fits = refuse.score_inputs([PRMInput(list(range(2, 10)), [3, 7])])[0]  # the two steps that fit, alone
    assert scores.shape == (3,) and torch.allclose(scores, torch.cat([fits, fits[-1:]]), atol=1e-5)
    assert cut.truncated == 1
    _, none_fit = cut.score_inputs([PRMInput([1] * 5, [4]), PRMInput(list(range(2, 14)), [11])])
    assert torch.equal(none_fit, torch.zeros(1)) and cut.truncated == 2
    with pytest.raises(ValueError, match="overflow must be one of error, truncate"):
        ScorerConfig(overflow="drop")


def test_bad_batching_options_are_refused():
    with pytest.raises(ValueError, match="max_tokens_per_batch must be positive"):
        ScorerConfig(max_tokens_per_batch=0)
    with pytest.raises(ValueError, match="does not fit a packed row of 4"):
        plan_packed([5], row_capacity=4, max_tokens=10)


def test_flash_attention_models_get_one_packed_row_per_batch(prm, monkeypatch):
    calls = []

    def record(input_ids, label_rows, label_cols, **kwargs):
        calls.append((input_ids.shape, sorted(kwargs)))
        return torch.zeros(label_rows.numel())

    monkeypatch.setattr(prm.model.config, "_attn_implementation", "flash_attention_2")
    monkeypatch.setattr(prm, "forward", record)
    PRMScorer(prm, config=ScorerConfig(max_tokens_per_batch=200)).score_inputs(random_inputs(len(prm.tokenizer)))
    assert len(calls) > 1 and all(shape[0] == 1 and shape[1] <= 200 for shape, _ in calls)
    assert all(keys == ["position_ids"] for _, keys in calls)  # transformers turns them into varlen bounds
