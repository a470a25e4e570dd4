"""Invariants of credit assignment and advantages, as property tests (hypothesis)."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from openrlhf_pure.core.advantages import AdvantageConfig, compute_advantages
from openrlhf_pure.core.credit import CreditConfig, step_returns
from openrlhf_pure.core.returns import future_sum, step_returns_to_token_rewards
from openrlhf_pure.core.steps import split_steps

SEP = torch.tensor([1])
reward = st.floats(-1, 1, allow_nan=False, width=32)
reward_rows = st.lists(reward, min_size=1, max_size=12)
responses = st.lists(st.lists(st.sampled_from([1, 7, 8]), min_size=0, max_size=14), min_size=1, max_size=6)


def row(rewards):
    return torch.tensor([rewards]), torch.ones(1, len(rewards), dtype=torch.bool)


def pad(tokens, extra=0, left=False):
    """(B, T) ids and mask for token lists, padded with id 0 to the longest + ``extra``."""
    width = max(len(t) for t in tokens) + extra
    ids = torch.zeros(len(tokens), max(width, 1), dtype=torch.long)
    mask = torch.zeros_like(ids, dtype=torch.bool)
    for i, t in enumerate(tokens):
        start = width - len(t) if left else 0
        ids[i, start : start + len(t)] = torch.tensor(t, dtype=torch.long)
        mask[i, start : start + len(t)] = True
    return ids, mask


@given(reward_rows)
def test_softmin_tends_to_min_as_temperature_goes_to_zero(rewards):
    r, m = row(rewards)
    lowest = min(rewards)
    if sorted(rewards)[1:2] and sorted(rewards)[1] - lowest < 0.05:
        return  # a near-tie: the limit splits the credit between the tied steps
    soft = step_returns(r, m, CreditConfig(mode="softmin", temperature=1e-3))
    torch.testing.assert_close(soft, step_returns(r, m, CreditConfig(mode="min")), atol=1e-5, rtol=0)


@given(reward_rows)
def test_sum_with_gamma_one_at_the_first_step_is_the_total(rewards):
    r, m = row(rewards)
    assert abs(float(step_returns(r, m, CreditConfig(mode="sum"))[0, 0]) - float(r.sum())) < 1e-5


@given(reward_rows, st.sampled_from(["min", "softmin", "future_min"]), st.floats(0.01, 10))
def test_min_form_returns_stay_within_the_reward_range(rewards, mode, temperature):
    r, m = row(rewards)
    g = step_returns(r, m, CreditConfig(mode=mode, temperature=temperature))
    assert float(g.min()) >= min(min(rewards), 0.0) - 1e-5
    assert float(g.max()) <= max(max(rewards), 0.0) + 1e-5


@given(reward_rows, st.data(), st.floats(0.0, 0.2))
def test_perturbing_rewards_by_eps_moves_min_returns_by_eps_and_sum_returns_by_steps_times_eps(rewards, data, eps):
    """PURE.md section 4: |min a - min b| <= max |a_i - b_i|; a sum of S terms moves by up to S * eps."""
    noise = data.draw(st.lists(st.floats(-eps, eps), min_size=len(rewards), max_size=len(rewards)))
    r, m = row(rewards)
    r2 = r + torch.tensor([noise])
    moved = {
        mode: (step_returns(r2, m, CreditConfig(mode=mode)) - step_returns(r, m, CreditConfig(mode=mode))).abs()[0]
        for mode in ("min", "future_min", "sum")
    }
    tol = 1e-5
    assert float(moved["min"][0]) <= eps + tol  # the response's value: its first step's return
    assert float(moved["future_min"].max()) <= eps + tol  # every step's return
    remaining = torch.arange(len(rewards), 0, -1, dtype=torch.float32)
    assert (moved["sum"] <= remaining * eps + tol).all()


@given(responses, st.lists(reward, min_size=20, max_size=20), st.integers(0, 5))
def test_advantages_do_not_depend_on_padding_side_or_length(tokens, pool, extra):
    """Compared before whitening: whitening a near-constant batch divides float rounding by a tiny std."""
    right_ids, right_mask = pad(tokens)
    left_ids, left_mask = pad(tokens, extra=extra, left=True)
    right, left = split_steps(right_ids, right_mask, SEP), split_steps(left_ids, left_mask, SEP)
    rewards = torch.tensor(pool[: right.num_slots]).expand(len(tokens), -1).contiguous()
    vr = torch.tensor([float(i % 2) for i in range(len(tokens))])
    kwargs = {"step_rewards": rewards, "verifiable_rewards": vr, "groups": len(tokens)}
    config = AdvantageConfig(whiten=False)
    a = compute_advantages(right_mask, config, layout=right, **kwargs)
    b = compute_advantages(left_mask, config, layout=left, **kwargs)
    torch.testing.assert_close(a.advantages[right_mask], b.advantages[left_mask], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(a.advantage_mask[right_mask], b.advantage_mask[left_mask])


@settings(max_examples=50)
@given(responses, st.sampled_from(["sum", "min", "softmin", "future_min"]), st.data())
def test_token_rewards_reproduce_step_returns(tokens, mode, data):
    ids, mask = pad(tokens)
    layout = split_steps(ids, mask, SEP)
    rewards = torch.tensor(data.draw(st.lists(reward, min_size=layout.num_slots, max_size=layout.num_slots))).expand(
        len(tokens), -1
    )
    g = step_returns(rewards, layout.step_mask, CreditConfig(mode=mode))
    token_returns = future_sum(step_returns_to_token_rewards(g, layout))
    valid = layout.step_index >= 0
    expected = g.gather(1, layout.step_index.clamp(min=0))
    torch.testing.assert_close(token_returns[valid], expected[valid], atol=1e-5, rtol=1e-5)
