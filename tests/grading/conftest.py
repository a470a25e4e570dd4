"""Fixtures for the grader tests: one shared worker pool and the five benchmarks' gold answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from openrlhf_pure.core.grading import Grader
from openrlhf_pure.core.grading.extract import last_boxed

DATA = Path(__file__).resolve().parents[2] / "eval" / "data"
BENCHMARKS = ("math500", "minerva_math", "olympiadbench", "aime24", "amc23")


def gold_of(benchmark: str, row: dict) -> str:
    """The gold answer of one row, with the field mapping of eval/data/SOURCES.md."""
    if benchmark == "minerva_math":
        return last_boxed(row["solution"])
    if benchmark == "olympiadbench":
        return row["final_answer"][0]
    return str(row["answer"])  # math500, aime24 (str), amc23 (float)


def load_golds() -> list[tuple[str, int, str]]:
    """(benchmark, row index, gold) for every row of the five benchmarks, in file order."""
    golds = []
    for benchmark in BENCHMARKS:
        with open(DATA / benchmark / "test.jsonl", encoding="utf-8") as f:
            for index, line in enumerate(f):
                golds.append((benchmark, index, gold_of(benchmark, json.loads(line))))
    return golds


@pytest.fixture(scope="session")
def golds() -> list[tuple[str, int, str]]:
    return load_golds()


@pytest.fixture(scope="session")
def grader():
    """A two-worker pool with default limits, shared by the tests that need no special settings."""
    with Grader(workers=2, timeout_s=5.0) as shared:
        yield shared
