"""Rollout metrics, repetition score and the reward-hacking detectors."""

from __future__ import annotations

import math

import torch
from hypothesis import given
from hypothesis import strategies as st

from openrlhf_pure.core.metrics import group_accuracy, reflection_hits, rollout_metrics
from openrlhf_pure.core.repetition import longest_repeat, repetition_score


def brute_longest_repeat(s):
    return max((k for k in range(1, len(s)) for i in range(len(s) - k + 1) if s[i : i + k] in s[i + 1 :]), default=0)


def test_longest_repeat_on_hand_cases():
    assert longest_repeat("banana") == 3  # "ana", overlapping occurrences count
    assert longest_repeat("abcd") == 0
    assert longest_repeat("aaaa") == 3
    assert longest_repeat([5, 6, 7, 5, 6, 7, 1]) == 3


@given(st.text(alphabet="ab c", max_size=40))
def test_longest_repeat_matches_brute_force(text):
    assert longest_repeat(text) == brute_longest_repeat(text)


def test_a_paragraph_said_twice_scores_about_half_and_normal_text_low():
    paragraph = "We add the two numbers and then multiply the sum by three to get the result. "
    assert 0.45 < repetition_score(paragraph * 2) < 0.55
    assert repetition_score("First, 12 + 30 = 42.\n\nThen 42 * 3 = 126.\n\nThe answer is \\boxed{126}.") < 0.2


def test_reflection_phrases_are_counted_lower_cased():
    assert reflection_hits("Wait, that is wrong. Let's verify: however, ... wait, no.") == 4
    assert reflection_hits("The answer is 3.") == 0


def test_pass_at_n_and_avg_at_n_ignore_problems_without_ground_truth():
    """Groups of 2: [1, 0] [0, 0] [nan, nan] -> pass@n 1/2, avg@n 1/4."""
    correct = torch.tensor([1.0, 0, 0, 0, math.nan, math.nan])
    out = group_accuracy(correct, torch.tensor([0, 0, 1, 1, 2, 2]))
    assert out == {"accuracy/pass@n": 0.5, "accuracy/avg@n": 0.25}


def batch_metrics(**overrides):
    args = {
        "responses": ["a.\n\nb \\boxed{1}", "Thank you.", "x.\n\ny.\n\nz \\boxed{2}", ""],
        "lengths": torch.tensor([10, 3, 12, 0]),
        "truncated": torch.tensor([False, False, True, False]),
        "num_steps": torch.tensor([2, 1, 3, 0]),
        "group": torch.tensor([0, 0, 1, 1]),
        "correct": torch.tensor([1.0, 0.0, 0.0, 0.0]),
        "process_reward": torch.tensor([0.8, 0.9, -0.2, 0.1]),
    }
    args.update(overrides)
    return rollout_metrics(**args)


def test_rollout_metrics_on_a_small_batch():
    m = batch_metrics()
    assert m["length/mean"] == 6.25 and m["length/max"] == 12 and m["length/clip_ratio"] == 0.25
    assert m["length/correct"] == 10 and m["length/incorrect"] == 5
    assert m["steps/zero_ratio"] == 0.25 and m["steps/one_ratio"] == 0.25 and m["steps/max"] == 3
    assert m["accuracy/pass@n"] == 0.5 and m["reward/vr"] == 0.25
    assert m["agreement/prm_vr"] == 0.5  # right: (0.8, correct), (-0.2, wrong); wrong: 0.9 and 0.1 on wrong answers
    assert abs(m["reward/process"] - 0.4) < 1e-6


def test_metric_families_without_data_are_left_out():
    m = batch_metrics(correct=torch.full((4,), math.nan), process_reward=None)
    assert not any(k.startswith(("accuracy/", "reward/", "agreement/")) for k in m)
