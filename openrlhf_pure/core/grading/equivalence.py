"""Is a predicted answer equal to the gold answer?

Both answers are cleaned first (:func:`normalize.clean_answer`). Then, in order, the first
rule that decides wins:

E1 equal comparison keys (:func:`normalize.comparison_key`) -> equal.
E2 both plain numbers (:mod:`exact_numbers`) -> exact or tolerant numeric equality decides.
E2b both small closed forms (:mod:`closed_form`; skipped when either
   holds ``%``) -> unequal when their values differ somewhere, equal when they hold no
   variable and their values agree.
E3 lists without brackets (``1,3,5``, OlympiadBench's multi-answer golds) and sets ``\\{..\\}``
   are compared as unordered collections: equal when each gold item is matched by a distinct
   predicted item under E1-E3; when every item on both sides is a plain number they are
   compared as sets of numbers, which also decides "not equal".
E3b a list of several items against a single item that is neither bracketed nor spread by
   ``\\pm``, ``\\mp`` or ``\\cup`` -> unequal (``1,3`` against ``x+1``).
E4 tuples and intervals with the same bracket pair (``(1,2)``, ``(3,4]``) and the same length
   are compared item by item under E1-E3: equal when every item is equal, not equal when
   some pair of plain numbers differs.
E4b one side is a number (a plain number or a closed form without variables) and the other
   has another shape: a letter (a variable or a word), a relation (``= < > \\le \\ge \\neq
   \\in``), a set operation (``\\cup \\cap``), ``\\pm``, or several items -> unequal.
E5 anything E1-E4 left open goes to math-verify, after the pre-checks (:mod:`precheck`) on
   both answers: a hostile answer is graded wrong with reason ``rejected``.
E6 math-verify: each answer is wrapped as ``\\boxed{...}``, parsed with ``LatexExtractionConfig``
   only, and compared with ``verify(gold, prediction)``; its signal-based timeouts are switched
   off (``parsing_timeout=None``, ``timeout_seconds=None``: they fail outside the main thread)
   and replaced by :func:`deadline.time_limit` with ``config.time_limit_s``: past it the reason
   is ``timeout``. When either side does not parse into a SymPy object the reason is
   ``parse_error``.

Safety: nothing here evaluates text. math-verify's ``ExprExtractionConfig`` is never used: it
hands text to SymPy's ``parse_expr``, which runs Python ``eval``. With ``LatexExtractionConfig``
only, text goes through latex2sympy2's ANTLR grammar; the single place where a string reaches
SymPy's string parser there is ``sympy.Number(token)`` on number tokens that the lexer has
already restricted to digits, separators and an exponent.
"""

from __future__ import annotations

import re
from collections import Counter

from openrlhf_pure.core.grading.closed_form import compare_closed_forms, evaluate
from openrlhf_pure.core.grading.deadline import DeadlineExceeded, time_limit
from openrlhf_pure.core.grading.exact_numbers import Number, numbers_equal, parse_number
from openrlhf_pure.core.grading.normalize import clean_answer, comparison_key, outer_brackets, split_top_level
from openrlhf_pure.core.grading.precheck import hostile_reason
from openrlhf_pure.core.grading.result import GradingConfig, Reason

MAX_CHEAP_CHARS = 2_000  # longer answers skip E3-E4 (pre-check P1 then rejects them)
MAX_CHEAP_ITEMS = 200
_SHAPE_MARKS = re.compile(r"[=<>]|\\(?:le|ge|leq|geq|neq|ne|in|cup|cap|pm|mp|leqslant|geqslant)(?![a-zA-Z])")
_SPREAD = re.compile(r"\\(?:pm|mp|cup)(?![a-zA-Z])")
_COMMAND = re.compile(r"\\[a-zA-Z]+")
_LETTER = re.compile(r"[A-Za-z]")


_DEFAULT_CONFIG = GradingConfig()


