"""The dispatcher behind :class:`pool.Grader`: one thread that owns the worker processes.

- Workers are plain subprocesses (``python -c`` running :mod:`worker`) started with
  ``subprocess.Popen`` from the dispatcher thread; no ``multiprocessing`` start method is
  involved, so nothing re-imports the caller's ``__main__``.
- A batch is cut into chunks (at most :data:`MAX_CHUNK_ITEMS` items and about
  :data:`MAX_CHUNK_BYTES` bytes, so one pipe round trip serves many items); chunks go to idle
  workers. A worker answers item by item, so the dispatcher knows which item is running and
  since when: each item has its own deadline, ``timeout_s`` after the previous one ended.
- Past its deadline, or with the worker's resident memory over ``memory_mb`` (sampled every
  ``memory_poll_s`` from ``/proc``), the worker is killed (SIGKILL) and replaced: that item is
  graded wrong with reason ``timeout`` or ``memory`` (its answer is extracted here, a bounded
  cost), and the chunk's other items go back to the front of the queue. A worker that dies
  on its own blames its current item (``crash``); an item whose workers die
  :data:`REQUEUES_ALLOWED` times without blame is graded ``crash`` too, so every item ends.
- Workers that fail to start :data:`START_FAILURES_ALLOWED` times in a row break the pool:
  every waiting batch gets a :class:`GraderError` naming the cause (the worker's stderr tail).
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import json
import math
import os
import selectors
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

from openrlhf_pure.core.grading.extract import extract_answer
from openrlhf_pure.core.grading.result import GradeResult, GradingConfig, Reason

_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
_WORKER_CODE = "import sys; sys.path.insert(0, {root!r}); from openrlhf_pure.core.grading.worker import main; main()"
MAX_CHUNK_ITEMS = 32
MAX_CHUNK_BYTES = 2**21
START_FAILURES_ALLOWED = 3
REQUEUES_ALLOWED = 2  # an item whose worker keeps dying without blame is then graded "crash"


class GraderError(RuntimeError):
    """The pool cannot grade: its workers fail to start, or it was closed."""


@dataclass
class Batch:
    """One caller's batch: its future and its results as they arrive."""

    future: concurrent.futures.Future
    results: list
    remaining: int


@dataclass
class Job:
    """One (response, gold) pair of a batch; ``key`` is unique within the dispatcher."""

    key: int
    index: int
    response: str
    gold: str | None
    batch: Batch
    attempts: int = 0


@dataclass
class WorkerProcess:
    """A worker process and the dispatcher's view of it."""

    process: subprocess.Popen
    stderr: object
    state: str = "starting"  # starting -> idle <-> busy
    started_at: float = field(default_factory=time.monotonic)
    item_started_at: float = 0.0
    jobs: collections.deque = field(default_factory=collections.deque)
    buffer: bytes = b""
    exiting: bool = False


