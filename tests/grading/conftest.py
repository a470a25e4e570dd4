"""Fixtures for the grader tests: one shared worker pool and the five benchmarks' gold answers."""

from __future__ import annotations

import pytest
from grading_data import load_golds

from openrlhf_pure.core.grading import Grader


@pytest.fixture(scope="session")
def golds() -> list[tuple[str, int, str]]:
    return load_golds()


@pytest.fixture(scope="session")
def grader():
    """A two-worker pool with default limits, shared by the tests that need no special settings."""
    with Grader(workers=2, timeout_s=5.0) as shared:
        yield shared