def answers_equal(prediction: str, gold: str, config: GradingConfig = _DEFAULT_CONFIG) -> tuple[bool, Reason, str]:
    """Compare an extracted answer with a gold answer under rules E1-E6.

    Returns:
        ``(equal, reason, detail)`` with reason ``correct``, ``wrong``, ``rejected``,
        ``parse_error`` or ``timeout``, and detail naming the pre-check rule for ``rejected``.
    """
    pred, ref = clean_answer(prediction), clean_answer(gold)
    cheap = cheap_equal(pred, ref, config.rel_tol)
    if cheap is not None:
        return cheap, Reason.CORRECT if cheap else Reason.WRONG, ""
    if config.prechecks:
        for side, text in (("answer", pred), ("gold", ref)):
            rule = hostile_reason(text, config.limits)
            if rule is not None:
                return False, Reason.REJECTED, f"{side}: {rule}"
    if not config.math_verify:
        return False, Reason.WRONG, "undecided without math-verify"
    warm_up()  # imports and first-use set-up are not the item's time
    try:
        with time_limit(config.time_limit_s):
            verdict = math_verify_equal(pred, ref)
    except DeadlineExceeded:
        return False, Reason.TIMEOUT, f"math-verify ran past time_limit_s={config.time_limit_s:g} s"
    if verdict is None:
        return False, Reason.PARSE_ERROR, "math-verify could not parse the answer or the gold"
    return verdict, Reason.CORRECT if verdict else Reason.WRONG, ""


def cheap_equal(pred: str, gold: str, rel_tol: float = 1e-6) -> bool | None:
    """Rules E1-E4b on two cleaned answers: True / False when they decide, None otherwise."""
    pred_key, gold_key = comparison_key(pred), comparison_key(gold)
    if pred_key == gold_key:
        return bool(gold_key)
    pred_number, gold_number = _number(pred), _number(gold)
    if pred_number is not None and gold_number is not None:
        return numbers_equal(pred_number, gold_number, rel_tol)
    if len(pred) > MAX_CHEAP_CHARS or len(gold) > MAX_CHEAP_CHARS:
        return None
    with_percent = "%" in pred or "%" in gold
    if not with_percent:
        verdict = compare_closed_forms(pred_key, gold_key)
        if verdict is not None:
            return verdict
    verdict = _collections_equal(pred, gold, pred_key, gold_key, rel_tol)
    if verdict is not None or with_percent:
        return verdict
    if (_is_number(pred, pred_key) and _other_shape(gold, gold_key)) or (
        _is_number(gold, gold_key) and _other_shape(pred, pred_key)
    ):
        return False
    return None


def _collections_equal(pred: str, gold: str, pred_key: str, gold_key: str, rel_tol: float) -> bool | None:
    """Rules E3 and E4."""
    pred_items, gold_items = split_top_level(pred), split_top_level(gold)
    if len(pred_items) > 1 or len(gold_items) > 1:
        verdict = _unordered_equal(pred_items, gold_items, rel_tol)
        single = pred if len(pred_items) == 1 else gold if len(gold_items) == 1 else None
        if verdict is None and single is not None and outer_brackets(comparison_key(single)) is None:
            return None if _SPREAD.search(single) else False
        return verdict
    pred_brackets, gold_brackets = outer_brackets(pred_key), outer_brackets(gold_key)
    if pred_brackets is None or gold_brackets is None:
        return None
    if pred_brackets[0] == "\\{" and gold_brackets[0] == "\\{":
        return _unordered_equal(split_top_level(pred_brackets[1]), split_top_level(gold_brackets[1]), rel_tol)
    if (pred_brackets[0], pred_brackets[2]) != (gold_brackets[0], gold_brackets[2]):
        return None
    return _ordered_equal(split_top_level(pred_brackets[1]), split_top_level(gold_brackets[1]), rel_tol)


def _is_number(cleaned: str, key: str) -> bool:
    """Whether an answer is a plain number or a closed form without variables (rule E4b)."""
    if _number(cleaned) is not None:
        return True
    value = evaluate(key)
    return value is not None and not value[1]


def _other_shape(cleaned: str, key: str) -> bool:
    """Whether an answer has a shape no number has (rule E4b)."""
    if _SHAPE_MARKS.search(key) or _LETTER.search(_COMMAND.sub("", key)):
        return True
    if len(split_top_level(cleaned)) > 1:
        return True
    brackets = outer_brackets(key)
    return brackets is not None and len(split_top_level(brackets[1])) > 1


