"""Rollout metrics that tell whether PURE training is going well (PURE.md section 8).

One function, :func:`rollout_metrics`, turns a batch of rollouts into a flat dict of floats,
named with a slash prefix per family (the trainers add PPO diagnostics and timings):

- ``reward/vr`` (mean verifiable reward over responses that have one), ``reward/process``
  (mean aggregated process reward, i.e. the sum of r* for softmin);
- ``returns/*``, ``advantages/*`` (mean, min, max over tokens where defined);
- ``accuracy/pass@n`` (share of prompt groups with a correct response) and ``accuracy/avg@n``;
- ``length/*``: mean and max response length in tokens, mean for correct and incorrect
  responses, and ``length/clip_ratio`` (share of responses cut at the maximum length);
- ``steps/*``: mean, min, max steps per response, ``steps/zero_ratio`` and ``steps/one_ratio``
  (the "zero steps" and "one giant step" hacks);
- ``repetition/score`` (mean :func:`repetition_score`) and ``repetition/high_ratio`` (> 0.2);
- ``reflection/ratio`` (share of responses with a reflection phrase) and ``reflection/hits``
  (mean hits per response); the phrases are the authors' list, matched lower-cased;
- ``agreement/prm_vr``: share of responses with a verifiable reward where the sign of the
  aggregated process reward agrees with the verifier (> 0 and correct, or <= 0 and wrong).
Families with no data in the batch (e.g. no ground truth visible) are left out.
"""

from __future__ import annotations

import re

import torch

from openrlhf_pure.core.repetition import HIGH_REPETITION, repetition_score

REFLECTION_PHRASES = (
    "wait,",
    "recheck",
    "retry",
    "try again",
    "alternatively,",
    "however,",
    "rethink",
    "let's check",
    "let's verify",
)
_REFLECTION = re.compile("|".join(re.escape(p) for p in REFLECTION_PHRASES))


def reflection_hits(text: str) -> int:
    """Number of reflection-phrase occurrences in ``text`` (lower-cased)."""
    return len(_REFLECTION.findall(text.lower()))


def _stats(prefix: str, values: torch.Tensor) -> dict[str, float]:
    if values.numel() == 0:
        return {}
    values = values.float()
    return {
        f"{prefix}/mean": values.mean().item(),
        f"{prefix}/min": values.min().item(),
        f"{prefix}/max": values.max().item(),
    }


def group_accuracy(correct: torch.Tensor, group: torch.Tensor) -> dict[str, float]:
    """pass@n and avg@n over prompt groups.

    Args:
        correct: (B,) float, 1 / 0, NaN where the problem has no ground truth (ignored).
        group: (B,) long group index.
    Returns:
        {"accuracy/pass@n", "accuracy/avg@n"}, or {} if no response has a verdict.
    """
    present = ~torch.isnan(correct)
    if not bool(present.any()):
        return {}
    hits = torch.zeros(int(group.max()) + 1).index_add_(0, group[present], correct[present].float())
    seen = torch.zeros_like(hits).index_add_(0, group[present], torch.ones(int(present.sum())))
    return {
        "accuracy/pass@n": (hits[seen > 0] > 0).float().mean().item(),
        "accuracy/avg@n": correct[present].float().mean().item(),
    }


def rollout_metrics(
    responses: list[str],
    lengths: torch.Tensor,
    truncated: torch.Tensor,
    num_steps: torch.Tensor,
    group: torch.Tensor,
    correct: torch.Tensor | None = None,
    process_reward: torch.Tensor | None = None,
    returns: torch.Tensor | None = None,
    advantages: torch.Tensor | None = None,
    token_mask: torch.Tensor | None = None,
) -> dict[str, float]:
    """Metrics of one batch of rollouts.

    Args:
        responses: B decoded responses.
        lengths: (B,) response lengths in tokens.
        truncated: (B,) bool, cut at the maximum generation length (no EOS).
        num_steps: (B,) steps per response.
        group: (B,) long prompt-group index.
        correct: (B,) 1 / 0 / NaN (no ground truth) from the verifier, or None.
        process_reward: (B,) aggregated process reward per response, or None.
        returns, advantages: (B, T) per-token values, or None.
        token_mask: (B, T) bool, the tokens where ``returns``/``advantages`` are defined.
    Returns:
        a flat dict of floats (see the module docstring for the names).
    """
    out: dict[str, float] = {}
    lengths = lengths.float()
    out["length/mean"], out["length/max"] = lengths.mean().item(), lengths.max().item()
    out["length/clip_ratio"] = truncated.float().mean().item()
    steps = num_steps.float()
    out.update(_stats("steps", steps))
    out["steps/zero_ratio"] = (steps == 0).float().mean().item()
    out["steps/one_ratio"] = (steps == 1).float().mean().item()

    scores = torch.tensor([repetition_score(r) for r in responses])
    out["repetition/score"] = scores.mean().item()
    out["repetition/high_ratio"] = (scores > HIGH_REPETITION).float().mean().item()
    hits = torch.tensor([reflection_hits(r) for r in responses], dtype=torch.float)
    out["reflection/ratio"], out["reflection/hits"] = (hits > 0).float().mean().item(), hits.mean().item()

    if correct is not None:
        present = ~torch.isnan(correct)
        if bool(present.any()):
            out["reward/vr"] = correct[present].float().mean().item()
            out.update(group_accuracy(correct, group))
            right, wrong = present & (correct > 0.5), present & (correct <= 0.5)
            if bool(right.any()):
                out["length/correct"] = lengths[right].mean().item()
            if bool(wrong.any()):
                out["length/incorrect"] = lengths[wrong].mean().item()
            if process_reward is not None:
                agree = (process_reward[present] > 0) == (correct[present] > 0.5)
                out["agreement/prm_vr"] = agree.float().mean().item()
    if process_reward is not None:
        out["reward/process"] = process_reward.float().mean().item()
    mask = token_mask.bool() if token_mask is not None else None
    for name, values in (("returns", returns), ("advantages", advantages)):
        if values is not None:
            out.update(_stats(name, values[mask] if mask is not None else values.flatten()))
    return out
