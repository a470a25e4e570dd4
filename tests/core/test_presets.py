"""The authors' presets against the project's default, on one small group worked out by hand.

The group (separator token id 1; credit mode "sum" so that each step's reward is its score):

    row 0: tokens [7 1 | 7 7]       steps of 2 and 2 tokens, scores [0.4, 0.2], correct (VR 1)
    row 1: tokens [7 7 7] + pad     one step of 3 tokens,    score  [0.6],      wrong   (VR 0)

R0 = 0.6, L0 = 4, K0 = 2 steps; R1 = 0.6, L1 = 3, K1 = 1. Leave-one-out VR: [1, -1].
Each test changes one thing the issue lists and checks the result by hand.
"""

from __future__ import annotations

import math

import pytest
import torch

from openrlhf_pure.core.advantages import AdvantageConfig, compute_advantages
from openrlhf_pure.core.presets import PRESETS
from openrlhf_pure.core.steps import split_steps

IDS = torch.tensor([[7, 1, 7, 7], [7, 7, 7, 0]])
MASK = IDS != 0
LAYOUT = split_steps(IDS, MASK, torch.tensor([1]))
SCORES = torch.tensor([[0.4, 0.2], [0.6, 0.0]])
VR = torch.tensor([1.0, 0.0])
RAW = {"credit.mode": "sum", "kl_coef": 0.0}  # hand-checkable: raw scores, no KL


def run(config, overrides=None, **kwargs):
    config = config.with_overrides({**RAW, **(overrides or {})})
    inputs = {"layout": LAYOUT, "step_rewards": SCORES, "verifiable_rewards": VR, "groups": 2, **kwargs}
    return compute_advantages(MASK, config, **inputs)


def valid(x):
    return [round(v, 5) for v in x[MASK].tolist()]


OPENRLHF = AdvantageConfig.preset("authors_openrlhf")
VERL = AdvantageConfig.preset("authors_verl")


def test_the_authors_token_baseline_leaves_each_steps_closing_token_uncharged():
    """b0 = R1 / L1 = 0.2, b1 = R0 / L0 = 0.15.
    Default (closing token counted): row 0 steps 0.4 - 0.2*2 = 0, 0.2 - 0.2*2 = -0.2, + VR 1;
    row 1: 0.6 - 0.15*3 = 0.15, + VR -1.  Returns [0.8]*4 and [-0.85]*3.
    Authors (not counted): row 0: 0.4 - 0.2*1 = 0.2, 0.2 - 0.2*1 = 0 (+1); row 1: 0.6 - 0.15*2 = 0.3 (-1).
    Returns [1.2, 1.2, 1.0, 1.0] and [-0.7]*3: each response loses b*(L - K) instead of b*L."""
    assert valid(run(AdvantageConfig()).returns) == [0.8, 0.8, 0.8, 0.8, -0.85, -0.85, -0.85]
    assert valid(run(OPENRLHF).returns) == [1.2, 1.2, 1.0, 1.0, -0.7, -0.7, -0.7]


def test_the_authors_whitening_takes_the_mean_over_nonzero_advantages_and_the_variance_over_all_tokens():
    """Authors' returns [1.2, 1.2, 1.0, 1.0 | -0.7, -0.7, -0.7], the closing tokens (row 0: 1 and 3,
    row 1: 2) zeroed. Kept: 1.2, 1.0, -0.7, -0.7: mean 0.8 / 4 = 0.2.
    nonzero_mean: var = (1.0^2 + 0.8^2 + 2 * 0.9^2 + 3 zeroed tokens * 0.2^2) / 4 = 3.38 / 4 = 0.845;
    masked (default): var = 3.26 / 4 = 0.815."""
    for whitening, var in (("nonzero_mean", 0.845), ("masked", 0.815)):
        out = run(OPENRLHF, {"whitening": whitening}).advantages
        expected = [x / math.sqrt(var) for x in (1.0, 0, 0.8, 0, -0.9, -0.9, 0)]
        torch.testing.assert_close(out[MASK], torch.tensor(expected), atol=1e-5, rtol=0)


