"""The verifiable reward (PURE's VR, PURE.md section 1): 1.0 when the response's final answer
equals the gold answer, 0.0 when it does not (wrong, no answer, rejected, timeout, memory,
parse error, crash), and None when there is no gold answer (the problem gives no VR).

Grading goes through the isolated pool (:class:`pool.Grader`); pass one, or the process-wide
:func:`pool.default_grader` is used.
"""

from __future__ import annotations

from openrlhf_pure.core.grading.pool import Grader, default_grader
from openrlhf_pure.core.grading.result import GradeResult


def reward_from_result(result: GradeResult) -> float | None:
    """1.0 / 0.0 from a grade, None when the grade has no gold (``correct`` is None)."""
    if result.correct is None:
        return None
    return 1.0 if result.correct else 0.0


def verifiable_rewards(responses: list[str], golds: list, grader: Grader | None = None) -> list[float | None]:
    """Rewards of a batch, in input order (a gold may be None)."""
    results = (grader or default_grader()).grade_batch(responses, golds)
    return [reward_from_result(result) for result in results]


def verifiable_reward(response: str, gold, grader: Grader | None = None) -> float | None:
    """Reward of one response: 1.0 / 0.0, or None when ``gold`` is None or blank.

    >>> verifiable_reward("... so $\\\\boxed{27}$.", 27.0)  # doctest: +SKIP
    1.0
    """
    return verifiable_rewards([response], [gold], grader)[0]
