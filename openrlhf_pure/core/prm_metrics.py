"""PRM evaluation metrics: ProcessBench F1 and Best-of-N selection (PURE.md section 3, issue 4).

Step scores come on one of three scales (``SCORE_SCALES``), and every threshold is explicit:

- ``signed``: PURE's r = p(correct) - p(incorrect) in [-1, 1]; natural threshold 0.
- ``prob``: p(correct) in [0, 1]; natural threshold 0.5.
- ``logit``: the raw logit difference l_correct - l_incorrect; natural threshold 0.
The scales agree: p(correct) = (r + 1) / 2 = sigmoid(logit difference), so each natural
threshold is the point where p(correct) = 0.5.

ProcessBench (Zheng et al., 2024). A case is a solution's step scores and ``label``, the index
of its first wrong step or -1. The predicted first error is the first step scoring strictly
below the threshold, -1 if none (a score exactly at the threshold counts as correct; Qwen's
TRL evaluation script takes an argmax over the two logits, which calls an exact tie wrong: a
difference on a measure-zero set). Per subset: ``error_acc`` = share of erroneous cases
(label != -1) whose prediction equals the label, ``correct_acc`` = share of correct cases
(label == -1) predicted -1, both x 100; F1 = 2 a b / (a + b) (0 when both are 0; NaN when a
subset lacks one kind of case). The benchmark figure is the unweighted mean F1 over subsets.
A threshold sweep reports the mean F1 at each threshold and the best (ties: lowest threshold).

Best-of-N. Each candidate's step scores are aggregated (registry ``AGGREGATIONS``):
``min`` (the worst step, PURE's min-form view), ``softmin`` (sum_k softmax(-r/T)_k r_k, the
total of PURE Eq. 5's transformed rewards; -> min as T -> 0, -> mean as T -> inf), ``last``,
``mean``, and ``product`` of p(correct) (scores mapped to [0, 1] by the scale: (r + 1) / 2
for signed, identity for prob, sigmoid for logit; computed in float64). The candidate with the
highest aggregate is picked (ties: the first, i.e. sampling order, never the correct one), and
accuracy x 100 is the share of problems whose pick is correct; correctness comes from the
project's grader, passed in as ``correct``. A candidate with 0 steps aggregates to -inf under
every aggregation: an empty product (1) or an empty min (+inf) would rank an empty response
best, which is exactly PURE's "zero steps" reward hack; it is picked only if all are empty.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch

from openrlhf_pure.core.checks import check_finite
from openrlhf_pure.core.credit import softmin_weights
from openrlhf_pure.core.registry import Registry

# ---------------------------------------------------------------------------------------------
# Score scales


@dataclass(frozen=True)
class ScoreScale:
    """A step-score scale: its range, its natural threshold and its map to p(correct)."""

    name: str
    low: float
    high: float
    natural_threshold: float
    to_prob: Callable[[torch.Tensor], torch.Tensor]


SCORE_SCALES = {
    "signed": ScoreScale("signed", -1.0, 1.0, 0.0, lambda r: (r + 1) / 2),
    "prob": ScoreScale("prob", 0.0, 1.0, 0.5, lambda r: r),
    "logit": ScoreScale("logit", -math.inf, math.inf, 0.0, torch.sigmoid),
}


def score_scale(name: str) -> ScoreScale:
    """The :class:`ScoreScale` called ``name``; an unknown name lists the known ones."""
    if name not in SCORE_SCALES:
        raise ValueError(f"unknown score scale {name!r}; known: {', '.join(SCORE_SCALES)}")
    return SCORE_SCALES[name]


def threshold_grid(scale: str, points: int = 41) -> list[float]:
    """``points`` evenly spaced thresholds over a bounded scale's range, ends included.

    >>> threshold_grid("signed", 5)
    [-1.0, -0.5, 0.0, 0.5, 1.0]
    """
    s = score_scale(scale)
    if not math.isfinite(s.low) or not math.isfinite(s.high):
        raise ValueError(f"score scale {scale!r} is unbounded: give the thresholds explicitly")
    if points < 2:
        raise ValueError(f"a threshold grid needs at least 2 points, got {points}")
    return [round(s.low + (s.high - s.low) * i / (points - 1), 12) for i in range(points)]


def _pad(scores: Sequence[Sequence[float]], name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Ragged scores -> (N, S) float64 (padding 0) and (N, S) bool mask; non-finite scores raise."""
    width = max((len(s) for s in scores), default=0) or 1  # one all-padding column when no case has steps
    padded = torch.zeros(len(scores), width, dtype=torch.float64)  # (N, S)
    mask = torch.zeros(len(scores), width, dtype=torch.bool)  # (N, S)
    for i, row in enumerate(scores):
        padded[i, : len(row)] = torch.as_tensor(list(row), dtype=torch.float64)
        mask[i, : len(row)] = True
    check_finite(name, padded, mask)
    return padded, mask


