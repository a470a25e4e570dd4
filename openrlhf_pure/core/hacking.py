"""Detectors for the reward hacking and collapse that PURE.md section 8 describes.

The three hacks are measured separately on every batch (:func:`hack_shares`):

- ``hacking/filler_steps`` (hack 1, "thinking, not solving"): the share of all steps that carry
  no number (a planning or filler sentence) or repeat an earlier step of the same response;
  sum-form credit pays for every extra step the PRM scores well.
- ``hacking/one_step`` (hack 2): the share of responses that are a single giant step with an
  answer, the effect of a step-level baseline.
- ``hacking/trivial`` (hack 3, "zero steps"): the share of responses with at most one step and
  no final answer ("Thank you.", an empty output), which a causal PRM cannot see are empty.

:func:`detect_hacking` then compares each monitored metric's last ``window`` steps with the
first ``window`` steps of the run (the oldest history it is given), and warns only on a change
beyond what chance makes likely. The rule, per metric, with W = ``window``:

    baseline m0 = mean of the first W values, recent m1 = mean of the last W values (the
    current batch included), both windows disjoint (no check before step 2W);
    se = sqrt(v0 / W + v1 / W), v = the variance of a window's per-step values, for a share
    at least the binomial p (1 - p) / B of one batch of B responses (p kept inside
    [1 / 2B, 1 - 1 / 2B]), so that a share that happens to be constant is not taken as exact;
    alarm when the change in the harmful direction exceeds both ``z`` * se (z = 4: a one-sided
    chance of 3e-5 per check, about 3% over a thousand checks, the run of a few metrics over a
    few hundred steps) and the metric's ``min_change`` (a change too small to matter, e.g.
    5 points of a share, is not reported however certain).

Kinds and their metrics: ``only_thinking`` (``hacking/filler_steps`` or ``steps/mean`` rises),
``one_step`` (``hacking/one_step`` rises), ``zero_steps`` (``hacking/trivial`` rises),
``collapse`` (``length/clip_ratio`` or ``repetition/high_ratio`` rises), ``agreement``
(``agreement/prm_vr``, the PRM agreeing with the verifier, falls). Each warning carries example
responses; the trainers print them, log them, and can stop the run on them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

_NUMBER = re.compile(r"\d")
# (kind, metric, +1 if a rise is harmful / -1 if a fall is, whether the metric is a share of the batch)
MONITORED = (
    ("only_thinking", "hacking/filler_steps", 1, True),
    ("only_thinking", "steps/mean", 1, False),
    ("one_step", "hacking/one_step", 1, True),
    ("zero_steps", "hacking/trivial", 1, True),
    ("collapse", "length/clip_ratio", 1, True),
    ("collapse", "repetition/high_ratio", 1, True),
    ("agreement", "agreement/prm_vr", -1, True),
)


def _default_min_change() -> dict[str, float]:
    return {
        "hacking/filler_steps": 0.1,
        "steps/mean": 0.5,
        "hacking/one_step": 0.1,
        "hacking/trivial": 0.1,
        "length/clip_ratio": 0.1,
        "repetition/high_ratio": 0.1,
        "agreement/prm_vr": 0.15,
    }


@dataclass(frozen=True)
class DetectorConfig:
    """Settings of the detectors (the rule is in the module docstring).

    Args:
        window: W, the steps averaged at the start of the run and at its end (no check before 2W steps).
        z: the standard errors a change must exceed.
        min_change: per metric, the least change that warns.
        separator: the step separator, for the filler-step share.
        examples: example responses attached to a warning.
    """

    window: int = 10
    z: float = 4.0
    min_change: dict = field(default_factory=_default_min_change)
    separator: str = "\n\n"
    examples: int = 2


@dataclass
class HackingWarning:
    """One detector firing: its kind, a one-line message and up to a few example responses."""

    kind: str
    message: str
    examples: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        shown = "".join(f"\n    example: {e[:200]!r}" for e in self.examples)
        return f"[{self.kind}] {self.message}{shown}"


def filler_steps(response: str, separator: str = "\n\n") -> tuple[int, int]:
    """(filler or repeated steps, all steps) of one response split on ``separator`` (empty parts dropped)."""
    steps = [s.strip() for s in response.split(separator) if s.strip()]
    seen, filler = set(), 0
    for step in steps:
        filler += step in seen or not _NUMBER.search(step)
        seen.add(step)
    return filler, len(steps)


def hack_shares(
    responses: Sequence[str], num_steps: torch.Tensor, has_answer: torch.Tensor, separator: str = "\n\n"
) -> dict[str, float]:
    """The three hacks' shares in one batch.

    Args:
        responses: B decoded responses.
        num_steps: (B,) steps per response (the trainer's step layout).
        has_answer: (B,) bool, a final answer could be extracted.
        separator: the step separator.
    Returns:
        {"hacking/filler_steps": filler or repeated steps / all steps (0 without steps),
         "hacking/one_step": share with one step and an answer,
         "hacking/trivial": share with at most one step and no answer}.
    """
    counts = [filler_steps(r, separator) for r in responses]
    total = sum(n for _, n in counts)
    batch = max(len(responses), 1)
    has_answer = has_answer.bool()
    return {
        "hacking/filler_steps": sum(f for f, _ in counts) / total if total else 0.0,
        "hacking/one_step": float(((num_steps == 1) & has_answer).sum()) / batch,
        "hacking/trivial": float(((num_steps <= 1) & ~has_answer).sum()) / batch,
    }


def _window_stats(values: list[float], share: bool, batch: int) -> tuple[float, float]:
    """(mean, variance of one step's value) of a window; a share's variance at least binomial."""
    mean = sum(values) / len(values)
    variance = sum((v - mean) ** 2 for v in values) / (len(values) - 1) if len(values) > 1 else 0.0
    if share:
        p = min(max(mean, 0.5 / batch), 1 - 0.5 / batch)
        variance = max(variance, p * (1 - p) / batch)
    return mean, variance


def significant_change(
    stream: Sequence[float], direction: int, share: bool, batch: int, config: DetectorConfig
) -> tuple[float, float, float] | None:
    """Whether a metric's last window moved from its first window beyond chance (module docstring rule).

    Args:
        stream: the metric's per-step values, oldest first (the current step last).
        direction: +1 when a rise is harmful, -1 when a fall is.
        share: the metric is a share of a batch of ``batch`` responses.
        batch: B, responses per step.
        config: window, z; ``min_change`` is applied by the caller.
    Returns:
        (baseline mean, recent mean, z * se) when there are 2W values and the harmful change
        exceeds z * se, else None.
    """
    w = config.window
    if w < 2 or len(stream) < 2 * w:
        return None
    (m0, v0), (m1, v1) = _window_stats(list(stream[:w]), share, batch), _window_stats(list(stream[-w:]), share, batch)
    bound = config.z * math.sqrt(v0 / w + v1 / w)
    return (m0, m1, bound) if direction * (m1 - m0) > bound else None


def _examples(responses: Sequence[str], chosen: Sequence[bool], count: int) -> list[str]:
    return [r for r, c in zip(responses, chosen) if c][:count]


def detect_hacking(
    metrics: dict,
    history: Sequence[dict],
    responses: Sequence[str],
    num_steps: torch.Tensor,
    has_answer: torch.Tensor,
    process_reward: torch.Tensor | None = None,
    config: DetectorConfig | None = None,
) -> list[HackingWarning]:
    """Run every detector on the run so far (the current batch last).

    Args:
        metrics: this batch's metrics (:func:`openrlhf_pure.core.metrics.rollout_metrics`, plus
            :func:`hack_shares`; the shares are computed here when absent).
        history: earlier batches' metrics, oldest first (the trainers store the shares there).
        responses: B decoded responses of this batch.
        num_steps: (B,) steps per response.
        has_answer: (B,) bool, a final answer could be extracted.
        process_reward: (B,) aggregated process reward, or None (PURE-VR); kept for the callers'
            signature (the process reward's effect shows in the metrics).
        config: the settings.
    Returns:
        the warnings (at most one per kind), possibly none.
    """
    config = config or DetectorConfig()
    current = {**hack_shares(responses, num_steps, has_answer, config.separator), **metrics}
    batch = max(len(responses), 1)
    filler = [filler_steps(r, config.separator)[0] > 0 for r in responses]
    one = ((num_steps == 1) & has_answer.bool()).tolist()
    trivial = ((num_steps <= 1) & ~has_answer.bool()).tolist()
    longest = [False] * len(responses)
    if responses:
        longest[max(range(len(responses)), key=lambda k: len(responses[k]))] = True
    chosen = {"only_thinking": filler, "one_step": one, "zero_steps": trivial, "collapse": longest,
              "agreement": [False] * len(responses)}  # fmt: skip
    warnings: dict[str, HackingWarning] = {}
    for kind, key, direction, share in MONITORED:
        if kind in warnings or key not in current:
            continue
        stream = [h[key] for h in history if key in h] + [current[key]]
        found = significant_change(stream, direction, share, batch, config)
        if found is None:
            continue
        m0, m1, bound = found
        least = config.min_change.get(key, 0.0)
        if abs(m1 - m0) <= least:
            continue
        w = config.window
        message = (f"{key} {m0:.3g} -> {m1:.3g} (first {w} vs last {w} steps; the change exceeds "
                   f"{config.z:g} standard errors = {bound:.3g} and {least:g})")  # fmt: skip
        warnings[kind] = HackingWarning(kind, message, _examples(responses, chosen[kind], config.examples))
    return list(warnings.values())
