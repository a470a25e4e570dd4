"""PRM800K raw labels (openai/prm800k ``data/phase{1,2}_{train,test}.jsonl``) to stepwise rows.

What this relies on in a line (per the openai/prm800k README): ``question.problem`` (the
prompt); ``label.steps`` (a list, one entry per solution step), each with ``completions`` (a
list of ``{"text", "rating", "flagged"}``; ``rating`` in {-1, 0, +1} or null when unrated; the
list itself may be null), ``chosen_completion`` (index of the completion the trajectory
continues with, or null) and ``human_completion`` (phase 1 only: a step a labeler wrote after
every completion was rated -1; a ``{"text", ...}`` object, a plain string is accepted too);
``label.finish_reason`` in solution / found_error / give_up / bad_problem; and the flags
``is_quality_control_question`` (a solution served to every labeler to check them) and
``is_initial_screening_question`` (generation -1, used to screen labelers).

Rules (PURE.md section 3):

- Ratings +1 and 0 are correct, -1 incorrect (``neutral_is_correct=False``: only +1 is correct,
  as in TRL's own conversion script).
- The chosen completion is followed. At a step whose ``chosen_completion`` is null, the first
  completion rated -1 is taken (the step where the labeler found the error; in phase 2 it is the
  pre-generated step) and the trajectory ends there. With ``follow_human_completion=True`` a
  human completion at such a step is taken instead, labelled correct, and the trajectory goes on.
- A trajectory is cut after its first incorrect step (later steps are dropped and counted).
- A chosen completion with a null rating stops the trajectory before it: the rated prefix is
  kept (``keep_unrated_prefix=True``, default) or the whole line is excluded. A step with no
  chosen completion, no -1 completion and no human completion followed also stops it there.
- ``branch_alternatives=True`` also emits, for every rated completion that the trajectory did not
  take, a row "prefix + that completion" (TRL's script does this; it multiplies phase-1 rows).
- Quality-control and screening lines, and lines finished as bad_problem or give_up, are excluded
  by default; each has an ``include_*`` option. Exclusion reasons are checked in the order
  screening, quality_control, bad_problem, give_up, then the structure of the line.
- Identical rows (same prompt, steps and labels) are written once (``deduplicate=True``; the
  PURE authors trained on a deduplicated set).

Nothing is dropped silently: :class:`Prm800kReport` counts excluded lines per reason, and notes
on kept lines (cut after an error, stopped at an unrated step, human completion not followed,
flagged steps), branch rows and duplicate rows. Malformed lines (missing fields, wrong types,
unknown rating or finish reason, an out-of-range ``chosen_completion``) raise
:class:`~openrlhf_pure.data.stepwise.DataFormatError` naming file and line, or with
``on_bad_row="skip"`` are counted as ``malformed``.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from openrlhf_pure.data.stepwise import (
    DataFormatError,
    RowError,
    StepwiseRow,
    check_on_bad_row,
    iter_records,
    write_trl_jsonl,
)

FINISH_REASONS = ("solution", "found_error", "give_up", "bad_problem")
RATINGS = (-1, 0, 1, None)


@dataclass(frozen=True)
class Prm800kOptions:
    """How PRM800K lines become stepwise rows (defaults: PURE's rules; see the module docstring).

    Args:
        include_quality_control: keep lines with ``is_quality_control_question`` (duplicated
            across labelers).
        include_screening: keep lines with ``is_initial_screening_question``.
        include_bad_problem: keep lines finished as ``bad_problem`` (the labeler found the
            problem broken).
        include_give_up: keep lines finished as ``give_up`` (their rated prefix).
        keep_unrated_prefix: at an unrated chosen step keep the steps before it (else exclude).
        neutral_is_correct: rating 0 counts as correct (PURE); False: only +1 does.
        follow_human_completion: continue through a phase-1 human completion, labelled correct.
        branch_alternatives: also emit a row for each rated completion not taken.
        deduplicate: write identical rows once.
        on_bad_row: "raise" (default) or "skip" malformed lines (counted as ``malformed``).

    >>> Prm800kOptions(include_give_up=True).include_give_up
    True
    """

    include_quality_control: bool = False
    include_screening: bool = False
    include_bad_problem: bool = False
    include_give_up: bool = False
    keep_unrated_prefix: bool = True
    neutral_is_correct: bool = True
    follow_human_completion: bool = False
    branch_alternatives: bool = False
    deduplicate: bool = True
    on_bad_row: str = "raise"

    def __post_init__(self):
        check_on_bad_row(self.on_bad_row)


@dataclass
class Prm800kReport:
    """Counts of a conversion.

    Attributes:
        lines: JSON lines read.
        rows: rows produced (after deduplication), branch rows included.
        excluded: lines that produced no row, per reason (screening, quality_control,
            bad_problem, give_up, malformed, no_steps, no_labelled_steps, unrated).
        notes: kept lines with something to know, per note (cut_after_error, stopped_at_unrated,
            stopped_without_choice, human_completion_not_followed, flagged_step).
        branch_rows: rows from alternative completions (``branch_alternatives``).
        duplicate_rows: rows not written because an identical row was.
        examples: the first messages of malformed lines.
    """

    lines: int = 0
    rows: int = 0
    excluded: Counter = field(default_factory=Counter)
    notes: Counter = field(default_factory=Counter)
    branch_rows: int = 0
    duplicate_rows: int = 0
    examples: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """A few human-readable lines."""
        excluded = ", ".join(f"{k} {v}" for k, v in sorted(self.excluded.items())) or "none"
        notes = ", ".join(f"{k} {v}" for k, v in sorted(self.notes.items())) or "none"
        lines = [
            f"lines read: {self.lines}",
            f"rows written: {self.rows} (branch rows {self.branch_rows}, duplicates dropped {self.duplicate_rows})",
            f"lines excluded: {sum(self.excluded.values())} ({excluded})",
            f"notes on kept lines: {notes}",
        ]
        return "\n".join(lines + [f"malformed: {m}" for m in self.examples])

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-serialisable data."""
        data = asdict(self)
        data["excluded"], data["notes"] = dict(self.excluded), dict(self.notes)
        return data


# ---------------------------------------------------------------------------------------------
# One line


def _get(mapping: Any, name: str, kind: type, where: str, optional: bool = False) -> Any:
    """``mapping[name]`` checked to be a ``kind`` (or None when ``optional``), else a "malformed" RowError."""
    if not isinstance(mapping, Mapping):
        raise RowError("malformed", f"{where} must be an object, got {type(mapping).__name__}")
    value = mapping.get(name)
    if value is None:
        if optional:
            return None
        raise RowError("malformed", f"missing field {where}.{name}")
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):  # True is not an index
        raise RowError("malformed", f"field {where}.{name} has type {type(value).__name__}, expected {kind.__name__}")
    return value