def harmonic_f1(a: float, b: float) -> float:
    """2 a b / (a + b); 0 when a + b == 0; NaN if either is NaN.

    >>> harmonic_f1(50.0, 100.0)
    66.66666666666667
    """
    if math.isnan(a) or math.isnan(b):
        return math.nan
    return 0.0 if a + b == 0 else 2 * a * b / (a + b)


# ---------------------------------------------------------------------------------------------
# ProcessBench


def _first_below(padded: torch.Tensor, mask: torch.Tensor, threshold: float) -> torch.Tensor:
    below = (padded < threshold) & mask  # (N, S)
    first = below.to(torch.int8).argmax(dim=1)  # index of the first True (0 if none)
    return torch.where(below.any(dim=1), first, torch.full_like(first, -1))  # (N,)


def predict_first_errors(scores: Sequence[Sequence[float]], *, threshold: float) -> list[int]:
    """For each case, the index of the first step scoring below ``threshold``, or -1 if none.

    >>> predict_first_errors([[0.9, -0.2, 0.5], [0.3, 0.1]], threshold=0.0)
    [1, -1]
    """
    padded, mask = _pad(scores, "step scores")
    return _first_below(padded, mask, threshold).tolist()


@dataclass(frozen=True)
class SubsetResult:
    """ProcessBench figures of one subset (accuracies and F1 in percent)."""

    error_acc: float
    correct_acc: float
    f1: float
    n_error: int
    n_correct: int


def _check_labels(labels: Sequence[int], lengths: Sequence[int]) -> torch.Tensor:
    if len(labels) != len(lengths):
        raise ValueError(f"{len(labels)} labels for {len(lengths)} cases of step scores")
    for i, (label, n) in enumerate(zip(labels, lengths)):
        if not -1 <= label < n:
            raise ValueError(f"case {i}: label {label} is outside [-1, {n - 1}] for {n} step scores")
    return torch.as_tensor(list(labels), dtype=torch.long)  # (N,)


def _subset_result(predictions: torch.Tensor, labels: torch.Tensor) -> SubsetResult:
    erroneous = labels != -1
    n_error, n_correct = int(erroneous.sum()), int((~erroneous).sum())
    hits = predictions == labels
    error_acc = 100 * hits[erroneous].double().mean().item() if n_error else math.nan
    correct_acc = 100 * hits[~erroneous].double().mean().item() if n_correct else math.nan
    return SubsetResult(error_acc, correct_acc, harmonic_f1(error_acc, correct_acc), n_error, n_correct)


def processbench_subset(scores: Sequence[Sequence[float]], labels: Sequence[int], *, threshold: float) -> SubsetResult:
    """Accuracy on erroneous cases, on correct cases, and their F1, for one subset.

    Args:
        scores: per case, one score per step (ragged).
        labels: per case, the index of the first wrong step, -1 if none.
        threshold: a step scoring strictly below it is predicted wrong (0 for ``signed`` scores,
            0.5 for ``prob``).
    """
    padded, mask = _pad(scores, "step scores")
    label_t = _check_labels(labels, [len(s) for s in scores])
    return _subset_result(_first_below(padded, mask, threshold), label_t)


@dataclass(frozen=True)
class ProcessBenchResult:
    """Per-subset results and their unweighted mean F1 (the benchmark's headline figure)."""

    threshold: float
    subsets: dict[str, SubsetResult]
    average_f1: float


