"""Reading JSON data files line by line, so that every problem names its file and line.

Every loader of the project reads through these functions: JSONL files are split on ``\\n``
and each line is decoded and parsed on its own, so bytes that are not UTF-8, or a line that is
not JSON, give one message naming the file, the line and the column (a loader in skip mode
counts the line and goes on); a whole-file ``.json`` list names the line of its first bad byte;
a Parquet file that cannot be read names the file. A UTF-8 byte-order mark at the start of a
file is accepted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any


class JSONFileError(ValueError):
    """A file that cannot be read as a whole (not UTF-8, not JSON, not Parquet).

    Attributes:
        where: the file, with the line when one is known (``data.json:3``).
        problem: what is wrong there.
    """

    def __init__(self, where: str, problem: str):
        super().__init__(f"{where}: {problem}")
        self.where, self.problem = where, problem


def _decode(raw: bytes, first: bool) -> str:
    """One line's text; raises UnicodeDecodeError."""
    return raw.decode("utf-8-sig" if first else "utf-8")


def _undecodable(raw: bytes, err: UnicodeDecodeError) -> str:
    return f"not UTF-8 text (byte 0x{raw[err.start]:02x} at column {err.start + 1})"


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, Any, str | None]]:
    """``(line number, value, error)`` for each non-blank line of a JSONL file (lines from 1).

    ``value`` is the parsed JSON (None when ``error`` is set); ``error`` says why a line could not
    be read: bytes that are not UTF-8 or text that is not JSON, with the column.

    >>> import tempfile, os
    >>> f = tempfile.NamedTemporaryFile("wb", suffix=".jsonl", delete=False)
    >>> _ = f.write(b'{"a": 1}\\n\\n\\xff\\n'); f.close()
    >>> list(iter_jsonl(f.name))
    [(1, {'a': 1}, None), (3, None, 'not UTF-8 text (byte 0xff at column 1)')]
    >>> os.unlink(f.name)
    """
    with open(path, "rb") as handle:
        for line_no, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                text = _decode(raw, line_no == 1)
            except UnicodeDecodeError as err:
                yield line_no, None, _undecodable(raw, err)
                continue
            try:
                yield line_no, json.loads(text), None
            except json.JSONDecodeError as err:
                yield line_no, None, f"not valid JSON ({err.msg} at column {err.colno})"


def read_json_file(path: str | Path) -> Any:
    """The JSON value of a whole file; raises :class:`JSONFileError` naming the file and line."""
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        raise JSONFileError(
            f"{path}:{line}", f"not UTF-8 text (byte 0x{data[err.start]:02x} at column {column})"
        ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise JSONFileError(f"{path}:{err.lineno}", f"not valid JSON ({err.msg} at column {err.colno})") from None


def iter_parquet(path: str | Path, batch_size: int = 1024) -> Iterator[dict]:
    """The rows of a Parquet file, in order; a file Parquet cannot read raises :class:`JSONFileError`."""
    import pyarrow as pa
    import pyarrow.parquet as pq  # local import: pyarrow comes with datasets

    try:
        reader = pq.ParquetFile(path)
        for batch in reader.iter_batches(batch_size=batch_size):
            yield from batch.to_pylist()
    except (pa.ArrowException, OSError) as err:
        raise JSONFileError(str(path), f"not a readable Parquet file ({err})") from None
