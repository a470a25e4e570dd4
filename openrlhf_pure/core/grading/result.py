"""What grading returns (:class:`GradeResult`, :class:`Reason`) and how it is configured (:class:`GradingConfig`).

Reasons, one per result:

- ``correct``: the answer equals the gold one (``correct`` is True; every other reason has
  ``correct`` False, except ``no_gold``);
- ``wrong``: an answer was found and compared, and it differs;
- ``no_answer``: the response states no final answer (see :mod:`extract`);
- ``no_gold``: the gold answer is None or empty, so nothing is graded (``correct`` is None);
- ``parse_error``: math-verify was needed and could not read the answer or the gold;
- ``rejected``: a pre-check found the answer hostile (see :mod:`precheck`; ``detail`` names
  the rule) and it was not handed to math-verify;
- ``timeout``: math-verify ran past ``GradingConfig.time_limit_s`` (in process or in a worker,
  which then goes on), or the item ran past the pool's wall-clock limit and its worker was killed;
- ``memory``: the item ran past the pool's memory limit; its worker was killed;
- ``crash``: the worker died or raised on the item (a bug, never expected).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum

from openrlhf_pure.core.grading.precheck import Limits


class Reason(str, Enum):
    """Why an item got its grade (module docstring); compares equal to its string value."""

    CORRECT = "correct"
    WRONG = "wrong"
    NO_ANSWER = "no_answer"
    NO_GOLD = "no_gold"
    PARSE_ERROR = "parse_error"
    REJECTED = "rejected"
    TIMEOUT = "timeout"
    MEMORY = "memory"
    CRASH = "crash"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class GradeResult:
    """The grade of one (response, gold) pair.

    Attributes:
        correct: True / False; None when there is no gold answer.
        extracted: the final answer found in the response, verbatim, or None.
        reason: a :class:`Reason`.
        detail: a short explanation for ``rejected``, ``crash`` and ``parse_error`` ("" otherwise).
        elapsed_s: seconds the grading of this item took inside its worker; for an item whose
            worker was killed, the seconds from its start to the kill.
    """

    correct: bool | None
    extracted: str | None
    reason: Reason
    detail: str = ""
    elapsed_s: float = 0.0


@dataclass(frozen=True)
class GradingConfig:
    """How answers are compared.

    Attributes:
        prechecks: reject hostile answers before math-verify (:mod:`precheck`). Switch off only
            to test the pool's hard limits.
        math_verify: fall back on math-verify when the cheap path cannot decide; when False,
            undecided pairs are graded wrong.
        rel_tol: relative tolerance for numbers written approximately (:mod:`exact_numbers`).
        limits: the pre-check thresholds.
        time_limit_s: wall-clock bound on math-verify for one item, in seconds, wherever it runs
            (:mod:`deadline`; None: no bound); past it the item is graded ``timeout``. In the pool
            the worker goes on to the next item; the pool's own ``timeout_s`` stays the hard limit.
    """

    prechecks: bool = True
    math_verify: bool = True
    rel_tol: float = 1e-6
    limits: Limits = field(default_factory=Limits)
    time_limit_s: float | None = 2.0

    def __post_init__(self):
        if self.time_limit_s is not None and not self.time_limit_s > 0:
            raise ValueError(f"time_limit_s must be positive or None, got {self.time_limit_s}")

    def to_dict(self) -> dict:
        """A JSON-ready dict (to send the config to a worker process)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> GradingConfig:
        """Inverse of :meth:`to_dict`."""
        return cls(**{**data, "limits": Limits(**data["limits"])})
