"""Per-sample records: one JSON object a line, appended as generation goes, resumable.

A record has the fields of :data:`RECORD_FIELDS`; (benchmark, index, sample) is its key.
:class:`RecordWriter` appends each record as one ``write`` of one line and flushes after each
chunk, so a crash loses at most the chunk in flight and leaves at worst one truncated last
line. :func:`load_records` reads the file back: a last line without its newline, or one that
is not valid JSON, is what a crash leaves; it is cut off the file (and its sample generated
again). A bad line anywhere else is corruption and raises :class:`DataError` with its line.

Summaries, re-graded files and charts are written atomically (:func:`openrlhf_pure.atomic.atomic_path`): to a
temporary file in the same directory, then ``os.replace``d over the target.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from openrlhf_pure.atomic import write_text_atomic
from openrlhf_pure.evaluation.benchmarks import DataError

RECORD_FIELDS = (
    "benchmark",
    "index",
    "sample",
    "prompt",
    "response",
    "extracted",
    "gold",
    "correct",
    "reason",
    "finish_reason",
    "prompt_tokens",
    "response_tokens",
)
KEY_FIELDS = ("benchmark", "index", "sample")

RecordKey = tuple[str, int, int]


def record_key(record: dict) -> RecordKey:
    """(benchmark, index, sample) of a record."""
    return record["benchmark"], int(record["index"]), int(record["sample"])


def load_records(path: str | Path, repair: bool = True) -> dict[RecordKey, dict]:
    """The records of a samples file by key (empty when the file does not exist).

    Args:
        path: the JSONL file.
        repair: cut a truncated last line off the file (module docstring).
    Raises:
        DataError: a bad line that is not the last one, or a record without its key fields.
    """
    path = Path(path)
    if not path.exists():
        return {}
    data = path.read_bytes()
    records: dict[RecordKey, dict] = {}
    lines = data.split(b"\n")
    good_end = 0  # byte offset just past the last complete, valid line
    offset = 0
    for number, raw in enumerate(lines, start=1):
        last = number == len(lines)  # the piece after the final newline ("" for a clean file)
        if raw.strip():
            try:
                record = None if last else json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                record = None
            if not isinstance(record, dict):
                if not last and any(rest.strip() for rest in lines[number:]):
                    raise DataError(f"{path}:{number}: not valid JSON (and not the last line: the file is corrupt)")
                break  # a truncated last line (a crash mid-write)
            missing = [name for name in KEY_FIELDS if name not in record]
            if missing:
                raise DataError(f"{path}:{number}: record without field(s) {', '.join(missing)}")
            records[record_key(record)] = record
        offset += len(raw) + 1
        good_end = min(offset, len(data))
    if repair and good_end < len(data):
        with open(path, "r+b") as f:
            f.truncate(good_end)
    return records


class RecordWriter:
    """Appends records to a samples file, one line each; use as a context manager."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed by close() / __exit__

    def write(self, records: list[dict]) -> None:
        """Append ``records`` and flush them to the operating system (and to disk)."""
        for record in records:
            self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        """Close the file."""
        self._file.close()

    def __enter__(self) -> RecordWriter:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def write_jsonl_atomic(path: str | Path, rows: list[dict]) -> Path:
    """Write ``rows`` as JSONL to ``path`` atomically; returns ``path``."""
    return write_text_atomic(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
