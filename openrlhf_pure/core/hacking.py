"""Detectors for the reward hacking and collapse that PURE.md section 8 describes.

Each detector reads the current batch (and the metric history for trends) and returns a
:class:`HackingWarning` with example responses; the trainers print them, log them, and can stop
the run on them. The kinds:

- ``zero_steps`` (hack 3): responses with at most one step and no final answer ("Thank you.",
  "Happy Birthday.", empty output) that the PRM scores high: a causal PRM cannot see that
  nothing follows. The usual end of PRM-only runs.
- ``one_step`` (hack 2): most responses are a single giant step (no separators), the effect of
  a step-level baseline.
- ``only_thinking`` (hack 1): many steps, no final answer, high process reward: planning steps
  repeated because each scores well (amplified by sum-form credit).
- ``collapse``: the high-repetition ratio, the clip ratio or the mean length far above their
  recent average (or above an absolute ceiling): long, repetitive, truncated answers.
- ``agreement``: the PRM and the verifier disagree on most responses that have a ground truth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch


@dataclass(frozen=True)
class DetectorConfig:
    """Thresholds of the detectors.

    Args:
        reward_threshold: process reward above which a response "scores high".
        suspicious_ratio: share of a batch that must be suspicious to warn (zero_steps, only_thinking).
        one_step_ratio: share of single-step responses that warns (one_step).
        thinking_steps: at least this many steps for "only thinking".
        rise_factor: a metric this many times its recent average warns (collapse).
        rise_floor: per metric, the least value a rise must reach to warn (ratios of a few % are noise).
        repetition_ceiling, clip_ceiling: absolute ceilings for the high-repetition and clip ratios.
        agreement_floor: PRM-verifier agreement below this warns.
        window: metric history entries averaged for trends (at least 3 needed).
        examples: example responses attached to a warning.
    """

    reward_threshold: float = 0.5
    suspicious_ratio: float = 0.1
    one_step_ratio: float = 0.5
    thinking_steps: int = 4
    rise_factor: float = 2.0
    repetition_ceiling: float = 0.3
    clip_ceiling: float = 0.3
    agreement_floor: float = 0.5
    rise_floor: dict = field(default_factory=lambda: {"repetition/high_ratio": 0.1, "length/clip_ratio": 0.1})
    window: int = 10
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


def _examples(responses: Sequence[str], chosen: torch.Tensor, count: int) -> list[str]:
    return [responses[i] for i in chosen.nonzero().flatten().tolist()[:count]]


def _recent_mean(history: Sequence[dict], key: str, window: int) -> float | None:
    values = [h[key] for h in history[-window:] if key in h]
    return sum(values) / len(values) if len(values) >= 3 else None


def detect_hacking(
    metrics: dict,
    history: Sequence[dict],
    responses: Sequence[str],
    num_steps: torch.Tensor,
    has_answer: torch.Tensor,
    process_reward: torch.Tensor | None = None,
    config: DetectorConfig | None = None,
) -> list[HackingWarning]:
    """Run every detector on one batch.

    Args:
        metrics: this batch's :func:`openrlhf_pure.core.metrics.rollout_metrics`.
        history: earlier batches' metrics, oldest first.
        responses: B decoded responses.
        num_steps: (B,) steps per response.
        has_answer: (B,) bool, a final answer could be extracted.
        process_reward: (B,) aggregated process reward, or None (PURE-VR).
        config: thresholds.
    Returns:
        the warnings, possibly none.
    """
    config = config or DetectorConfig()
    warnings: list[HackingWarning] = []
    batch = max(len(responses), 1)
    if process_reward is not None:
        high = process_reward > config.reward_threshold
        for kind, suspicious, what in (
            ("zero_steps", high & (num_steps <= 1) & ~has_answer, "at most one step, no answer"),
            ("only_thinking", high & (num_steps >= config.thinking_steps) & ~has_answer, "many steps, no answer"),
        ):
            share = int(suspicious.sum()) / batch
            if share >= config.suspicious_ratio:
                message = f"{share:.0%} of responses have {what} and process reward > {config.reward_threshold}"
                warnings.append(HackingWarning(kind, message, _examples(responses, suspicious, config.examples)))
    one_step = metrics.get("steps/one_ratio", 0.0)
    if one_step >= config.one_step_ratio:
        message = f"{one_step:.0%} of responses are a single step (mean {metrics.get('steps/mean', 0):.1f} steps)"
        warnings.append(HackingWarning("one_step", message, _examples(responses, num_steps == 1, config.examples)))

    for key, ceiling in (
        ("repetition/high_ratio", config.repetition_ceiling),
        ("length/clip_ratio", config.clip_ceiling),
        ("length/mean", None),
    ):
        if key not in metrics:
            continue
        value, recent = metrics[key], _recent_mean(history, key, config.window)
        floor = config.rise_floor.get(key, 0.0)
        risen = recent is not None and recent > 0 and value >= max(config.rise_factor * recent, floor)
        if risen or (ceiling is not None and value >= ceiling):
            trend = f" (recent mean {recent:.3g})" if recent is not None else ""
            longest = torch.tensor([len(r) for r in responses]).argmax()
            chosen = torch.zeros(len(responses), dtype=torch.bool)
            chosen[longest] = True
            warnings.append(HackingWarning("collapse", f"{key} = {value:.3g}{trend}", _examples(responses, chosen, 1)))
    agreement = metrics.get("agreement/prm_vr")
    if agreement is not None and agreement < config.agreement_floor:
        message = f"PRM and verifier agree on only {agreement:.0%} of responses with a ground truth"
        warnings.append(HackingWarning("agreement", message))
    return warnings