def processbench_report(
    cases: Mapping[str, tuple[Sequence[Sequence[float]], Sequence[int]]], *, threshold: float
) -> ProcessBenchResult:
    """:func:`processbench_subset` for each named subset ``{name: (scores, labels)}``, and the mean F1."""
    results = {name: processbench_subset(s, lab, threshold=threshold) for name, (s, lab) in cases.items()}
    if not results:
        raise ValueError("no ProcessBench subsets given")
    average = sum(r.f1 for r in results.values()) / len(results)
    return ProcessBenchResult(threshold, results, average)


@dataclass(frozen=True)
class ThresholdSweep:
    """Mean F1 over subsets at each threshold (and per subset), and the best threshold."""

    thresholds: tuple[float, ...]
    average_f1: tuple[float, ...]
    subset_f1: dict[str, tuple[float, ...]]
    best_threshold: float
    best_average_f1: float


def threshold_sweep(
    cases: Mapping[str, tuple[Sequence[Sequence[float]], Sequence[int]]], thresholds: Sequence[float]
) -> ThresholdSweep:
    """ProcessBench mean F1 at every threshold (sorted ascending); the best wins, ties to the lowest.

    When the F1 is undefined at every threshold (a subset lacks erroneous or correct cases) the
    best threshold and F1 are NaN.

    Tuning the threshold on the benchmark itself overstates the score: report the sweep next to
    the natural threshold's figure, not instead of it.
    """
    grid = tuple(sorted(float(t) for t in thresholds))
    if not grid or not cases:
        raise ValueError("a threshold sweep needs at least one threshold and one subset")
    prepared = {}
    for name, (scores, labels) in cases.items():
        padded, mask = _pad(scores, f"step scores of subset {name!r}")
        prepared[name] = (padded, mask, _check_labels(labels, [len(s) for s in scores]))
    subset_f1 = {
        name: tuple(_subset_result(_first_below(p, m, t), lab).f1 for t in grid)
        for name, (p, m, lab) in prepared.items()
    }
    average = tuple(sum(f[i] for f in subset_f1.values()) / len(subset_f1) for i in range(len(grid)))
    finite = [i for i, f in enumerate(average) if not math.isnan(f)]
    if not finite:  # some subset lacks erroneous or correct cases: F1 is undefined everywhere
        return ThresholdSweep(grid, average, subset_f1, math.nan, math.nan)
    best = max(finite, key=lambda i: (average[i], -i))
    return ThresholdSweep(grid, average, subset_f1, grid[best], average[best])


# ---------------------------------------------------------------------------------------------
# Best-of-N

AGGREGATIONS: Registry = Registry("step-score aggregation")


@dataclass(frozen=True)
class BestOfNConfig:
    """How candidates are ranked.

    Args:
        aggregation: a name in ``AGGREGATIONS``: "min" (default), "softmin", "last", "mean", "product".
        temperature: T of "softmin" (PURE's default 0.1).
        scale: the scores' scale ("signed", "prob", "logit"), used by "product".
    """

    aggregation: str = "min"
    temperature: float = 0.1
    scale: str = "signed"

    def __post_init__(self):
        AGGREGATIONS.get(self.aggregation)
        score_scale(self.scale)
        if not self.temperature > 0:
            raise ValueError(f"softmin temperature must be > 0, got {self.temperature}")


@AGGREGATIONS.register("min")
def aggregate_min(scores: torch.Tensor, mask: torch.Tensor, config: BestOfNConfig) -> torch.Tensor:
    """The worst step's score. (N, S) -> (N,)."""
    return torch.where(mask, scores, math.inf).min(dim=1).values


@AGGREGATIONS.register("softmin")
def aggregate_softmin(scores: torch.Tensor, mask: torch.Tensor, config: BestOfNConfig) -> torch.Tensor:
    """sum_k softmax(-r/T)_k r_k over real steps (PURE Eq. 5's total). (N, S) -> (N,)."""
    weights = softmin_weights(scores, mask, config.temperature)  # (N, S), 0 on padding
    return (weights * torch.where(mask, scores, 0.0)).sum(dim=1)


@AGGREGATIONS.register("last")
def aggregate_last(scores: torch.Tensor, mask: torch.Tensor, config: BestOfNConfig) -> torch.Tensor:
    """The last step's score (steps are left-aligned). (N, S) -> (N,)."""
    last = (mask.sum(dim=1) - 1).clamp_min(0)  # (N,)
    return scores.gather(1, last[:, None]).squeeze(1)


