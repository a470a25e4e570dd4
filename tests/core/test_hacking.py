"""The hack shares and the calibrated detectors, on constructed responses and metric streams."""

from __future__ import annotations

import random

import torch

from openrlhf_pure.core.hacking import DetectorConfig, detect_hacking, filler_steps, hack_shares

BATCH = 64


def test_hack_shares_count_filler_steps_one_step_answers_and_trivial_answers_separately():
    responses = [
        "Let me think.\n\nLet me think.\n\n2 + 3 = 5.",  # two filler steps of three
        "2 + 3 = 5. 5 * 2 = 10. \\boxed{10}",  # one giant step
        "Thank you.",  # one step, no answer: trivial (and a filler step)
        "",  # zero steps
    ]
    shares = hack_shares(responses, torch.tensor([3, 1, 1, 0]), torch.tensor([True, True, False, False]))
    assert shares == {"hacking/filler_steps": 3 / 5, "hacking/one_step": 0.25, "hacking/trivial": 0.5}
    assert filler_steps("1 + 1 = 2.\n\n1 + 1 = 2.") == (1, 2)  # a repeated step counts even with numbers


def stream(steps: int, seed: int, **shift):
    """Per-step metrics of a run: binomial shares of BATCH responses around fixed rates; ``shift``
    maps a metric to (first step of the change, new rate or mean)."""
    rng = random.Random(seed)
    base = {"hacking/filler_steps": 0.12, "hacking/one_step": 0.03, "hacking/trivial": 0.04,
            "length/clip_ratio": 0.02, "repetition/high_ratio": 0.05, "agreement/prm_vr": 0.6}  # fmt: skip
    rows = []
    for step in range(1, steps + 1):
        row = {}
        for key, p in base.items():
            if key in shift and step >= shift[key][0]:
                p = shift[key][1]
            row[key] = sum(rng.random() < p for _ in range(BATCH)) / BATCH
        steps_mean = shift["steps/mean"][1] if "steps/mean" in shift and step >= shift["steps/mean"][0] else 3.3
        row["steps/mean"] = steps_mean + rng.gauss(0, 0.08)
        rows.append(row)
    return rows


def alarms(rows, config=None):
    """(step, kind) of every warning when the detectors run after each step, as the trainers do."""
    found = []
    responses, steps, answers = ["1 + 1 = 2."] * BATCH, torch.full((BATCH,), 3), torch.ones(BATCH, dtype=torch.bool)
    for i, row in enumerate(rows):
        for warning in detect_hacking(row, rows[:i], responses, steps, answers, None, config):
            found.append((i + 1, warning.kind))
    return found


def test_healthy_runs_raise_no_alarm_over_a_hundred_steps():
    for seed in range(5):
        assert alarms(stream(100, seed)) == [], seed


def test_step_farming_warns_only_thinking_after_it_starts():
    found = alarms(stream(80, 0, **{"hacking/filler_steps": (30, 0.45), "steps/mean": (30, 5.0)}))
    kinds = {kind for _, kind in found}
    assert kinds == {"only_thinking"} and min(step for step, _ in found) > 30


def test_a_collapse_to_trivial_answers_warns_zero_steps():
    found = alarms(stream(60, 1, **{"hacking/trivial": (25, 0.5)}))
    assert {kind for _, kind in found} == {"zero_steps"} and min(step for step, _ in found) > 25


def test_one_giant_step_a_truncation_collapse_and_a_falling_agreement_each_warn_their_kind():
    assert {k for _, k in alarms(stream(60, 2, **{"hacking/one_step": (25, 0.4)}))} == {"one_step"}
    assert {k for _, k in alarms(stream(60, 3, **{"length/clip_ratio": (25, 0.5)}))} == {"collapse"}
    assert {k for _, k in alarms(stream(60, 4, **{"agreement/prm_vr": (25, 0.3)}))} == {"agreement"}
    assert alarms(stream(60, 4, **{"agreement/prm_vr": (25, 0.9)})) == []  # agreeing more is no hack


def test_a_certain_but_small_change_and_a_large_change_within_noise_do_not_warn():
    small = alarms(stream(60, 5, **{"hacking/trivial": (11, 0.11)}))  # +7 points: significant, below min_change
    assert small == []
    rng = random.Random(6)
    noisy = [{"steps/mean": 3.0 + rng.choice([-2.0, 2.0])} for _ in range(20)]
    noisy[-1]["steps/mean"] = 6.0  # one wild step among noisy ones is not a trend
    assert alarms(noisy) == []


def test_no_check_before_two_windows_of_steps():
    rows = [{"hacking/trivial": 0.0}] * 10 + [{"hacking/trivial": 0.9}] * 9
    assert alarms(rows) == []  # 19 steps < 2 W
    assert alarms(rows + [{"hacking/trivial": 0.9}]) == [(20, "zero_steps")]
    assert alarms(rows, DetectorConfig(window=5)) != []
