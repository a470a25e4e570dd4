"""Grade one response against one gold answer, in the calling process (no isolation).

Steps: a gold that is None or blank gives ``no_gold`` (``correct`` None, the answer is still
extracted); a response without a final answer (:mod:`extract`) gives ``no_answer``;
otherwise :func:`equivalence.answers_equal` decides.

Golds (:func:`gold_text`): a string is used as it is; a number is written out exactly: an
``int`` (any ``numbers.Integral`` but ``bool``) in decimal digits, with no limit below
:data:`MAX_GOLD_DIGITS` digits (Python's ``str`` refuses ints over 4,300 digits); a
``Fraction`` as ``p/q``; a ``Decimal`` as ``str`` gives it (``27.0``, ``1E+3``); a ``float``
(AMC's 27.0) as its shortest round-trip ``repr`` (``27.0``, ``1e-05``), which the grader reads
as a number written approximately (compared with ``rel_tol``). A NaN or infinite number is a
``ValueError``; any other type (``bytes``, ``list``, ``dict``, ``bool``, ``complex``) a
``TypeError`` naming the type.

In process, math-verify's step is bounded by ``config.time_limit_s`` (:mod:`deadline`: the
reason is then ``timeout``) and the pre-checks reject the inputs known to be expensive, but
neither can stop a single long C call nor cap memory: only the pool (:mod:`pool`) guarantees
those bounds. Use this function directly for trusted input and in tests; use
:class:`pool.Grader` for model output.
"""

from __future__ import annotations

import math
import numbers
import time
from decimal import Decimal

from openrlhf_pure.core.grading.equivalence import answers_equal
from openrlhf_pure.core.grading.extract import extract_answer
from openrlhf_pure.core.grading.result import GradeResult, GradingConfig, Reason

DEFAULT_CONFIG = GradingConfig()
MAX_GOLD_DIGITS = 100_000
_LOG2_10 = math.log2(10)


def gold_text(gold: object) -> str | None:
    """The gold answer as text (module docstring): None for None or a blank string.

    >>> gold_text(27.0), gold_text(-7), len(gold_text(10**5000))
    ('27.0', '-7', 5001)

    Raises:
        TypeError: for a type other than str, a number or None (naming the type).
        ValueError: for a NaN, an infinity, or an int of more than :data:`MAX_GOLD_DIGITS` digits.
    """
    if gold is None:
        return None
    if isinstance(gold, str):
        text = gold
    elif isinstance(gold, bool) or not isinstance(gold, (numbers.Rational, Decimal, float)):
        raise TypeError(
            "a gold answer must be a str, an int, a float, a Fraction, a Decimal or None, "
            f"got {type(gold).__module__}.{type(gold).__qualname__}".replace("builtins.", "")
        )
    elif isinstance(gold, Decimal):
        if not gold.is_finite():
            raise ValueError(f"a gold answer must be a finite number, got Decimal {gold}")
        text = str(gold)
    elif isinstance(gold, float):
        if not math.isfinite(gold):
            raise ValueError(f"a gold answer must be a finite number, got {gold}")
        text = float.__repr__(float(gold))
    elif isinstance(gold, numbers.Integral):
        text = _integer_text(int(gold))
    else:
        text = f"{_integer_text(int(gold.numerator))}/{_integer_text(int(gold.denominator))}"
    return text if text.strip() else None


def _integer_text(n: int) -> str:
    """``n`` in decimal digits, past Python's 4,300-digit ``str`` limit (up to :data:`MAX_GOLD_DIGITS` digits)."""
    if abs(n).bit_length() > MAX_GOLD_DIGITS * _LOG2_10:
        raise ValueError(f"an int gold answer may have at most {MAX_GOLD_DIGITS} digits")
    return str(n) if abs(n).bit_length() < 14_000 else str(Decimal(n))


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
