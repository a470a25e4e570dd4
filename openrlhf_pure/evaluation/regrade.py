"""Re-grading: score an existing outputs file with this project's grader, no model needed.

Reads a JSONL file whose rows have at least a response and a gold field (``response`` and
``gold`` by default, so outputs of other harnesses can be scored after renaming, or by naming
their fields), grades every row in the isolated pool and writes each row back, in order, with
``extracted``, ``correct`` and ``reason`` set (existing values are replaced), atomically. A
gold of null is allowed (``correct`` null, reason ``no_gold``, not counted in the accuracy).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from openrlhf_pure.core.grading import Grader
from openrlhf_pure.core.grading.grade import gold_text
from openrlhf_pure.evaluation.benchmarks import DataError, read_jsonl_rows
from openrlhf_pure.evaluation.records import write_jsonl_atomic

GRADE_CHUNK = 256  # rows per grading batch (one progress-bar step)


@dataclass
class RegradeResult:
    """What a re-grade found.

    Attributes:
        rows: rows written.
        graded: rows with a gold answer.
        correct: rows graded correct.
        per_benchmark: ``{benchmark: [correct, graded]}`` for rows that have a ``benchmark`` field.
    """

    rows: int = 0
    graded: int = 0
    correct: int = 0
    per_benchmark: dict[str, list[int]] = field(default_factory=dict)

    @property
    def accuracy(self) -> float:
        """correct / graded (0.0 when nothing was graded)."""
        return self.correct / self.graded if self.graded else 0.0


def read_regrade_rows(path: str | Path, response_key: str = "response", gold_key: str = "gold") -> list[dict]:
    """The rows of ``path``; a row lacking either key raises :class:`DataError` naming its line."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no such file: {path}")
    rows = []
    for where, row in read_jsonl_rows(path):
        for key in (response_key, gold_key):
            if key not in row:
                raise DataError(f"{where}: no field {key!r} (fields: {', '.join(sorted(row))})")
        if not isinstance(row[response_key], str):
            raise DataError(f"{where}: field {response_key!r} must be a string")
        rows.append(row)
    return rows


def regrade_file(
    in_path: str | Path,
    out_path: str | Path,
    grader: Grader | None = None,
    response_key: str = "response",
    gold_key: str = "gold",
    progress: bool = True,
) -> RegradeResult:
    """Grade every row of ``in_path`` and write them to ``out_path`` (module docstring).

    ``out_path`` may equal ``in_path``: the file is replaced only once all rows are graded.
    """
    from tqdm import tqdm

    from openrlhf_pure.core.grading.pool import default_grader

    rows = read_regrade_rows(in_path, response_key, gold_key)
    grader = grader or default_grader()
    result = RegradeResult(rows=len(rows))
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    with tqdm(total=len(rows), desc="regrade", unit="row", disable=not progress) as bar:
        for start in range(0, len(rows), GRADE_CHUNK):
            chunk = rows[start : start + GRADE_CHUNK]
            grades = grader.grade_batch([row[response_key] for row in chunk], [row[gold_key] for row in chunk])
            for row, grade in zip(chunk, grades):
                row.update(extracted=grade.extracted, correct=grade.correct, reason=str(grade.reason))
                if gold_text(row[gold_key]) is None:
                    continue
                result.graded += 1
                result.correct += bool(grade.correct)
                if "benchmark" in row:
                    counts[str(row["benchmark"])][0] += bool(grade.correct)
                    counts[str(row["benchmark"])][1] += 1
            bar.update(len(chunk))
    write_jsonl_atomic(out_path, rows)
    result.per_benchmark = dict(counts)
    return result
