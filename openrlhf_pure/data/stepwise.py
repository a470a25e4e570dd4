"""Stepwise PRM data: one row = a prompt, its solution steps, and one correctness label per step.

PURE's PRM is trained on rows of this shape (PURE.md section 3). This module holds the row type,
its validation, the readers of the two public stepwise formats, and the TRL-format writer.

Formats (a registry, ``STEPWISE_FORMATS``; each is a function record -> :class:`StepwiseRow`):

- ``trl``: TRL's stepwise-supervision format, e.g. ``HuggingFaceH4/prm800k-trl-dedup`` (the
  ~369k rows PURE's PRM was trained on): ``prompt`` (str), ``completions`` (list of str, one per
  step), ``labels`` (list of bool, one per step). Optional ``id`` and ``source`` are kept.
- ``math_shepherd``: ``peiyi9979/Math-Shepherd`` (file ``math-shepherd.jsonl``, ~445k rows).
  Fields ``input``, ``label``, ``task`` ("GSM8K" or "MATH"). ``input`` is the question, then
  the solution as "Step 1: ... ки\\nStep 2: ... ки\\n...": the tag "ки" (Cyrillic, 2 characters)
  closes every step. ``label`` is the same text with each tag replaced by the single character
  "+" (the step can still reach the right answer) or "-". Rules implemented here: ``input`` is
  split on the tag; ``label`` must be exactly the pieces of ``input`` joined by "+"/"-" (checked
  character by character, so a label that does not match its input is a bad row, never a
  silent shift); the question is the text before the first "Step 1:" (case-insensitive, also
  "Step 1."), so a tag inside the question (a known annotation slip in a few rows) makes the row
  bad; text after the last tag must be blank. Steps are stripped of surrounding whitespace and
  keep their "Step k:" prefix; ``task`` becomes the row's ``source``.

Sources: a local ``.jsonl`` (one JSON object per line; blank lines are ignored), ``.json`` (a
list of objects) or ``.parquet`` file; or a hub name or a local dataset folder, read with
``datasets.load_dataset(name, split=split)`` by the same code.

Bad rows (bytes that are not UTF-8, invalid JSON, missing fields, wrong types, label count != step count, no steps, an
empty or blank step or prompt, a Math-Shepherd label that does not match its input) raise
:class:`DataFormatError` naming the source and the row: ``file.jsonl:12`` (1-based line) for
JSONL, ``file.json row 3`` (0-based index) otherwise. With ``on_bad_row="skip"`` they are
skipped and counted per reason in a :class:`LoadReport`, with the first few messages kept.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from openrlhf_pure.core.registry import Registry
from openrlhf_pure.data.jsonl import JSONFileError, iter_jsonl, iter_parquet, read_json_file

# ---------------------------------------------------------------------------------------------
# The row type and its validation


class RowError(ValueError):
    """A row that breaks its format; ``reason`` is a short category for reports."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


class DataFormatError(ValueError):
    """A bad row or file, with where it is (``where``) and why (``reason``) in the message."""

    def __init__(self, where: str, reason: str, message: str):
        super().__init__(f"{where}: {message}")
        self.where = where
        self.reason = reason


@dataclass(frozen=True)
class StepwiseRow:
    """One labelled solution: ``labels[k]`` says whether ``steps[k]`` is correct.

    Sequences are stored as tuples (the row is immutable and hashable). Construction validates:
    ``prompt`` a non-blank str, ``steps`` a non-empty list/tuple of non-blank str, ``labels`` a
    list/tuple of bool of the same length; otherwise :class:`RowError` naming the field.

    >>> StepwiseRow("1 + 1?", ["1 + 1 = 2."], [True]).labels
    (True,)
    """

    prompt: str
    steps: tuple[str, ...]
    labels: tuple[bool, ...]
    source: str | None = None
    id: str | None = None

    def __post_init__(self):
        if not isinstance(self.prompt, str):
            raise RowError("wrong_type", f"field 'prompt' must be a string, got {type(self.prompt).__name__}")
        if not self.prompt.strip():
            raise RowError("empty_prompt", "field 'prompt' is empty")
        steps = _sequence_of(self.steps, str, "steps", "a string")
        labels = _sequence_of(self.labels, bool, "labels", "a bool")
        if not steps:
            raise RowError("no_steps", "the row has no steps")
        if len(labels) != len(steps):
            raise RowError("length_mismatch", f"{len(labels)} labels for {len(steps)} steps")
        for k, step in enumerate(steps):
            if not step.strip():
                raise RowError("empty_step", f"step {k} is empty")
        object.__setattr__(self, "steps", steps)
        object.__setattr__(self, "labels", labels)