def _completions(step: Mapping, k: int) -> list[tuple[str, int | None, bool]]:
    """(text, rating, flagged) of each completion of step ``k``."""
    items = _get(step, "completions", list, f"label.steps[{k}]", optional=True) or []
    out = []
    for j, item in enumerate(items):
        where = f"label.steps[{k}].completions[{j}]"
        text = _get(item, "text", str, where)
        rating = _get(item, "rating", int, where, optional=True)
        if rating not in RATINGS:
            raise RowError("malformed", f"{where}.rating is {rating}, expected -1, 0, 1 or null")
        out.append((text, rating, bool(item.get("flagged"))))
    return out


def _human_text(step: Mapping) -> str | None:
    human = step.get("human_completion")
    if isinstance(human, Mapping):
        human = human.get("text")
    return human if isinstance(human, str) and human.strip() else None


def _exclusion_by_flags(line: Any, options: Prm800kOptions) -> str | None:
    finish = _get(_get(line, "label", Mapping, "line"), "finish_reason", str, "label")
    if line.get("is_initial_screening_question") and not options.include_screening:
        return "screening"
    if line.get("is_quality_control_question") and not options.include_quality_control:
        return "quality_control"
    if finish not in FINISH_REASONS:
        raise RowError("malformed", f"label.finish_reason is {finish!r}, expected one of {', '.join(FINISH_REASONS)}")
    if finish == "bad_problem" and not options.include_bad_problem:
        return "bad_problem"
    if finish == "give_up" and not options.include_give_up:
        return "give_up"
    return None