@AGGREGATIONS.register("mean")
def aggregate_mean(scores: torch.Tensor, mask: torch.Tensor, config: BestOfNConfig) -> torch.Tensor:
    """The mean step score. (N, S) -> (N,)."""
    return torch.where(mask, scores, 0.0).sum(dim=1) / mask.sum(dim=1).clamp_min(1)


@AGGREGATIONS.register("product")
def aggregate_product(scores: torch.Tensor, mask: torch.Tensor, config: BestOfNConfig) -> torch.Tensor:
    """The product of p(correct) over steps, p from the config's scale. (N, S) -> (N,)."""
    probs = score_scale(config.scale).to_prob(scores)
    outside = mask & ((probs < -1e-6) | (probs > 1 + 1e-6))
    if bool(outside.any()):
        value = scores[outside][0].item()
        raise ValueError(f"score {value} is outside the {config.scale!r} scale; choose the scale of the scores")
    return torch.where(mask, probs.clamp(0.0, 1.0), 1.0).prod(dim=1)


def aggregate_step_scores(scores: Sequence[Sequence[float]], config: BestOfNConfig | None = None) -> torch.Tensor:
    """One value per candidate from its step scores; 0 steps give -inf. Ragged -> (N,) float64.

    >>> aggregate_step_scores([[0.5, -0.2, 0.9], []], BestOfNConfig("min")).tolist()
    [-0.2, -inf]
    """
    config = config or BestOfNConfig()
    padded, mask = _pad(scores, "step scores")
    values = AGGREGATIONS.get(config.aggregation)(padded, mask, config).to(torch.float64)
    return torch.where(mask.any(dim=1), values, -math.inf)  # (N,)


@dataclass(frozen=True)
class BestOfNResult:
    """Best-of-N figures (percent) and the index of the candidate picked for each problem.

    ``oracle_accuracy`` is pass@N (some candidate correct); ``mean_accuracy`` is the expected
    accuracy of a uniformly random pick. A ranking is useful when accuracy beats mean_accuracy.
    """

    accuracy: float
    oracle_accuracy: float
    mean_accuracy: float
    chosen: tuple[int, ...]
    problems: int
    n: int


def best_of_n(
    scores: Sequence[Sequence[Sequence[float]]],
    correct: Sequence[Sequence[bool]],
    config: BestOfNConfig | None = None,
    n: int | None = None,
) -> BestOfNResult:
    """Pick the best-scoring of each problem's candidates and report accuracy.

    Args:
        scores: ``scores[p][c]`` is the list of step scores of candidate c of problem p.
        correct: ``correct[p][c]`` says whether the grader accepts candidate c of problem p.
        config: aggregation, softmin temperature and score scale.
        n: use only the first ``n`` candidates of each problem (None: all); every problem must
            have at least ``n`` (the same number when None).
    """
    config = config or BestOfNConfig()
    if len(scores) != len(correct) or not scores:
        raise ValueError(f"need the same non-zero number of problems: {len(scores)} scored, {len(correct)} graded")
    counts = {len(c) for c in correct}
    width = n if n is not None else min(counts)
    if width < 1 or (n is None and len(counts) > 1) or min(counts) < width:
        raise ValueError(f"each problem needs {n or 'the same number of'} candidates (>= 1); got {sorted(counts)}")
    chosen, hits, oracle, mean = [], 0, 0, 0.0
    for p, (candidates, verdicts) in enumerate(zip(scores, correct)):
        if len(candidates) != len(verdicts):
            raise ValueError(f"problem {p}: {len(candidates)} scored candidates but {len(verdicts)} verdicts")
        verdicts = [bool(v) for v in verdicts[:width]]
        pick = int(aggregate_step_scores(candidates[:width], config).argmax())  # first maximum wins ties
        chosen.append(pick)
        hits += verdicts[pick]
        oracle += any(verdicts)
        mean += sum(verdicts) / width
    problems = len(scores)
    return BestOfNResult(
        100 * hits / problems, 100 * oracle / problems, 100 * mean / problems, tuple(chosen), problems, width
    )