def _sequence_of(value: Any, kind: type, name: str, what: str) -> tuple:
    if not isinstance(value, list | tuple):  # a str is a sequence too: never split it into characters
        raise RowError("wrong_type", f"field {name!r} must be a list, got {type(value).__name__}")
    for k, item in enumerate(value):
        if type(item) is not kind:  # bool is an int subclass: 0/1 are not labels, True is not a step
            raise RowError("wrong_type", f"field {name!r}[{k}] must be {what}, got {type(item).__name__}")
    return tuple(value)


def _field(record: Mapping, name: str) -> Any:
    if name not in record or record[name] is None:
        raise RowError("missing_field", f"missing field {name!r}")
    return record[name]


def _optional_str(record: Mapping, name: str) -> str | None:
    value = record.get(name)
    return None if value is None else str(value)


def to_trl_record(row: StepwiseRow) -> dict[str, Any]:
    """The row in TRL's stepwise format (``prompt``, ``completions``, ``labels``; ``source``/``id`` if set)."""
    record: dict[str, Any] = {"prompt": row.prompt, "completions": list(row.steps), "labels": list(row.labels)}
    if row.source is not None:
        record["source"] = row.source
    if row.id is not None:
        record["id"] = row.id
    return record


# ---------------------------------------------------------------------------------------------
# Formats

STEPWISE_FORMATS: Registry[Callable[[Mapping], StepwiseRow]] = Registry("stepwise format")


@STEPWISE_FORMATS.register("trl")
def parse_trl(record: Mapping) -> StepwiseRow:
    """A TRL stepwise record (``prompt``, ``completions``, ``labels``) as a row."""
    return StepwiseRow(
        prompt=_field(record, "prompt"),
        steps=_field(record, "completions"),
        labels=_field(record, "labels"),
        source=_optional_str(record, "source"),
        id=_optional_str(record, "id"),
    )


MATH_SHEPHERD_TAG = "ки"
_STEP_ONE = re.compile(r"\bstep\s*1\s*[:.](?!\d)", re.IGNORECASE)


@STEPWISE_FORMATS.register("math_shepherd")
def parse_math_shepherd(record: Mapping) -> StepwiseRow:
    """A Math-Shepherd record (``input`` with "ки" tags, ``label`` with "+"/"-") as a row."""
    text, labelled = _field(record, "input"), _field(record, "label")
    if not isinstance(text, str) or not isinstance(labelled, str):
        raise RowError("wrong_type", "fields 'input' and 'label' must be strings")
    pieces = text.split(MATH_SHEPHERD_TAG)  # n tags -> n + 1 pieces
    if len(pieces) < 2:
        raise RowError("bad_tags", f"no step tag {MATH_SHEPHERD_TAG!r} in 'input'")
    labels, pos = [], 0
    for k, piece in enumerate(pieces):
        if not labelled.startswith(piece, pos):
            raise RowError("label_mismatch", f"'label' differs from 'input' in the text before tag {k}")
        pos += len(piece)
        if k < len(pieces) - 1:
            sign = labelled[pos : pos + 1]
            if sign not in ("+", "-"):
                raise RowError("label_mismatch", f"'label' has {sign!r} where tag {k} needs '+' or '-'")
            labels.append(sign == "+")
            pos += 1
    if pos != len(labelled):
        raise RowError("label_mismatch", "'label' is longer than 'input' with its tags replaced")
    if pieces[-1].strip():
        raise RowError("bad_tags", "text after the last tag has no label")
    start = _STEP_ONE.search(pieces[0])
    if start is None:
        raise RowError("bad_tags", "no 'Step 1:' before the first tag to separate the question from the steps")
    steps = [pieces[0][start.start() :]] + pieces[1:-1]
    return StepwiseRow(
        prompt=pieces[0][: start.start()].strip(),
        steps=[s.strip() for s in steps],
        labels=labels,
        source=_optional_str(record, "task"),
        id=_optional_str(record, "id"),
    )


# ---------------------------------------------------------------------------------------------
# Reading records from files or the hub


def iter_records(source: str | Path, split: str = "train") -> Iterator[tuple[str, Any, str | None]]:
    """Yield ``(where, record, error)`` for every row of ``source``; ``error`` is set for unparsable JSON.

    ``source`` is a ``.jsonl``/``.json``/``.parquet`` file, a local dataset folder, or a hub name
    (both through ``datasets.load_dataset(source, split=split)``). A missing local file (a name
    with a file suffix) raises FileNotFoundError; a JSON file that is not a list raises
    :class:`DataFormatError`.
    """
    path = Path(source)
    suffix = path.suffix.lower()
    if path.is_file() or suffix in (".jsonl", ".json", ".parquet"):
        if not path.is_file():
            raise FileNotFoundError(f"no such data file: {path}")
        if suffix == ".jsonl":
            yield from _iter_jsonl(path)
        elif suffix == ".json":
            yield from _iter_json(path)
        elif suffix == ".parquet":
            yield from _iter_parquet(path)
        else:
            raise DataFormatError(str(path), "unknown_suffix", "expected a .jsonl, .json or .parquet file")
        return
    import datasets  # local import: only hub names and dataset folders need it

    for index, record in enumerate(datasets.load_dataset(str(source), split=split)):
        yield f"{source} [split {split}] row {index}", record, None


