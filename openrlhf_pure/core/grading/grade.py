"""Grade one response against one gold answer, in the calling process (no isolation).

Steps: a gold that is None or blank gives ``no_gold`` (``correct`` None, the answer is still
extracted); a response without a final answer (:mod:`extract`) gives ``no_answer``;
otherwise :func:`equivalence.answers_equal` decides. Golds that are numbers (AMC's 27.0) are
read through ``str``.

This function has no time or memory limit of its own: with pre-checks on it settles hostile
answers quickly, but only the pool (:mod:`pool`) guarantees a bound. Use it directly for
trusted input and in tests; use :class:`pool.Grader` for model output.
"""

from __future__ import annotations

import time

from openrlhf_pure.core.grading.equivalence import answers_equal
from openrlhf_pure.core.grading.extract import extract_answer
from openrlhf_pure.core.grading.result import GradeResult, GradingConfig, Reason

DEFAULT_CONFIG = GradingConfig()


def gold_text(gold: object) -> str | None:
    """The gold answer as text: None for None or a blank string, ``str(gold)`` otherwise."""
    if gold is None:
        return None
    text = gold if isinstance(gold, str) else str(gold)
    return text if text.strip() else None


def grade_response(response: str, gold: object, config: GradingConfig = DEFAULT_CONFIG) -> GradeResult:
    """Grade ``response`` against ``gold`` in this process (module steps).

    >>> grade_response("... so the answer is $\\\\boxed{025}$.", "25").correct
    True
    """
    start = time.perf_counter()
    gold = gold_text(gold)
    extracted = extract_answer(response)
    if gold is None:
        return GradeResult(None, extracted, Reason.NO_GOLD, elapsed_s=time.perf_counter() - start)
    if extracted is None:
        return GradeResult(False, None, Reason.NO_ANSWER, elapsed_s=time.perf_counter() - start)
    equal, reason, detail = answers_equal(extracted, gold, config)
    return GradeResult(equal, extracted, reason, detail, time.perf_counter() - start)
