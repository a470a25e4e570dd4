"""Gold self-consistency on all 1,517 answers of the five benchmarks (eval/data).

Each gold, wrapped as a model would write it and under simple equivalent rewrites, must be
graded correct against itself; against a different gold (the next row of the same benchmark
whose gold differs after normalisation) it must be graded wrong. Exceptions are listed below,
each with its justification; an exception that stops being one fails the test, so the lists
stay exact.
"""

from __future__ import annotations

import hashlib
import re

from conftest import BENCHMARKS, DATA

from openrlhf_pure.core.grading.normalize import clean_answer, comparison_key

# (benchmark, row, rewrite name) -> why the rewrite is not expected to grade correct.
REWRITE_EXCEPTIONS: dict[tuple[str, int, str], str] = {}

# (benchmark, row) -> why the gold and the next differing gold are expected to grade equal.
DIFFERENT_GOLD_EXCEPTIONS: dict[tuple[str, int], str] = {}


def wrapped(answer: str) -> str:
    """A response that ends the way a model trained on the PURE prompt ends."""
    return f"Adding these up gives the result, so the answer is $\\boxed{{{answer}}}$."


def rewrites(gold: str) -> dict[str, str]:
    """Rewrites of a gold answer that mean the same thing (name -> model response)."""
    out = {"self": wrapped(gold)}
    bare = gold.strip().strip("$").strip()
    if "\\frac" in gold:
        out["dfrac"] = wrapped(gold.replace("\\frac", "\\dfrac"))
    if "," in gold or "=" in gold:
        # spaces around commas, except thousands separators ("10,\\!080", "58,500")
        out["spaces"] = wrapped(re.sub(r",(?!\\!)(?!\d{3}(?!\d))", " , ", gold).replace("=", " = "))
    if "(" in gold and "\\left" not in gold:
        out["left_right"] = wrapped(gold.replace("(", "\\left(").replace(")", "\\right)"))
    if re.fullmatch(r"-?\d+", bare):
        out["decimal"] = wrapped(bare + ".0")
    if re.fullmatch(r"-?\d+\.0+", bare):
        out["integer"] = wrapped(bare.split(".")[0])
    if re.fullmatch(r"0\d+", bare):
        out["no_leading_zero"] = wrapped(bare.lstrip("0"))
    if "$" not in gold and "\n" not in gold:
        out["phrase"] = f"Therefore, the final answer is ${gold}$. I hope it is correct."
    return out


def next_different_gold(golds: list[tuple[str, int, str]], position: int) -> str:
    """The gold of the next row of the same benchmark whose comparison key differs (cyclically)."""
    benchmark, _, gold = golds[position]
    rows = [g for b, _, g in golds if b == benchmark]
    start = golds[position][1]
    key = comparison_key(clean_answer(gold))
    for step in range(1, len(rows)):
        other = rows[(start + step) % len(rows)]
        if comparison_key(clean_answer(other)) != key:
            return other
    raise AssertionError(f"{benchmark} has a single distinct gold")


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
