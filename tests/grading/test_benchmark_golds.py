"""Gold self-consistency on all 1,517 answers of the five benchmarks (eval/data).

Each gold, wrapped as a model would write it and under simple equivalent rewrites, must be
graded correct against itself; against a different gold (the next row of the same benchmark
whose gold differs after normalisation) it must be graded wrong. Exceptions are listed below,
each with its justification; an exception that stops being one fails the test, so the lists
stay exact.
"""

from __future__ import annotations

import hashlib

from grading_data import BENCHMARKS, DATA, next_different_gold, rewrites, wrapped

# (benchmark, row, rewrite name) -> why the rewrite is not expected to grade correct.
REWRITE_EXCEPTIONS: dict[tuple[str, int, str], str] = {}

# (benchmark, row) -> why the gold and the next differing gold are expected to grade equal.
DIFFERENT_GOLD_EXCEPTIONS: dict[tuple[str, int], str] = {}


def test_benchmark_files_match_their_checksums():
    lines = (DATA / "checksums.sha256").read_text().split("\n")
    expected = dict(reversed(line.split()) for line in lines if line.strip())
    assert sorted(expected) == sorted(f"{b}/test.jsonl" for b in BENCHMARKS)
    for name, digest in expected.items():
        assert hashlib.sha256((DATA / name).read_bytes()).hexdigest() == digest, name


def test_there_are_1517_golds(golds):
    assert len(golds) == 1517
    assert all(isinstance(gold, str) and gold.strip() for _, _, gold in golds)


def test_every_gold_and_its_rewrites_grade_correct(golds, grader):
    cases = [(b, i, name, response, gold) for b, i, gold in golds for name, response in rewrites(gold).items()]
    results = grader.grade_batch([c[3] for c in cases], [c[4] for c in cases])
    failures = {(b, i, name): (gold, r) for (b, i, name, _, gold), r in zip(cases, results) if not r.correct}
    assert set(failures) == set(REWRITE_EXCEPTIONS), failures
    self_correct = sum(r.correct for (_, _, name, _, _), r in zip(cases, results) if name == "self")
    assert self_correct == 1517


def test_every_gold_grades_wrong_against_a_different_gold(golds, grader):
    others = [next_different_gold(golds, k) for k in range(len(golds))]
    results = grader.grade_batch([wrapped(other) for other in others], [gold for _, _, gold in golds])
    unexpected = {
        (b, i): (gold, other, r) for (b, i, gold), other, r in zip(golds, others, results) if r.correct is not False
    }
    assert set(unexpected) == set(DIFFERENT_GOLD_EXCEPTIONS), unexpected
