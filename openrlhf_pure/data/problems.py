"""RL training problems: a prompt, its ground-truth answer, and whether the answer is visible.

In PURE-PRM+VR the ground truth is visible for a random share of the problems (10% in the
paper; ``data/train`` carries the authors' own draw as ``pure_vr_answer_visible``).
:func:`choose_visible` makes such a draw deterministically from a seed.

Reading a problem file (:func:`read_problem_file`, used by ``pure-train`` before any model is
loaded and by ``train_pure_ray --dry_run``) checks every row and returns every problem found,
one message per bad row naming ``file:line`` (capped, with a count of the rest):

- the question field must be a non-empty string;
- with ``label_key`` the answer and visibility sit in that object field (the shipped set's
  ``label``); a label that is a string or a number is the answer itself;
- the answer field must be present when answers are needed (modes vr and prm_vr); ``null``
  says "no known answer"; otherwise it is a string or a number;
- a visibility field, when read, must be present in every row and be JSON ``true`` or
  ``false`` (the string ``"false"`` is an error, not a true value).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from openrlhf_pure.data.jsonl import JSONFileError, iter_jsonl, iter_parquet, read_json_file

MAX_REPORTED = 10  # bad rows listed one by one; the rest are counted


@dataclass(frozen=True)
class Problem:
    """One RL problem.

    Attributes:
        prompt: the full prompt given to the policy.
        answer: the ground-truth final answer, or None if unknown.
        visible: whether the answer may be used for the verifiable reward during training.
    """

    prompt: str
    answer: str | None
    visible: bool = True


@dataclass(frozen=True)
class ProblemFields:
    """Which fields of a training row hold its parts.

    Attributes:
        question_key: the question (or the whole prompt, when no template is applied).
        answer_key: the ground-truth answer.
        label_key: an object field holding the answer and visibility fields (None: top level).
        visible_key: the visibility flag; None: not read.
        answer_required: every row must have the answer field (null allowed).
    """

    question_key: str = "question"
    answer_key: str = "gt_answer"
    label_key: str | None = None
    visible_key: str | None = None
    answer_required: bool = True


@dataclass
class ProblemFile:
    """What :func:`read_problem_file` found: the rows' (question, answer, visible) and the problems."""

    path: str
    rows: list[tuple[str, str | None, bool]]
    errors: list[str]
    with_answer: int = 0
    visible: int = 0
    missing_everywhere: set[str] = field(default_factory=set)

    def problems(self, render=lambda question: question) -> list[Problem]:
        """The problems, each question turned into its prompt by ``render``."""
        return [Problem(render(q), a, v) for q, a, v in self.rows]

    def summary(self) -> str:
        """One line: rows and answers."""
        return f"{self.path}: {len(self.rows)} problems, {self.with_answer} with an answer"


def choose_visible(problems: list[Problem], fraction: float, seed: int) -> list[Problem]:
    """Mark exactly round(fraction * N) problems (among those with an answer) as visible.

    >>> ps = [Problem(str(i), "1") for i in range(10)]
    >>> sum(p.visible for p in choose_visible(ps, 0.3, seed=0))
    3
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"visible fraction must lie in [0, 1], got {fraction}")
    candidates = [i for i, p in enumerate(problems) if p.answer is not None]
    chosen = set(random.Random(seed).sample(candidates, round(fraction * len(candidates))))
    return [replace(p, visible=i in chosen) for i, p in enumerate(problems)]


def iter_rows(path: str | Path) -> Iterator[tuple[str, Any, str | None]]:
    """``(where, row, error)`` of a ``.jsonl``, ``.json`` (a list, or one object a line) or ``.parquet`` file.

    Raises:
        JSONFileError: a file that cannot be read at all (a Parquet file that is not one).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        for index, row in enumerate(iter_parquet(path), start=1):
            yield f"{path}:row {index}", row, None
        return
    if suffix == ".json":
        try:
            data = read_json_file(path)
        except JSONFileError:
            data = None  # not one JSON value: read it as JSON lines, as `datasets` does
        if isinstance(data, list):
            for index, row in enumerate(data, start=1):
                yield f"{path}:row {index}", row, None
            return
    for line_no, row, error in iter_jsonl(path):
        yield f"{path}:{line_no}", row, error