def convert_line(line: Mapping, options: Prm800kOptions, notes: Counter) -> tuple[list[StepwiseRow], str | None]:
    """The rows of one PRM800K line (main trajectory first, then branches) or an exclusion reason.

    Returns ``(rows, None)`` or ``([], reason)``; adds notes on a kept line to ``notes``.
    Raises :class:`RowError` (reason "malformed") for a line that breaks the format.
    """
    reason = _exclusion_by_flags(line, options)
    if reason is not None:
        return [], reason
    prompt = _get(_get(line, "question", Mapping, "line"), "problem", str, "question")
    steps = _get(line["label"], "steps", list, "label")
    if not steps:
        return [], "no_steps"

    def correct(rating: int) -> bool:
        return rating == 1 or (rating == 0 and options.neutral_is_correct)

    texts: list[str] = []
    labels: list[bool] = []
    branches: list[tuple[list[str], list[bool]]] = []
    line_notes: list[str] = []
    stop = None
    for k, step in enumerate(steps):
        completions = _completions(step, k)
        chosen = _get(step, "chosen_completion", int, f"label.steps[{k}]", optional=True)
        if chosen is not None and not 0 <= chosen < len(completions):
            raise RowError("malformed", f"label.steps[{k}].chosen_completion {chosen} is out of range")
        human = _human_text(step)
        if chosen is None and not (human is not None and options.follow_human_completion):
            chosen = next((j for j, c in enumerate(completions) if c[1] == -1), None)
            if human is not None:
                line_notes.append("human_completion_not_followed")
        if options.branch_alternatives:
            for j, (text, rating, _) in enumerate(completions):
                if j != chosen and rating is not None:
                    branches.append((texts + [text], labels + [correct(rating)]))
        if chosen is None:
            if human is None or not options.follow_human_completion:
                stop = "stopped_without_choice"
                break
            texts.append(human)
            labels.append(True)
            continue
        text, rating, flagged = completions[chosen]
        if rating is None:
            stop = "stopped_at_unrated"
            break
        texts.append(text)
        labels.append(correct(rating))
        line_notes.extend(["flagged_step"] if flagged else [])
        if rating == -1:
            stop = "cut_after_error" if k < len(steps) - 1 else None
            break

    if stop == "stopped_at_unrated" and not options.keep_unrated_prefix:
        return [], "unrated"
    if not texts:
        return [], "unrated" if stop == "stopped_at_unrated" else "no_labelled_steps"
    notes.update(set(line_notes + ([stop] if stop else [])))
    return [StepwiseRow(prompt, t, lab, source="prm800k") for t, lab in [(texts, labels), *branches]], None


# ---------------------------------------------------------------------------------------------
# Files


def _row_key(row: StepwiseRow) -> bytes:
    payload = json.dumps([row.prompt, row.steps, row.labels], ensure_ascii=False).encode("utf-8")
    return hashlib.blake2b(payload, digest_size=16).digest()


def iter_prm800k(
    paths: Iterable[str | Path], options: Prm800kOptions | None = None, report: Prm800kReport | None = None
) -> Iterator[StepwiseRow]:
    """Yield the stepwise rows of PRM800K JSONL files, counting everything in ``report``.

    Row ids are ``<file name>:<line>`` for a trajectory and ``<file name>:<line>/<n>`` for its
    n-th branch row.
    """
    options = options or Prm800kOptions()
    report = report if report is not None else Prm800kReport()
    seen: set[bytes] = set()
    for path in paths:
        name = Path(path).name
        for where, line, error in iter_records(path):
            report.lines += 1
            try:
                if error is not None:
                    raise RowError("malformed", error)
                rows, reason = convert_line(line, options, report.notes)
            except RowError as err:
                if options.on_bad_row == "raise":
                    raise DataFormatError(where, "malformed", str(err)) from None
                report.excluded["malformed"] += 1
                if len(report.examples) < 5:
                    report.examples.append(f"{where}: {err}")
                continue
            if reason is not None:
                report.excluded[reason] += 1
                continue
            where = where.replace(str(Path(path)), name, 1)
            for n, row in enumerate(rows):
                key = _row_key(row)
                if options.deduplicate and key in seen:
                    report.duplicate_rows += 1
                    continue
                seen.add(key)
                report.rows += 1
                report.branch_rows += n > 0
                yield replace(row, id=where + (f"/{n}" if n else ""))


def convert_prm800k(
    paths: Iterable[str | Path], out: str | Path, options: Prm800kOptions | None = None
) -> Prm800kReport:
    """Convert PRM800K JSONL files to one TRL-format JSONL file (written atomically).

    >>> report = convert_prm800k(["phase2_train.jsonl"], "prm800k_trl.jsonl")  # doctest: +SKIP
    >>> print(report.summary())  # doctest: +SKIP
    """
    report = Prm800kReport()
    write_trl_jsonl(iter_prm800k(paths, options, report), out)
    return report
