"""The pool inside Ray actors of every kind: sync, threaded (max_concurrency) and async.

Ray runs locally (2 CPUs, no dashboard), started once for this module and shut down after.
"""

from __future__ import annotations

import os

import pytest

ray = pytest.importorskip("ray")

RESPONSES = ["so \\boxed{27}", "\\boxed{025}", "no answer", "\\boxed{9^{9^{9}}}", "\\boxed{x}"]
GOLDS = ["27.0", "25", "1", "2", None]
EXPECTED = [(True, "correct"), (True, "correct"), (False, "no_answer"), (False, "rejected"), (None, "no_gold")]


@pytest.fixture(scope="module")
def local_ray():
    os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")  # silences a FutureWarning
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _actor_classes():
    """The actor classes, defined in a function so that Ray ships them by value (this test module
    is not importable in Ray's worker processes)."""
    from openrlhf_pure.core.grading import Grader

    class GradingActor:
        def __init__(self):
            self.grader = Grader(workers=1)

        def grade(self, responses, golds):
            return [(r.correct, r.reason.value) for r in self.grader.grade_batch(responses, golds)]

    class AsyncGradingActor:
        def __init__(self):
            self.grader = Grader(workers=1)

        async def grade(self, responses, golds):
            return [(r.correct, r.reason.value) for r in await self.grader.agrade_batch(responses, golds)]

    return GradingActor, AsyncGradingActor


def test_a_sync_actor_grades(local_ray):
    actor = ray.remote(num_cpus=0)(_actor_classes()[0]).remote()
    assert ray.get(actor.grade.remote(RESPONSES, GOLDS), timeout=120) == EXPECTED


def test_a_threaded_actor_grades_concurrent_calls(local_ray):
    actor = ray.remote(num_cpus=0, max_concurrency=4)(_actor_classes()[0]).remote()
    calls = [actor.grade.remote(RESPONSES, GOLDS) for _ in range(8)]
    assert ray.get(calls, timeout=120) == [EXPECTED] * 8


def test_an_async_actor_grades_concurrent_calls(local_ray):
    actor = ray.remote(num_cpus=0)(_actor_classes()[1]).remote()
    calls = [actor.grade.remote(RESPONSES, GOLDS) for _ in range(8)]
    assert ray.get(calls, timeout=120) == [EXPECTED] * 8