def _number(cleaned: str) -> Number | None:
    """The plain number an answer states (after K1-K4, keeping ``%``), or None."""
    return parse_number(comparison_key(cleaned, keep_percent=True))


def _unordered_equal(pred_items: list[str], gold_items: list[str], rel_tol: float) -> bool | None:
    """Rule E3 on two lists of items."""
    if max(len(pred_items), len(gold_items)) > MAX_CHEAP_ITEMS:
        return None
    pred_items = [item.strip() for item in pred_items]
    gold_items = [item.strip() for item in gold_items]
    pred_numbers = [_number(item) for item in pred_items]
    gold_numbers = [_number(item) for item in gold_items]
    if all(n is not None for n in pred_numbers + gold_numbers):
        covered = all(any(numbers_equal(p, g, rel_tol) for p in pred_numbers) for g in gold_numbers)
        return covered and all(any(numbers_equal(p, g, rel_tol) for g in gold_numbers) for p in pred_numbers)
    if len(pred_items) != len(gold_items):
        return None
    unmatched_pred = Counter(comparison_key(item) for item in pred_items)
    unmatched_gold = []
    for item in gold_items:
        key = comparison_key(item)
        if unmatched_pred[key] > 0:
            unmatched_pred[key] -= 1
        else:
            unmatched_gold.append(item)
    remaining = [item for item in pred_items if unmatched_pred[comparison_key(item)] > 0]
    for gold_item in unmatched_gold:
        match = next((p for p in remaining if cheap_equal(p, gold_item, rel_tol)), None)
        if match is None:
            return None
        remaining.remove(match)
    return True


def _ordered_equal(pred_items: list[str], gold_items: list[str], rel_tol: float) -> bool | None:
    """Rule E4 on the items of two tuples or intervals with the same brackets."""
    if len(pred_items) != len(gold_items) or len(gold_items) > MAX_CHEAP_ITEMS:
        return None
    verdicts = [cheap_equal(p.strip(), g.strip(), rel_tol) for p, g in zip(pred_items, gold_items)]
    if all(verdicts):
        return True
    for p, g, verdict in zip(pred_items, gold_items, verdicts):
        if verdict is False and _number(p.strip()) is not None and _number(g.strip()) is not None:
            return False
    return None


_MATH_VERIFY_WARNING_SILENCED = False
_WARM = False


def warm_up() -> None:
    """Import math-verify and SymPy's simplification once (about 2 s), outside any item's time bound."""
    global _WARM
    if not _WARM:
        math_verify_equal("\\frac{1}{2}", "x^{2}")
        math_verify_equal("\\frac{x^{2}-1}{x-1}", "x+1")
        _WARM = True


def math_verify_equal(pred: str, gold: str) -> bool | None:
    """Rule E6: math-verify's verdict on two cleaned answers; None when either does not parse."""
    global _MATH_VERIFY_WARNING_SILENCED
    import math_verify.grader
    import math_verify.parser
    from math_verify import LatexExtractionConfig, parse, verify

    if not _MATH_VERIFY_WARNING_SILENCED:
        # Timeouts are the pool's job; math-verify would otherwise warn once that its own are off.
        math_verify.parser.TIMEOUT_WARNING_SHOWN = True
        math_verify.grader.TIMEOUT_WARNING_SHOWN = True
        _MATH_VERIFY_WARNING_SILENCED = True
    extraction = [LatexExtractionConfig()]
    try:
        gold_parsed = parse(
            "\\boxed{" + gold.replace("%", "") + "}", extraction_config=extraction, parsing_timeout=None
        )
        pred_parsed = parse(
            "\\boxed{" + pred.replace("%", "") + "}", extraction_config=extraction, parsing_timeout=None
        )
        if not _has_sympy(gold_parsed) or not _has_sympy(pred_parsed):
            return None
        return bool(verify(gold_parsed, pred_parsed, timeout_seconds=None))
    except Exception:  # math-verify swallows most errors itself; anything left is a parse failure
        return None


def _has_sympy(parsed: list) -> bool:
    """Whether math-verify's parse produced at least one non-string object."""
    return any(not isinstance(item, str) for item in parsed)
