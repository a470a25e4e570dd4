"""Invariants of credit assignment and advantages, as property tests (hypothesis)."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from openrlhf_pure.core.advantages import AdvantageConfig, compute_advantages
from openrlhf_pure.core.baselines import STEP_TOKEN_COUNTS
from openrlhf_pure.core.credit import CreditConfig, step_returns
from openrlhf_pure.core.groups import leave_one_out_sum
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


# --- the same invariants under each preset (core.presets) -------------------------------------
N = 40  # max_len, above every width drawn here: the max_len baselines then ignore the padding
PRESET_CASES = {
    "default": {},
    "authors_openrlhf": {},
    "authors_verl": {},
    "authors_verl strict min-form": {"credit.mode": "sum", "token_returns": "running_min"},
}


def preset(case: str, **overrides) -> AdvantageConfig:
    return AdvantageConfig.preset(case.split()[0]).with_overrides({**PRESET_CASES[case], "max_len": N, **overrides})


def log_probs_for(tokens, ids_mask, left, extra):
    """Per-token log-probs that depend on the token's place in its response, laid out like ``pad``."""
    ids, mask = ids_mask
    lp, ref = torch.zeros(ids.shape), torch.zeros(ids.shape)
    for i, t in enumerate(tokens):
        start = ids.shape[1] - len(t) if left else 0
        k = torch.arange(len(t), dtype=torch.float32)
        lp[i, start : start + len(t)] = -0.1 * (k % 5) - 0.2
        ref[i, start : start + len(t)] = -0.3 * (k % 3) - 0.1
    return lp, ref


@settings(max_examples=60)
@given(responses, st.lists(reward, min_size=20, max_size=20), st.integers(0, 5), st.sampled_from(list(PRESET_CASES)),
       st.sampled_from(["prm_vr", "vr"]))  # fmt: skip
def test_every_preset_is_invariant_to_padding_side_and_length(tokens, pool, extra, case, mode):
    right, left = pad(tokens), pad(tokens, extra=extra, left=True)
    results = []
    for (ids, mask), is_left in ((right, False), (left, True)):
        layout = split_steps(ids, mask, SEP)
        lp, ref = log_probs_for(tokens, (ids, mask), is_left, extra)
        kwargs = {"layout": layout, "groups": len(tokens), "log_probs": lp, "ref_log_probs": ref,
                  "verifiable_rewards": torch.tensor([float(i % 2) for i in range(len(tokens))])}  # fmt: skip
        if mode == "prm_vr":
            kwargs["step_rewards"] = torch.tensor(pool[: layout.num_slots]).expand(len(tokens), -1).contiguous()
        plain = compute_advantages(mask, preset(case, whiten=False), **kwargs)
        whitened = compute_advantages(mask, preset(case), **kwargs)
        results.append((mask, plain, whitened))
    (rm, a, aw), (lm, b, bw) = results
    torch.testing.assert_close(a.advantages[rm], b.advantages[lm], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(a.advantage_mask[rm], b.advantage_mask[lm])
    kept = a.advantages[a.advantage_mask]
    if kept.numel() > 1 and float(kept.std()) > 0.05:  # whitening a near-constant batch amplifies rounding
        torch.testing.assert_close(aw.advantages[rm], bw.advantages[lm], atol=1e-4, rtol=1e-4)


# (case, credit mode, error form): "min" forms move a response's value by at most eps, "sum" by S * eps
BOUND_CASES = [
    (case, mode, "sum" if mode == "sum" else "min")
    for case in ("default", "authors_openrlhf", "authors_verl")
    for mode in ("min", "future_min", "sum")
    if not (case == "authors_verl" and mode == "min")  # verl's baseline sums every token's return (see below)
] + [("authors_verl strict min-form", "sum", "min")]


@settings(max_examples=80)
@given(responses, st.data(), st.floats(0.0, 0.2), st.sampled_from(BOUND_CASES))
def test_step_reward_errors_move_each_responses_value_within_pure_bounds_under_every_preset(tokens, data, eps, case):
    """PURE.md section 4 with each preset's baselines: if every step score is off by at most eps,
    a response's value (the return at its first token, before masking and whitening) moves by at
    most e_i (eps for min-forms, S_i * eps for sum) plus what its baseline moves:
    token baseline: charged_i * sum_{j != i} e_j / sum_{j != i} L_j; verl's: sum_{j != i} L_j E_j / ((n-1) N),
    E_j bounding every token's return error (not true of the exact min-form, whose argmin may jump)."""
    name, mode, form = case
    ids, mask = pad(tokens)
    layout = split_steps(ids, mask, SEP)
    shape = (len(tokens), layout.num_slots)
    rewards = torch.tensor(data.draw(st.lists(reward, min_size=shape[0] * shape[1], max_size=shape[0] * shape[1])))
    noise = torch.tensor(data.draw(st.lists(st.floats(-eps, eps), min_size=rewards.numel(), max_size=rewards.numel())))
    config = preset(name, whiten=False, **({} if "strict" in name else {"credit.mode": mode}))
    lp, ref = log_probs_for(tokens, (ids, mask), False, 0)
    kwargs = {"layout": layout, "groups": len(tokens), "log_probs": lp, "ref_log_probs": ref,
              "verifiable_rewards": torch.tensor([float(i % 2) for i in range(len(tokens))])}  # fmt: skip
    a = compute_advantages(mask, config, step_rewards=rewards.view(shape), **kwargs)
    b = compute_advantages(mask, config, step_rewards=(rewards + noise).view(shape), **kwargs)
    moved = (a.returns[:, 0] - b.returns[:, 0]).abs()
    error = torch.full((len(tokens),), eps) if form == "min" else layout.num_steps * eps
    lengths, group = mask.sum(1).float(), torch.zeros(len(tokens), dtype=torch.long)
    if config.pr_baseline == "token":
        charged = STEP_TOKEN_COUNTS.get(config.step_token_count)(layout).sum(1)
        others = leave_one_out_sum(lengths, group)
        shift = torch.where(others > 0, charged * leave_one_out_sum(error, group) / others.clamp(min=1), 0.0)
    else:  # authors_verl: the baseline over all returns
        count = leave_one_out_sum(torch.ones(len(tokens)), group)
        shift = torch.where(count > 0, leave_one_out_sum(lengths * error, group) / (count.clamp(min=1) * N), 0.0)
    nonempty = lengths > 0
    assert (moved[nonempty] <= (error + shift)[nonempty] + 1e-5).all()