class Dispatcher:
    """The dispatcher thread and its workers (one per :class:`pool.Grader` and process)."""

    def __init__(
        self,
        workers: int,
        timeout_s: float,
        memory_mb: int,
        config: GradingConfig,
        chunk_size: int | None,
        start_timeout_s: float,
        memory_poll_s: float,
    ):
        self.pid = os.getpid()
        self.size = workers
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self.chunk_size = chunk_size
        self.start_timeout_s = start_timeout_s
        self.memory_poll_s = memory_poll_s
        settings = {"config": config.to_dict(), "memory_mb": memory_mb, "cpu_budget_s": 2 * timeout_s + 5}
        self.command = [sys.executable, "-c", _WORKER_CODE.format(root=_PACKAGE_ROOT), json.dumps(settings)]
        self.stats = collections.Counter()
        self.lock = threading.Lock()
        self.incoming: collections.deque = collections.deque()
        self.pending: collections.deque = collections.deque()  # chunks: lists of Job
        self.workers: list[WorkerProcess] = []
        self.next_key = 0
        self.closing = False
        self.broken: str | None = None
        self.start_failures = 0
        self.last_memory_check = 0.0
        self.all_ready = threading.Event()  # set while every worker is started and ready
        self.selector = selectors.DefaultSelector()
        self.wake_open = True
        self.wake_read, self.wake_write = os.pipe()
        os.set_blocking(self.wake_read, False)
        self.selector.register(self.wake_read, selectors.EVENT_READ, None)
        self.thread = threading.Thread(target=self.run, name="pure-grader", daemon=True)
        self.thread.start()

    # --- called from any thread -------------------------------------------------------------

    def submit(self, batch: Batch, responses: list[str], golds: list) -> None:
        """Queue a batch (any thread); raises :class:`GraderError` when closed or broken."""
        with self.lock:
            if self.closing or self.broken:
                raise GraderError(self.broken or "the grader is closed")
            jobs = [Job(self.next_key + i, i, r, g, batch) for i, (r, g) in enumerate(zip(responses, golds))]
            self.next_key += len(jobs)
            self.incoming.append(jobs)
            self.wake()

    def wake(self) -> None:
        """Interrupt the dispatcher's wait (call with ``self.lock`` held)."""
        if self.wake_open:
            with contextlib.suppress(OSError):  # a full pipe: the dispatcher is awake anyway
                os.write(self.wake_write, b"x")

    def close(self) -> None:
        """Stop the dispatcher thread and its workers; waiting batches get :class:`GraderError`."""
        with self.lock:
            self.closing = True
            self.wake()
        if threading.current_thread() is not self.thread:
            self.thread.join(timeout=10)
        with self.lock:
            if self.wake_open and not self.thread.is_alive():
                self.wake_open = False
                os.close(self.wake_read)
                os.close(self.wake_write)

    # --- the dispatcher thread --------------------------------------------------------------

    def run(self) -> None:
        """The dispatcher loop: take batches, keep workers, dispatch, read results, enforce limits."""
        try:
            while True:
                with self.lock:
                    if self.closing:
                        break
                    while self.incoming:
                        self.pending.extend(self.chunks(self.incoming.popleft()))
                self.keep_workers()
                self.dispatch()
                for key, _ in self.selector.select(self.wakeup_in()):
                    if key.data is None:
                        self.drain_wake()
                    else:
                        self.read(key.data)
                self.enforce_limits()
        except BaseException as error:  # never leave a caller waiting forever
            self.fail_everything(error if isinstance(error, GraderError) else GraderError(repr(error)))
            return
        self.fail_everything(GraderError("the grader is closed"))

    def chunks(self, jobs: list[Job]) -> list[list[Job]]:
        """Cut a batch into chunks (module docstring)."""
        size = self.chunk_size or max(1, min(MAX_CHUNK_ITEMS, math.ceil(len(jobs) / (2 * self.size))))
        out: list[list[Job]] = []
        current: list[Job] = []
        current_bytes = 0
        for job in jobs:
            if current and (len(current) >= size or current_bytes + len(job.response) > MAX_CHUNK_BYTES):
                out.append(current)
                current, current_bytes = [], 0
            current.append(job)
            current_bytes += len(job.response)
        out.append(current)
        return out

    def keep_workers(self) -> None:
        """Start workers until the pool has its size."""
        if len(self.workers) < self.size:
            self.all_ready.clear()
        while len(self.workers) < self.size and not self.closing:
            stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed in retire)
            process = subprocess.Popen(
                self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, env=_worker_env()
            )
            worker = WorkerProcess(process, stderr)
            os.set_blocking(process.stdout.fileno(), False)
            self.selector.register(process.stdout.fileno(), selectors.EVENT_READ, worker)
            self.workers.append(worker)
            self.stats["workers_started"] += 1

    def dispatch(self) -> None:
        """Send the next pending chunk to each idle worker."""
        for worker in self.workers:
            if worker.state != "idle" or not self.pending:
                continue
            jobs = self.pending.popleft()
            message = {"items": [[job.key, job.response, job.gold] for job in jobs]}
            worker.jobs.extend(jobs)
            worker.state = "busy"
            worker.item_started_at = time.monotonic()
            try:
                worker.process.stdin.write(json.dumps(message).encode() + b"\n")
                worker.process.stdin.flush()
            except OSError:  # the worker died before reading: its death is read from its output
                worker.exiting = True

    def wakeup_in(self) -> float | None:
        """Seconds until the next deadline or memory sample (None: nothing to watch)."""
        now = time.monotonic()
        deadlines = []
        for worker in self.workers:
            if worker.state == "busy":
                deadlines.append(worker.item_started_at + self.timeout_s)
                deadlines.append(now + self.memory_poll_s)
            elif worker.state == "starting":
                deadlines.append(worker.started_at + self.start_timeout_s)
        return max(0.0, min(deadlines) - now) if deadlines else None

    def drain_wake(self) -> None:
        """Empty the wake-up pipe."""
        try:
            while os.read(self.wake_read, 4096):
                pass
        except BlockingIOError:
            pass

    def read(self, worker: WorkerProcess) -> None:
        """Read a worker's output: whole lines are messages; end of output is its death."""
        try:
            data = os.read(worker.process.stdout.fileno(), 2**20)
        except BlockingIOError:
            return
        if not data:
            self.on_death(worker)
            return
        *lines, worker.buffer = (worker.buffer + data).split(b"\n")
        for line in lines:
            self.on_message(worker, json.loads(line))

    def on_message(self, worker: WorkerProcess, message: list) -> None:
        """Handle ``ready``, ``result`` and ``exit`` messages (see :mod:`worker`)."""
        kind = message[0]
        if kind == "ready":
            worker.state = "idle"
            self.start_failures = 0
            if len(self.workers) == self.size and all(w.state != "starting" for w in self.workers):
                self.all_ready.set()
        elif kind == "exit":
            worker.exiting = True
        elif kind == "result":
            _, key, correct, extracted, reason, detail, elapsed = message
            job = worker.jobs.popleft()
            assert job.key == key, "worker answered out of order"
            self.finish(job, GradeResult(correct, extracted, Reason(reason), detail, elapsed))
            worker.item_started_at = time.monotonic()
            if not worker.jobs:
                worker.state = "idle"

    def on_death(self, worker: WorkerProcess) -> None:
        """A worker ended on its own: a start failure, or a crash that blames its current item."""
        try:
            code = worker.process.wait(timeout=5)  # its output is closed: it is exiting
        except subprocess.TimeoutExpired:
            code = None
        if worker.state == "starting":
            self.start_failures += 1
            stderr = _tail(worker.stderr)
            self.retire(worker, None, "")
            if self.start_failures >= START_FAILURES_ALLOWED:
                raise GraderError(f"grading workers fail to start (exit code {code}): {stderr}")
            return
        blame = None if worker.exiting else Reason.CRASH
        self.retire(worker, blame, f"worker died (exit code {code})")

    def enforce_limits(self) -> None:
        """Kill workers past an item deadline, over the memory limit, or too slow to start."""
        now = time.monotonic()
        check_memory = now - self.last_memory_check >= self.memory_poll_s
        if check_memory:
            self.last_memory_check = now
        for worker in list(self.workers):
            if worker.state == "busy" and now - worker.item_started_at > self.timeout_s:
                self.retire(worker, Reason.TIMEOUT, f"over {self.timeout_s:g} s")
            elif worker.state == "busy" and check_memory and _resident_mb(worker.process.pid) > self.memory_mb:
                self.retire(worker, Reason.MEMORY, f"over {self.memory_mb} MiB resident")
            elif worker.state == "starting" and now - worker.started_at > self.start_timeout_s:
                self.start_failures += 1
                self.retire(worker, None, "")
                if self.start_failures >= START_FAILURES_ALLOWED:
                    raise GraderError(f"grading workers did not start within {self.start_timeout_s:g} s")

    def retire(self, worker: WorkerProcess, blame: Reason | None, detail: str) -> None:
        """Kill a worker, grade its current item with ``blame`` (if any), requeue the rest."""
        self.all_ready.clear()
        if worker.process.poll() is None:
            worker.process.kill()
        worker.process.wait()
        self.selector.unregister(worker.process.stdout.fileno())
        for stream in (worker.process.stdin, worker.process.stdout, worker.stderr):
            with contextlib.suppress(OSError):
                stream.close()
        self.workers.remove(worker)
        jobs = list(worker.jobs)
        if jobs and blame is None:
            jobs[0].attempts += 1
            if jobs[0].attempts > REQUEUES_ALLOWED:
                blame, detail = Reason.CRASH, f"its worker died {jobs[0].attempts} times"
        if jobs and blame is not None:
            job = jobs.pop(0)
            self.stats[f"killed_{blame.value}"] += 1
            spent = time.monotonic() - worker.item_started_at
            self.finish(job, GradeResult(False, extract_answer(job.response), blame, detail, spent))
        if jobs:
            self.pending.appendleft(jobs)

    def finish(self, job: Job, result: GradeResult) -> None:
        """Store one result; resolve the batch's future when it is complete."""
        if job.gold is None and result.reason in (Reason.TIMEOUT, Reason.MEMORY, Reason.CRASH):
            result = GradeResult(None, result.extracted, result.reason, result.detail, result.elapsed_s)
        batch = job.batch
        batch.results[job.index] = result
        batch.remaining -= 1
        self.stats["items"] += 1
        if batch.remaining == 0 and not batch.future.done():
            batch.future.set_result(batch.results)

    def fail_everything(self, error: GraderError) -> None:
        """Give every waiting batch ``error``, stop the workers and refuse new batches."""
        with self.lock:
            self.broken = str(error)
            batches = {id(job.batch): job.batch for chunk in self.incoming for job in chunk}
            self.incoming.clear()
        batches.update({id(job.batch): job.batch for chunk in self.pending for job in chunk})
        batches.update({id(job.batch): job.batch for w in self.workers for job in w.jobs})
        for batch in batches.values():
            if not batch.future.done():
                batch.future.set_exception(error)
        for worker in list(self.workers):
            worker.jobs.clear()
            with contextlib.suppress(OSError):
                worker.process.stdin.close()  # end of input: the worker exits by itself
        deadline = time.monotonic() + 1.0
        for worker in list(self.workers):
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.process.wait(max(0.0, deadline - time.monotonic()))
            worker.jobs.clear()
            self.retire(worker, None, "")
        self.selector.close()


def _worker_env() -> dict[str, str]:
    """The workers' environment: the caller's, with native thread pools limited to one thread."""
    env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[name] = "1"
    return env


def _resident_mb(pid: int) -> float:
    """Resident memory of a process in MiB (Linux ``/proc``; 0 where unavailable)."""
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


def _tail(stream, size: int = 2000) -> str:
    """The last ``size`` bytes of a worker's stderr file, as text."""
    try:
        stream.seek(0, os.SEEK_END)
        stream.seek(max(0, stream.tell() - size))
        return stream.read().decode(errors="replace")
    except (OSError, ValueError):
        return ""