class MissingField(ValueError):
    """A row without a field it needs; ``name`` is the field (dotted under ``label_key``)."""

    def __init__(self, name: str, message: str):
        super().__init__(message)
        self.name = name


def _answer(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"field {name!r} must be a string or a number, got {type(value).__name__}")
    return str(value)


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        shown = f"the string {value!r}" if isinstance(value, str) else f"{type(value).__name__} {value!r}"
        raise ValueError(f"field {name!r} must be JSON true or false, got {shown}")
    return value


def parse_problem_row(row: Any, fields: ProblemFields) -> tuple[str, str | None, bool | None]:
    """(question, answer or None, visibility flag or None) of one row; ValueError names the field."""
    if not isinstance(row, dict):
        raise ValueError(f"expected a JSON object, got {type(row).__name__}")
    question = row.get(fields.question_key)
    if not isinstance(question, str) or not question.strip():
        have = ", ".join(sorted(map(str, row))) or "none"
        raise ValueError(f"field {fields.question_key!r} must be a non-empty string (fields: {have})")
    holder, prefix = row, ""
    if fields.label_key is not None:
        if fields.label_key not in row:
            have = ", ".join(sorted(map(str, row)))
            raise MissingField(fields.label_key, f"no field {fields.label_key!r} (fields: {have})")
        holder, prefix = row[fields.label_key], f"{fields.label_key}."
        if not isinstance(holder, dict):  # the label is the answer itself
            if fields.visible_key is not None:
                name = f"{fields.label_key}.{fields.visible_key}"
                raise MissingField(name, f"field {fields.label_key!r} is not an object, so it has no {name!r}")
            return question, _answer(holder, fields.label_key), None
    if fields.answer_key not in holder:
        if fields.answer_required:
            have = ", ".join(sorted(map(str, holder))) or "none"
            name = prefix + fields.answer_key
            raise MissingField(name, f"no field {name!r} (fields: {have}); use null for no known answer")
        answer = None
    else:
        answer = _answer(holder[fields.answer_key], prefix + fields.answer_key)
    flag = None
    if fields.visible_key is not None:
        if fields.visible_key not in holder:
            name = prefix + fields.visible_key
            raise MissingField(name, f"no field {name!r} (the answer's visibility flag)")
        flag = _flag(holder[fields.visible_key], prefix + fields.visible_key)
    return question, answer, flag


def read_problem_file(path: str | Path, fields: ProblemFields, max_reported: int = MAX_REPORTED) -> ProblemFile:
    """Check every row of a problem file; never raises for bad rows (see the module docstring).

    A field missing from every row is reported once (``no row has field ...``); other bad rows
    one line each, the first ``max_reported`` of them, then a count. A row without a
    visibility flag (``fields.visible_key`` None) counts as visible.
    """
    result = ProblemFile(str(path), [], [])
    bad: list[tuple[str, ValueError]] = []
    try:
        for where, row, error in iter_rows(path):
            try:
                if error is not None:
                    raise ValueError(error)
                question, answer, flag = parse_problem_row(row, fields)
            except ValueError as err:
                bad.append((where, err))
                continue
            visible = True if flag is None else flag
            result.rows.append((question, answer, visible))
            result.with_answer += answer is not None
            result.visible += answer is not None and visible
    except (JSONFileError, OSError) as err:
        result.errors.append(str(err))
        return result
    total = len(result.rows) + len(bad)
    missing = Counter(err.name for _, err in bad if isinstance(err, MissingField))
    everywhere = {name for name, count in missing.items() if count == total}
    result.missing_everywhere = everywhere
    result.errors += [f"{path}: no row has field {name!r}" for name in sorted(everywhere)]
    rest = [(w, e) for w, e in bad if not (isinstance(e, MissingField) and e.name in everywhere)]
    result.errors += [f"{where}: {err}" for where, err in rest[:max_reported]]
    if len(rest) > max_reported:
        result.errors.append(f"{path}: {len(rest) - max_reported} more bad rows not listed ({len(rest)} in all)")
    if not total and not result.errors:
        result.errors.append(f"{path}: no problems (the file is empty)")
    return result
