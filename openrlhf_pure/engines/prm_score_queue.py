"""The PRM server's scoring queue: one thread owns the model and serves every request in turn.

Requests (:class:`ScoreJob`, one per ``/score`` call) wait in a bounded queue
(``max_jobs``: :class:`QueueFull` past it, which the server answers 503). The thread builds each
forward batch round-robin over the waiting jobs: one item from each job in turn, the first job
of the rotation moving on by one each batch, until ``batch_tokens`` tokens are taken (at least
one item). So a request of 1,024 items gets its share of every batch but cannot hold the model
while a one-item request waits behind it: the small one is in the next batch. Items of several
requests share a batch; their scores do not depend on it (the scorer packs sequences that do
not attend to each other).

A job can be cancelled (its client went away): its items not yet taken are dropped. When a
mixed batch fails (the scorer raises), each of its jobs is retried alone, so one bad request
fails only itself. The scoring function is the server's (``PRMServer.score``), called with
``(prompts, steps)`` lists and returning one list of floats per item.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

ScoreFunction = Callable[[list[str], list[list[str]]], list[list[float]]]


class QueueFull(Exception):
    """The queue already holds ``max_jobs`` unfinished requests."""


class QueueClosed(RuntimeError):
    """The queue was closed (the server is shutting down)."""


@dataclass(eq=False)
class ScoreJob:
    """One request's items, its results as they arrive, and how it ended.

    Attributes:
        prompts, steps: (N,) prompt texts and (N,) lists of step texts.
        tokens: (N,) PRM input lengths (the batch budget's unit).
        results: (N,) score lists, None until scored.
        error: the scorer's exception when the job failed.
    """

    prompts: list[str]
    steps: list[list[str]]
    tokens: list[int]
    results: list = field(default_factory=list)
    error: BaseException | None = None
    cancelled: bool = False
    next_item: int = 0
    pending: int = 0
    done: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self):
        self.results = [None] * len(self.prompts)
        self.pending = len(self.prompts)
        if not self.pending:
            self.done.set()


class ScoringQueue:
    """A bounded, fair queue in front of one scoring function (module docstring).

    Args:
        score: ``(prompts, steps) -> scores``, called from the queue's thread only.
        batch_tokens: token budget of one call to ``score`` (one item always fits).
        max_jobs: most unfinished requests held at once.
    """

    def __init__(self, score: ScoreFunction, batch_tokens: int, max_jobs: int):
        self.score = score
        self.batch_tokens = batch_tokens
        self.max_jobs = max_jobs
        self.stats: collections.Counter = collections.Counter()
        self._jobs: collections.deque[ScoreJob] = collections.deque()  # jobs with items not yet taken
        self._unfinished = 0
        self._closed = False
        self._wake = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="prm-scoring", daemon=True)
        self._thread.start()

    @property
    def unfinished(self) -> int:
        """Requests submitted and not yet answered (queued or being scored)."""
        return self._unfinished

    def submit(self, prompts: list[str], steps: list[list[str]], tokens: list[int]) -> ScoreJob:
        """Queue one request's items; returns its job (wait on ``job.done``).

        Raises:
            QueueFull: when ``max_jobs`` requests are already unfinished.
        """
        job = ScoreJob(prompts, steps, tokens)
        if job.done.is_set():
            return job
        with self._wake:
            if self._closed:
                raise QueueClosed("the server is shutting down")
            if self._unfinished >= self.max_jobs:
                self.stats["refused_busy"] += 1
                raise QueueFull(f"{self._unfinished} requests are waiting (max_queued_requests={self.max_jobs})")
            self._unfinished += 1
            self._jobs.append(job)
            self._wake.notify()
        return job

    def cancel(self, job: ScoreJob) -> None:
        """Drop the job's items not yet scored (its client went away)."""
        with self._wake:
            if job.done.is_set() or job.cancelled:
                return
            job.cancelled = True
            self.stats["requests_cancelled"] += 1
            if job in self._jobs:
                self._jobs.remove(job)
            self._finish(job)

    def close(self, timeout: float = 10.0) -> None:
        """Stop the thread after the batch in progress; unfinished jobs fail with :class:`QueueClosed`."""
        with self._wake:
            self._closed = True
            for job in self._jobs:
                job.error = QueueClosed("the server is shutting down")
                self._finish(job)
            self._jobs.clear()
            self._wake.notify()
        self._thread.join(timeout)

    def _finish(self, job: ScoreJob) -> None:
        """Mark a job ended (lock held)."""
        if not job.done.is_set():
            self._unfinished -= 1
            job.done.set()

    def _next_batch(self) -> list[tuple[ScoreJob, int]]:
        """Take items round-robin under the token budget (lock held); fully taken jobs leave the rotation."""
        batch, tokens, full = [], 0, False
        while not full:
            took = False
            for job in self._jobs:
                if job.next_item >= len(job.prompts):
                    continue
                n = max(1, job.tokens[job.next_item])
                if batch and tokens + n > self.batch_tokens:
                    full = True
                    break
                batch.append((job, job.next_item))
                job.next_item += 1
                tokens += n
                took = True
            full = full or not took
        self._jobs.rotate(-1)  # the next batch starts with the next job
        for job in [j for j in self._jobs if j.next_item >= len(j.prompts)]:
            self._jobs.remove(job)
        return batch

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._jobs and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
                batch = self._next_batch()
            self._score_batch(batch)

    def _score_batch(self, batch: list[tuple[ScoreJob, int]]) -> None:
        """Score one batch; on failure retry each job's part alone so that only the failing job fails."""
        jobs = list(dict.fromkeys(job for job, _ in batch))
        try:
            self._deliver(batch, self._call(batch))
        except Exception as error:
            if len(jobs) == 1:
                self._fail(jobs[0], error)
                return
            for job in jobs:
                part = [(j, i) for j, i in batch if j is job]
                try:
                    self._deliver(part, self._call(part))
                except Exception as job_error:
                    self._fail(job, job_error)

    def _call(self, batch: list[tuple[ScoreJob, int]]) -> list[list[float]]:
        self.stats["batches"] += 1
        scores = self.score([job.prompts[i] for job, i in batch], [job.steps[i] for job, i in batch])
        if len(scores) != len(batch):
            raise RuntimeError(f"the scoring function returned {len(scores)} results for {len(batch)} items")
        return scores

    def _deliver(self, batch: list[tuple[ScoreJob, int]], scores: list[list[float]]) -> None:
        with self._wake:
            self.stats["items_scored"] += len(batch)
            for (job, i), row in zip(batch, scores):
                if job.done.is_set():
                    continue  # cancelled or failed meanwhile
                job.results[i] = row
                job.pending -= 1
                if job.pending == 0:
                    self._finish(job)

    def _fail(self, job: ScoreJob, error: BaseException) -> None:
        with self._wake:
            if job.done.is_set():
                return
            job.error = error
            if job in self._jobs:
                self._jobs.remove(job)
            self._finish(job)
