"""Isolated, batched grading: :class:`Grader`, a pool of worker processes with per-item limits.

- Each item runs in a worker process (:mod:`worker`) under a wall-clock limit (``timeout_s``)
  and a resident-memory limit (``memory_mb``); a worker that overruns is killed and replaced,
  and the item is graded wrong with reason ``timeout`` or ``memory``. How batches are cut,
  dispatched and recovered is :mod:`dispatcher`'s job.
- The API is batched: :meth:`Grader.grade_batch` (blocking), :meth:`Grader.agrade_batch`
  (asyncio), :meth:`Grader.submit` (a ``concurrent.futures.Future``). It works the same from
  the main thread, other threads, asyncio and Ray actors of every kind, since workers are plain
  subprocesses started by the grader's own thread (no ``multiprocessing`` start method, nothing
  re-imports ``__main__``). Batches from several callers share the workers: a hanging item
  ties up one worker, not other callers.
- After ``os.fork`` the child gets a fresh pool (the parent's workers are left alone).
- :func:`default_grader` is a process-wide grader created on first use.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
import weakref

from openrlhf_pure.core.grading.dispatcher import Batch, Dispatcher, GraderError
from openrlhf_pure.core.grading.grade import gold_text
from openrlhf_pure.core.grading.result import GradeResult, GradingConfig

__all__ = ["Grader", "GraderError", "default_grader"]


class Grader:
    """Grades (response, gold) pairs in isolated worker processes.

    Args:
        workers: number of worker processes (default: CPU count, at most 4).
        timeout_s: wall-clock limit per item, in seconds.
        memory_mb: resident-memory limit per worker, in MiB.
        config: how answers are compared (:class:`result.GradingConfig`).
        chunk_size: items sent to a worker at once (default: chosen per batch, at most 32).
        start_timeout_s: how long a worker may take to start.
        memory_poll_s: how often busy workers' memory is sampled.

    Usable as a context manager; :meth:`close` stops the workers. Thread-safe.

    >>> with Grader(workers=1) as grader:  # doctest: +SKIP
    ...     grader.grade_batch(["... $\\\\boxed{27}$"], ["27.0"])[0].correct
    True
    """

    def __init__(
        self,
        workers: int | None = None,
        timeout_s: float = 5.0,
        memory_mb: int = 1024,
        config: GradingConfig | None = None,
        chunk_size: int | None = None,
        start_timeout_s: float = 60.0,
        memory_poll_s: float = 0.05,
    ):
        if timeout_s <= 0 or memory_mb <= 0:
            raise ValueError("timeout_s and memory_mb must be positive")
        self.workers = workers or max(1, min(4, os.cpu_count() or 1))
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self.config = config or GradingConfig()
        self.chunk_size = chunk_size
        self.start_timeout_s = start_timeout_s
        self.memory_poll_s = memory_poll_s
        self._lock = threading.Lock()
        self._pool: Dispatcher | None = None
        self._closed = False
        self._finalizer: weakref.finalize | None = None

    def submit(self, responses: list[str], golds: list) -> concurrent.futures.Future:
        """Queue a batch; the future's result is a list of :class:`GradeResult`, in input order."""
        responses, golds = list(responses), list(golds)
        if len(responses) != len(golds):
            raise ValueError(f"{len(responses)} responses but {len(golds)} golds")
        if not all(isinstance(r, str) for r in responses):
            raise TypeError("responses must be strings")
        golds = [_gold_text(k, gold) for k, gold in enumerate(golds)]
        future: concurrent.futures.Future = concurrent.futures.Future()
        if not responses:
            future.set_result([])
            return future
        self._current_pool().submit(Batch(future, [None] * len(responses), len(responses)), responses, golds)
        return future

    def grade_batch(self, responses: list[str], golds: list, timeout: float | None = None) -> list[GradeResult]:
        """Grade ``responses[i]`` against ``golds[i]`` (a gold may be None); blocks until done."""
        return self.submit(responses, golds).result(timeout)

    async def agrade_batch(self, responses: list[str], golds: list) -> list[GradeResult]:
        """:meth:`grade_batch` for asyncio: awaits without blocking the event loop."""
        return await asyncio.wrap_future(self.submit(responses, golds))

    def grade(self, response: str, gold) -> GradeResult:
        """Grade one pair."""
        return self.grade_batch([response], [gold])[0]

    def start(self, timeout: float | None = None) -> None:
        """Start the workers now (they otherwise start on first use) and wait until all are ready.

        Raises:
            TimeoutError: when they are not all ready within ``timeout`` seconds.
        """
        if not self._current_pool().all_ready.wait(timeout):
            raise TimeoutError(f"grading workers not ready within {timeout} s")

    def close(self) -> None:
        """Stop the workers; later calls to :meth:`submit` raise :class:`GraderError`."""
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None and pool.pid == os.getpid():
            pool.close()

    def stats(self) -> dict[str, int]:
        """Counters of the current pool: items graded, workers started, kills by reason."""
        pool = self._pool
        return dict(pool.stats) if pool is not None else {}

    def __enter__(self) -> Grader:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _current_pool(self) -> Dispatcher:
        with self._lock:
            if self._closed:
                raise GraderError("the grader is closed")
            if self._pool is None or self._pool.pid != os.getpid():
                self._pool = Dispatcher(
                    self.workers,
                    self.timeout_s,
                    self.memory_mb,
                    self.config,
                    self.chunk_size,
                    self.start_timeout_s,
                    self.memory_poll_s,
                )
                self._finalizer = weakref.finalize(self, self._pool.close)
            return self._pool


def _gold_text(index: int, gold) -> str | None:
    """:func:`grade.gold_text`, its error naming the gold's index in the batch."""
    try:
        return gold_text(gold)
    except (TypeError, ValueError) as error:
        raise type(error)(f"golds[{index}]: {error}") from None


_default_grader: Grader | None = None
_default_lock = threading.Lock()


def default_grader() -> Grader:
    """A process-wide :class:`Grader`, created on first use with default settings.

    ``PURE_GRADER_WORKERS`` and ``PURE_GRADER_TIMEOUT_S`` in the environment override the
    number of workers and the per-item time limit.
    """
    global _default_grader
    with _default_lock:
        if _default_grader is None or _default_grader._closed:
            workers = int(os.environ.get("PURE_GRADER_WORKERS", "0")) or None
            _default_grader = Grader(workers=workers, timeout_s=float(os.environ.get("PURE_GRADER_TIMEOUT_S", "5")))
        return _default_grader
