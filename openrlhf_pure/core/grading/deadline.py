"""A wall-clock bound on Python code running in this process: :func:`time_limit`.

Used around math-verify (:mod:`equivalence`, rule E6) so that grading in process, without the
pool's killable workers, has a time bound too. A timer thread raises :class:`DeadlineExceeded`
in the bounded thread when its time is up (CPython's ``PyThreadState_SetAsyncExc``): it works
in the main thread, other threads, asyncio loops and Ray actors alike, touches no signal (a
caller's ``SIGALRM`` stays its own) and costs nothing while the code runs. The timer and the
exit of the block share a lock, and an exception still pending at exit is withdrawn, so it can
never surface after the block.

Like a signal, the exception arrives between bytecodes: a single long C call (a huge integer
power) runs to its end first, which is why the pre-checks (:mod:`precheck`) reject such inputs
and why only the pool (:mod:`pool`) guarantees a bound. :class:`DeadlineExceeded` derives from
``BaseException`` so that libraries' ``except Exception`` clauses (math-verify has many) do not
swallow it.
"""

from __future__ import annotations

import contextlib
import ctypes
import threading
from collections.abc import Iterator

_set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc
_set_async_exc.argtypes = (ctypes.c_ulong, ctypes.py_object)
_set_async_exc.restype = ctypes.c_int


class DeadlineExceeded(BaseException):
    """The code under :func:`time_limit` ran past its deadline."""


@contextlib.contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise :class:`DeadlineExceeded` in the body once it has run ``seconds`` (None: no limit).

    >>> with time_limit(1.0):
    ...     total = sum(range(1000))
    """
    if seconds is None:
        yield
        return
    if seconds <= 0:
        raise DeadlineExceeded
    target = threading.get_ident()
    lock = threading.Lock()
    state = {"inside": True, "fired": False}

    def fire() -> None:
        with lock:
            if state["inside"]:
                state["fired"] = _set_async_exc(target, ctypes.py_object(DeadlineExceeded)) == 1

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    try:
        timer.start()
        yield
    finally:
        with lock:
            state["inside"] = False
            if state["fired"]:
                _set_async_exc(target, ctypes.py_object())  # withdraw it if it has not been raised yet
        timer.cancel()
