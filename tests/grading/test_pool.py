"""The isolated pool (openrlhf_pure.core.grading.pool): batching, limits, recovery and callers.

Slow inputs are genuine ones with the pre-checks switched off (GradingConfig(prechecks=False)):
math-verify then spends minutes on ``9^{9^{9^{9}}}`` and gigabytes on ``2^{2^{40}}``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
import time

import pytest

from openrlhf_pure.core.grading import Grader, GraderError, GradingConfig, Reason, pool
from openrlhf_pure.core.grading.pool import default_grader

HANGS = "\\boxed{9^{9^{9^{9}}}}"  # math-verify computes a 370-million-digit power, forever
EATS_MEMORY = "\\boxed{2^{2^{40}}}"  # grows by ~90 MB/s
NO_PRECHECKS = GradingConfig(prechecks=False)


def test_results_come_back_in_input_order(grader):
    answers = [str(k) for k in range(300)]
    results = grader.grade_batch([f"\\boxed{{{a}}}" for a in answers], list(reversed(answers)))
    assert [r.extracted for r in results] == answers
    assert [r.correct for r in results] == [a == b for a, b in zip(answers, reversed(answers))]


def test_an_empty_batch_gives_an_empty_list(grader):
    assert grader.grade_batch([], []) == []


def test_a_missing_gold_gives_no_grade(grader):
    result = grader.grade("\\boxed{4}", None)
    assert (result.correct, result.extracted, result.reason) == (None, "4", Reason.NO_GOLD)


def test_mismatched_lengths_are_refused(grader):
    with pytest.raises(ValueError):
        grader.grade_batch(["a", "b"], ["1"])


def test_non_string_responses_are_refused(grader):
    with pytest.raises(TypeError):
        grader.grade_batch([None], ["1"])


def test_golds_are_checked_before_anything_is_queued(grader):
    results = grader.grade_batch(["\\boxed{1" + "0" * 5000 + "}", "\\boxed{0.5}"], [10**5000, 0.5])
    assert [r.reason for r in results] == [Reason.CORRECT, Reason.CORRECT]
    for gold, error in ((b"1", TypeError), (["1"], TypeError), (float("nan"), ValueError)):
        with pytest.raises(error, match=r"golds\[1\]"):
            grader.grade_batch(["\\boxed{1}", "\\boxed{1}"], ["1", gold])


def test_unicode_digit_forms_are_graded_not_crashed(grader):
    answers = ["4²", "²", "x^{³}", "①+1", "٣"]
    results = grader.grade_batch([f"\\boxed{{{a}}}" for a in answers], ["16", "2", "x^{3}", "2", "3"])
    assert Reason.CRASH not in [r.reason for r in results]
    assert results[-1].correct is True  # an Arabic-Indic 3 is a decimal digit


def test_the_workers_bound_math_verify_without_being_killed():
    slow = "\\boxed{m l \\ddot{\\theta}(t)-m g \\sin \\theta(t)=f(t) \\cos \\theta(t)}"
    gold = "\\frac{d^{2} v_{o}}{d t^{2}}+\\frac{v_{o}}{L C}=\\frac{v_{i}}{L C}"
    with Grader(workers=1, timeout_s=30.0, config=GradingConfig(time_limit_s=0.3)) as grader:
        results = grader.grade_batch([slow, "\\boxed{2}"], [gold, "2"])
        assert [r.reason for r in results] == [Reason.TIMEOUT, Reason.CORRECT]
        assert "time_limit_s=0.3" in results[0].detail
        assert grader.stats()["workers_started"] == 1 and not grader.stats().get("killed_timeout")


@pytest.fixture(scope="module")
def limited():
    """Two warm workers without pre-checks, a 2 s limit per item and chunks of 4."""
    with Grader(workers=2, timeout_s=2.0, config=NO_PRECHECKS, chunk_size=4) as grader:
        grader.start(timeout=60)
        yield grader


def test_a_hanging_item_times_out_and_the_rest_of_its_chunk_is_graded(limited):
    before = limited.stats()
    start = time.monotonic()
    results = limited.grade_batch(["\\boxed{1}", HANGS, "\\boxed{3}", "\\boxed{4}"], ["1", "2", "3", "5"])
    assert time.monotonic() - start < 3.5  # the rest of the chunk goes on at once on the other worker
    assert [r.reason for r in results] == [Reason.CORRECT, Reason.TIMEOUT, Reason.CORRECT, Reason.WRONG]
    assert results[1].correct is False and results[1].extracted == "9^{9^{9^{9}}}"
    after = limited.stats()
    assert after["killed_timeout"] - before.get("killed_timeout", 0) == 1
    assert after["workers_started"] - before["workers_started"] == 1


def test_a_hanging_item_does_not_hold_up_another_callers_batch(limited):
    limited.start(timeout=60)  # a worker killed by an earlier test is replaced and ready
    slow = limited.submit([HANGS], ["1"])
    time.sleep(0.2)
    start = time.monotonic()
    assert limited.grade("\\boxed{7}", "7").correct is True
    assert time.monotonic() - start < 1.0
    assert slow.result(timeout=30)[0].reason == Reason.TIMEOUT


def test_a_worker_that_dies_is_replaced_and_its_item_is_a_crash(limited):
    limited.start(timeout=60)
    future = limited.submit([HANGS, "\\boxed{2}"], ["1", "2"])
    time.sleep(0.5)
    busy = [w for w in limited._pool.workers if w.state == "busy"]
    assert len(busy) == 1
    os.kill(busy[0].process.pid, signal.SIGKILL)
    results = future.result(timeout=30)
    assert [r.reason for r in results] == [Reason.CRASH, Reason.CORRECT]
    assert "exit code -9" in results[0].detail


def test_a_worker_that_passes_its_memory_limit_is_killed():
    with Grader(workers=1, timeout_s=30.0, memory_mb=120, config=NO_PRECHECKS) as grader:
        results = grader.grade_batch([EATS_MEMORY, "\\boxed{2}"], ["1", "2"])
        assert [r.reason for r in results] == [Reason.MEMORY, Reason.CORRECT]
        assert results[0].correct is False and "120 MiB" in results[0].detail


def test_batches_from_many_threads_are_all_graded(grader):
    outcomes: dict[int, list[bool]] = {}

    def call(k: int) -> None:
        results = grader.grade_batch([f"\\boxed{{{k}}}", "\\boxed{-1}"] * 20, [str(k), str(k)] * 20)
        outcomes[k] = [r.correct for r in results]

    threads = [threading.Thread(target=call, args=(k,)) for k in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert outcomes == {k: [True, False] * 20 for k in range(6)}


def test_asyncio_callers_await_without_blocking_the_loop(grader):
    async def main() -> list[list[bool]]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.001)

        tick_task = asyncio.create_task(ticker())
        batches = [grader.agrade_batch([f"\\boxed{{{k}}}"] * 50, [str(k)] * 50) for k in range(4)]
        results = await asyncio.gather(*batches)
        tick_task.cancel()
        assert ticks > 0
        return [[r.correct for r in batch] for batch in results]

    assert asyncio.run(main()) == [[True] * 50] * 4


def test_asyncio_to_thread_callers_work_too(grader):
    async def main():
        return await asyncio.to_thread(grader.grade_batch, ["\\boxed{1}"], ["1"])

    assert asyncio.run(main())[0].correct is True


def test_start_waits_until_every_worker_is_ready():
    with Grader(workers=2) as grader:
        grader.start(timeout=60)
        assert [w.state for w in grader._pool.workers] == ["idle", "idle"]


def test_a_closed_grader_refuses_work():
    grader = Grader(workers=1)
    assert grader.grade("\\boxed{1}", "1").correct is True
    grader.close()
    with pytest.raises(GraderError):
        grader.grade("\\boxed{1}", "1")


def test_workers_that_cannot_start_raise_a_grader_error(monkeypatch, tmp_path):
    broken = tmp_path / "python"
    broken.write_text("#!/bin/sh\necho 'no interpreter here' >&2\nexit 7\n")
    broken.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(broken))
    with Grader(workers=1) as grader, pytest.raises(GraderError, match="no interpreter here"):
        grader.grade_batch(["\\boxed{1}"], ["1"], timeout=30)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_gets_its_own_pool(grader):
    grader.grade("\\boxed{1}", "1")
    pid = os.fork()
    if pid == 0:  # the child: grade with a fresh pool, report through the exit code
        code = 0 if grader.grade("\\boxed{2}", "2").correct else 1
        grader.close()
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert grader.grade("\\boxed{3}", "3").correct is True


def test_the_default_grader_is_shared_and_reads_the_environment(monkeypatch):
    monkeypatch.setattr(pool, "_default_grader", None)
    monkeypatch.setenv("PURE_GRADER_WORKERS", "1")
    monkeypatch.setenv("PURE_GRADER_TIMEOUT_S", "2.5")
    grader = default_grader()
    assert (grader.workers, grader.timeout_s) == (1, 2.5)
    assert default_grader() is grader
    grader.close()
    assert default_grader() is not grader  # a closed default grader is replaced
    pool._default_grader.close()
