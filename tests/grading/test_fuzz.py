"""Fuzz: 2,000 deterministic adversarial responses (fuzz_corpus.py) through the isolated pool.

Every item must come back graded, none may crash its worker, and each must be settled by the
cheap rules and the pre-checks well within the per-item limit: in under 1 s of work, with no
timeout or memory kill needed.
"""

from __future__ import annotations

import time

from fuzz_corpus import fuzz_cases

from openrlhf_pure.core.grading import Reason

SETTLED = {Reason.CORRECT, Reason.WRONG, Reason.NO_ANSWER, Reason.NO_GOLD, Reason.PARSE_ERROR, Reason.REJECTED}


def test_two_thousand_adversarial_responses_are_settled_quickly(grader):
    cases = fuzz_cases(2000, seed=20261127)
    assert sum(len(response) > 2**19 for response, _ in cases) >= 8
    start = time.monotonic()
    results = grader.grade_batch([r for r, _ in cases], [g for _, g in cases])
    wall = time.monotonic() - start
    assert len(results) == len(cases)
    unsettled = [(k, r) for k, r in enumerate(results) if r.reason not in SETTLED]
    assert unsettled == []
    slow = [(k, r.elapsed_s, cases[k][0][:80]) for k, r in enumerate(results) if r.elapsed_s >= 1.0]
    assert slow == []
    assert all((r.correct is None) == (g is None) for r, (_, g) in zip(results, cases))
    assert wall < 60
