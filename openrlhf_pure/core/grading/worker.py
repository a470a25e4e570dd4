"""The grading worker process: reads chunks of items on stdin, writes one result per item on stdout.

Started by :class:`pool.Grader` as ``python -c "...; main()" SETTINGS_JSON``, never imported
for its side effects. Protocol, one JSON document per line (UTF-8):

- parent -> worker: ``{"items": [[key, response, gold_or_null], ...]}``;
- worker -> parent: ``["ready", pid]`` once after start-up, then per item, in order,
  ``["result", key, correct, extracted, reason, detail, elapsed_s]``; ``["exit", why]`` just
  before the worker ends itself (after a ``MemoryError``). End of input ends the worker.

Limits set here (the parent enforces the wall-clock and resident-memory limits and kills):
- ``RLIMIT_AS`` = address space after start-up + 2 x ``memory_mb``: one huge allocation fails
  at once with ``MemoryError`` (reported as ``memory``; the worker then exits to be replaced);
- ``RLIMIT_CPU`` soft limit, reset before each item to the CPU time used so far +
  ``cpu_budget_s``: an item still running after its parent has died is killed by the kernel;
- ``RLIMIT_CORE`` = 0; SIGINT is ignored (Ctrl-C belongs to the parent).

Stdout is reserved for the protocol: file descriptor 1 is pointed at stderr, so stray prints
from libraries cannot corrupt it.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
import time

from openrlhf_pure.core.grading.equivalence import warm_up
from openrlhf_pure.core.grading.grade import grade_response
from openrlhf_pure.core.grading.result import GradingConfig, Reason

MEMORY_EXIT_CODE = 3


def main(argv: list[str] | None = None) -> None:
    """Run the worker loop with the settings in ``argv[1]`` (JSON: config, memory_mb, cpu_budget_s)."""
    argv = sys.argv if argv is None else argv
    settings = json.loads(argv[1])
    config = GradingConfig.from_dict(settings["config"])
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    protocol = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    requests = os.fdopen(0, "rb")
    warm_up()  # imports math-verify, compiles its regexes, loads SymPy's simplification
    _set_limits(settings["memory_mb"])
    _send(protocol, ["ready", os.getpid()])
    cpu_budget_s = float(settings["cpu_budget_s"])
    for line in requests:
        for key, response, gold in json.loads(line)["items"]:
            _limit_cpu(cpu_budget_s)
            _send(protocol, _grade(key, response, gold, config))
            if _memory_exhausted:
                _send(protocol, ["exit", "memory"])
                protocol.close()
                os._exit(MEMORY_EXIT_CODE)


_memory_exhausted = False


def _grade(key: int, response: str, gold: str | None, config: GradingConfig) -> list:
    """One result message; a MemoryError marks the worker for exit, any other error is a crash."""
    global _memory_exhausted
    start = time.perf_counter()
    try:
        r = grade_response(response, gold, config)
        return ["result", key, r.correct, r.extracted, r.reason.value, r.detail, r.elapsed_s]
    except MemoryError:
        _memory_exhausted = True
        return ["result", key, False, None, Reason.MEMORY.value, "MemoryError", time.perf_counter() - start]
    except Exception as error:  # a grader bug: report it on this item, keep serving
        detail = f"{type(error).__name__}: {error}"[:300]
        return ["result", key, False, None, Reason.CRASH.value, detail, time.perf_counter() - start]


def _send(stream, message: list) -> None:
    stream.write(json.dumps(message).encode() + b"\n")
    stream.flush()


def _set_limits(memory_mb: int) -> None:
    """Address-space and core-file limits (module docstring)."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    size = _address_space_bytes()
    if size is not None and memory_mb > 0:
        cap = size + 2 * memory_mb * 2**20
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            cap = min(cap, hard)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))


def _address_space_bytes() -> int | None:
    """This process's virtual memory size (Linux ``/proc``), or None elsewhere."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return None


def _limit_cpu(budget_s: float) -> None:
    """Let the next item use at most ``budget_s`` more CPU seconds (module docstring)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = int(usage.ru_utime + usage.ru_stime + budget_s) + 1
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
