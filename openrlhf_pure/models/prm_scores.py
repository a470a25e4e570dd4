"""Step scores of a PRM and the transforms that put them on one scale (issue 11).

A PRM head gives, at each step's label token, either two logits (incorrect, correct) or one
value. A *score function* (registry ``SCORE_FUNCTIONS``) turns that into the family's native
step score, on one of the scales of ``core.prm_metrics`` ("signed" [-1, 1], "prob" [0, 1],
"logit" unbounded):

| score | head output | formula | scale | used by |
|---|---|---|---|---|
| ``p_diff`` | 2 logits | p(correct) - p(incorrect) | signed | PURE-PRM, TRL token classifiers |
| ``p_correct`` | 2 logits | p(correct) = softmax(logits)[1] | prob | Qwen2.5-Math-PRM, Math-Shepherd, RLHFlow |
| ``logit_diff`` | 2 logits | l(correct) - l(incorrect) | logit | (diagnostics) |
| ``sigmoid`` | 1 value | sigmoid(v) | prob | Skywork-o1-Open-PRM |

A *score transform* (registry ``SCORE_TRANSFORMS``) maps the native score to the scale that
credit assignment sees, so that min-form credit, the softmin temperature (T = 0.1 was set on
PURE's [-1, 1] scale) and the baselines mean the same thing for every family. Every transform
is affine, score' = slope * score + offset, and the run's metrics record the slope and offset:

- ``2p-1``: a probability p in [0, 1] -> 2p - 1 in [-1, 1]. For a 2-logit head this is exactly
  PURE's p(correct) - p(incorrect), so PURE-PRM and Qwen's PRM then give identical numbers
  for identical logits;
- ``none``: the native score;
- ``auto`` (the default everywhere): ``2p-1`` for a score on the prob scale, else ``none``
  (``logit_diff`` stays unbounded: it is only ever chosen by hand).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from openrlhf_pure.core.registry import Registry

CORRECT, INCORRECT = 1, 0


@dataclass(frozen=True)
class StepScore:
    """A score function: head outputs at the label tokens -> one score per step.

    Args:
        name: registry name.
        width: head outputs it reads per token (2 logits or 1 value).
        scale: "signed", "prob" or "logit" (``core.prm_metrics.SCORE_SCALES``).
        fn: (N, width) -> (N,) float32.
    """

    name: str
    width: int
    scale: str
    fn: Callable[[torch.Tensor], torch.Tensor]

    def __call__(self, outputs: torch.Tensor) -> torch.Tensor:
        """(N, width) head outputs -> (N,) float32 step scores."""
        if outputs.shape[-1] != self.width:
            raise ValueError(f"score {self.name!r} reads {self.width} head outputs per step, got {outputs.shape[-1]}")
        return self.fn(outputs.float())


SCORE_FUNCTIONS: Registry = Registry("step score")


def _score(name: str, width: int, scale: str):
    def add(fn):
        SCORE_FUNCTIONS.register(name)(StepScore(name, width, scale, fn))
        return fn

    return add


@_score("p_diff", width=2, scale="signed")
def p_diff(logits: torch.Tensor) -> torch.Tensor:
    """(..., 2) logits -> (...) p(correct) - p(incorrect), in [-1, 1]."""
    probs = logits.float().softmax(dim=-1)
    return probs[..., CORRECT] - probs[..., INCORRECT]


@_score("p_correct", width=2, scale="prob")
def p_correct(logits: torch.Tensor) -> torch.Tensor:
    """(..., 2) logits -> (...) p(correct), in [0, 1]."""
    return logits.float().softmax(dim=-1)[..., CORRECT]


@_score("logit_diff", width=2, scale="logit")
def logit_diff(logits: torch.Tensor) -> torch.Tensor:
    """(..., 2) logits -> (...) logit(correct) - logit(incorrect)."""
    logits = logits.float()
    return logits[..., CORRECT] - logits[..., INCORRECT]


@_score("sigmoid", width=1, scale="prob")
def sigmoid_value(values: torch.Tensor) -> torch.Tensor:
    """(..., 1) values -> (...) sigmoid(value), in [0, 1]."""
    return torch.sigmoid(values.float()[..., 0])


@dataclass(frozen=True)
class ScoreTransform:
    """An affine map of step scores: ``slope * score + offset``.

    Args:
        name: registry name.
        slope, offset: the map.
        scales: {input scale: output scale} it accepts (empty: every scale, unchanged).
    """

    name: str
    slope: float
    offset: float
    scales: dict

    def output_scale(self, scale: str) -> str:
        """The scale of transformed scores; ValueError if this transform does not take ``scale``."""
        if not self.scales:
            return scale
        if scale not in self.scales:
            raise ValueError(
                f"score transform {self.name!r} maps scores on the {'/'.join(self.scales)} scale, not {scale}"
            )
        return self.scales[scale]

    def __call__(self, scores: torch.Tensor) -> torch.Tensor:
        """(N,) -> (N,) transformed scores."""
        if self.slope == 1.0 and self.offset == 0.0:
            return scores
        return scores * self.slope + self.offset

    def metrics(self) -> dict[str, float]:
        """The map as run metrics (``prm/score_transform_slope``, ``prm/score_transform_offset``)."""
        return {"prm/score_transform_slope": self.slope, "prm/score_transform_offset": self.offset}


SCORE_TRANSFORMS: Registry = Registry("score transform")
SCORE_TRANSFORMS.register("none")(ScoreTransform("none", 1.0, 0.0, {}))
SCORE_TRANSFORMS.register("2p-1")(ScoreTransform("2p-1", 2.0, -1.0, {"prob": "signed"}))
TRANSFORM_NAMES = ("auto", *SCORE_TRANSFORMS.names())


def resolve_transform(name: str, score: str) -> ScoreTransform:
    """The transform called ``name`` for scores of the score function ``score`` ("auto" resolved).

    >>> resolve_transform("auto", "p_correct").name, resolve_transform("auto", "p_diff").name
    ('2p-1', 'none')
    """
    scale = SCORE_FUNCTIONS.get(score).scale
    if name == "auto":
        name = "2p-1" if scale == "prob" else "none"
    transform = SCORE_TRANSFORMS.get(name)
    try:
        transform.output_scale(scale)
    except ValueError as err:
        raise ValueError(f"{err} (score {score!r}); choose one of {', '.join(TRANSFORM_NAMES)}") from None
    return transform