def test_the_authors_pure_vr_zeroes_every_separator_not_only_the_last_token():
    """PURE-VR: returns [1, 1, 1, 1] and [-1, -1, -1]. The default zeroes the last tokens
    (row 0 position 3, row 1 position 2); the authors also row 0's separator at position 1."""
    config = {"whiten": False}
    default = compute_advantages(MASK, AdvantageConfig(whiten=False), verifiable_rewards=VR, groups=2)
    authors = compute_advantages(MASK, OPENRLHF.with_overrides(config), layout=LAYOUT, verifiable_rewards=VR, groups=2)
    assert valid(default.advantages) == [1, 1, 1, 0, -1, -1, 0]
    assert valid(authors.advantages) == [1, 0, 1, 0, -1, -1, 0]
    with pytest.raises(ValueError, match="mask_tokens='closing' needs the responses' step layout"):
        compute_advantages(MASK, OPENRLHF, verifiable_rewards=VR, groups=2)


def test_the_verl_baseline_is_taken_over_the_returns_with_vr_and_kl_in_them():
    """verl, N = 4, k3 KL clamped to 10 at 0.001: row 1 token 0 has log-ratio -3, k3 = e^3 - 4 = 16.1
    -> 10, a penalty of 0.01. Token rewards: row 0 [0, 0.4, 0, 0.2 + 1 (raw VR)], row 1 [-0.01, 0, 0.6].
    Returns: row 0 [1.6, 1.6, 1.2, 1.2] (sum 5.6), row 1 [0.59, 0.6, 0.6] (sum 1.79).
    b0 = 1.79 / ((2 - 1) * 4) = 0.4475, b1 = 5.6 / 4 = 1.4.
    The same baseline over the process rewards alone (sums 1.6 and 1.8): b0 = 1.8 / 4, b1 = 1.6 / 4."""
    log_probs = torch.tensor([[-1.0, -1, -1, -1], [-4.0, -1, -1, 0]])
    ref = torch.tensor([[-1.0, -1, -1, -1], [-1.0, -1, -1, 0]])
    kl = {"log_probs": log_probs, "ref_log_probs": ref}
    verl = run(VERL, {"kl_coef": 1e-3, "max_len": 4, "whiten": False}, **kl)
    assert valid(verl.returns) == [1.1525, 1.1525, 0.7525, 0.7525, -0.81, -0.8, -0.8]
    ours = run(VERL, {"kl_coef": 1e-3, "max_len": 4, "whiten": False, "return_baseline": "none",
                      "pr_baseline": "max_len"}, **kl)  # fmt: skip
    assert valid(ours.returns) == [1.15, 1.15, 0.75, 0.75, 0.19, 0.2, 0.2]


def test_verl_whitens_with_an_unbiased_variance_over_every_valid_token():
    """The returns above, nothing masked: mean 1.4 / 7 = 0.2, squared deviations sum 5.445125;
    verl divides by 7 - 1, the default by 7."""
    log_probs = torch.tensor([[-1.0, -1, -1, -1], [-4.0, -1, -1, 0]])
    ref = torch.tensor([[-1.0, -1, -1, -1], [-1.0, -1, -1, 0]])
    deviations = torch.tensor([0.9525, 0.9525, 0.5525, 0.5525, -1.01, -1.0, -1.0])
    for whitening, dof in (("unbiased", 6), ("masked", 7)):
        out = run(VERL, {"kl_coef": 1e-3, "max_len": 4, "whitening": whitening}, log_probs=log_probs,
                  ref_log_probs=ref).advantages  # fmt: skip
        torch.testing.assert_close(out[MASK], deviations / math.sqrt(5.445125 / dof), atol=1e-5, rtol=0)


def test_every_preset_names_every_field_and_the_default_preset_is_the_default():
    assert AdvantageConfig.preset("default") == AdvantageConfig()
    fields = set(AdvantageConfig().to_dict()) - {"max_len"}
    for name in ("authors_openrlhf", "authors_verl"):
        assert set(PRESETS.get(name)()) == fields, name
    assert AdvantageConfig() not in (OPENRLHF, VERL)


def test_overrides_replace_single_fields_and_unknown_names_fail_clearly():
    config = VERL.with_overrides({"credit.temperature": 0.5, "whiten": False})
    assert (config.credit.mode, config.credit.temperature, config.whiten) == ("softmin", 0.5, False)
    assert config.return_baseline == "max_len"
    with pytest.raises(ValueError, match="unknown advantage option.*whitenn"):
        VERL.with_overrides({"whitenn": False})
    with pytest.raises(ValueError, match="unknown advantage option.*credit.mode2"):
        VERL.with_overrides({"credit.mode2": "sum"})
    with pytest.raises(ValueError, match="unknown advantage preset 'verl'; known: authors_openrlhf, authors_verl"):
        AdvantageConfig.preset("verl")