def _iter_jsonl(path: Path) -> Iterator[tuple[str, Any, str | None]]:
    for line_no, record, error in iter_jsonl(path):
        yield f"{path}:{line_no}", record, error


def _iter_json(path: Path) -> Iterator[tuple[str, Any, str | None]]:
    try:
        data = read_json_file(path)
    except JSONFileError as err:
        raise DataFormatError(err.where, "invalid_json", err.problem) from None
    if not isinstance(data, list):
        raise DataFormatError(str(path), "not_a_list", f"expected a JSON list of rows, got {type(data).__name__}")
    for index, record in enumerate(data):
        yield f"{path} row {index}", record, None


def _iter_parquet(path: Path) -> Iterator[tuple[str, Any, str | None]]:
    try:
        for index, record in enumerate(iter_parquet(path)):
            yield f"{path} row {index}", record, None
    except JSONFileError as err:
        raise DataFormatError(err.where, "unreadable", err.problem) from None


# ---------------------------------------------------------------------------------------------
# Loading with a report


@dataclass
class LoadReport:
    """What a load read, kept and skipped (skipped rows counted per reason, first messages kept)."""

    source: str
    read: int = 0
    kept: int = 0
    skipped: Counter = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    max_examples: int = 5

    def skip(self, error: DataFormatError) -> None:
        """Count a skipped row under its reason and keep its message if there is room."""
        self.skipped[error.reason] += 1
        if len(self.examples) < self.max_examples:
            self.examples.append(str(error))

    def summary(self) -> str:
        """One line: rows read, kept, skipped per reason."""
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(self.skipped.items())) or "none"
        return f"{self.source}: read {self.read}, kept {self.kept}, skipped {sum(self.skipped.values())} ({reasons})"


def check_on_bad_row(on_bad_row: str) -> None:
    """Raise ValueError unless ``on_bad_row`` is "raise" or "skip"."""
    if on_bad_row not in ("raise", "skip"):
        raise ValueError(f"on_bad_row must be 'raise' or 'skip', got {on_bad_row!r}")


def iter_stepwise(
    source: str | Path,
    report: LoadReport,
    format: str = "trl",
    split: str = "train",
    on_bad_row: str = "raise",
) -> Iterator[StepwiseRow]:
    """Yield the valid rows of ``source`` in ``format``, updating ``report`` as it goes.

    A row without an ``id`` gets its location (e.g. ``data.jsonl:12``) as id. Bad rows raise
    :class:`DataFormatError` (``on_bad_row="raise"``) or are counted in ``report`` ("skip").
    """
    check_on_bad_row(on_bad_row)
    parse = STEPWISE_FORMATS.get(format)
    for where, record, error in iter_records(source, split):
        report.read += 1
        try:
            if error is not None:
                raise RowError("not_utf8" if error.startswith("not UTF-8") else "invalid_json", error)
            if not isinstance(record, Mapping):
                raise RowError("not_an_object", f"expected a JSON object, got {type(record).__name__}")
            row = parse(record)
        except RowError as err:
            bad = DataFormatError(where, err.reason, str(err))
            if on_bad_row == "raise":
                raise bad from None
            report.skip(bad)
            continue
        report.kept += 1
        yield row if row.id is not None else replace(row, id=where)


def load_stepwise(
    source: str | Path, format: str = "trl", split: str = "train", on_bad_row: str = "raise"
) -> tuple[list[StepwiseRow], LoadReport]:
    """All valid rows of ``source`` and the :class:`LoadReport` (see :func:`iter_stepwise`).

    >>> rows, report = load_stepwise("HuggingFaceH4/prm800k-trl-dedup")  # doctest: +SKIP
    """
    report = LoadReport(str(source))
    rows = list(iter_stepwise(source, report, format=format, split=split, on_bad_row=on_bad_row))
    return rows, report


# ---------------------------------------------------------------------------------------------
# Writing


def write_trl_jsonl(rows: Iterable[StepwiseRow], path: str | Path) -> int:
    """Write rows as TRL-format JSONL, atomically (a temp file in the same folder, then rename).

    Returns the number of rows written. The file gets mode 0644. On any error (including one
    raised by ``rows`` while it is consumed) the temp file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    count = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(to_trl_record(row), ensure_ascii=False) + "\n")
                count += 1
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return count
