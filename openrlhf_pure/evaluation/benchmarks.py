"""Benchmarks: the registry of PURE's five evaluation sets and loaders for user data.

Field mapping of the shipped files (``eval/data/<name>/test.jsonl``, provenance in
``eval/data/SOURCES.md``), as the Qwen2.5-Math toolkit reads them:

| name | rows | problem | gold answer |
|---|---|---|---|
| math500 | 500 | ``problem`` | ``answer`` |
| minerva_math | 272 | ``problem`` | the last ``\\boxed{}`` of ``solution`` (units kept) |
| olympiadbench | 675 | ``question`` | ``final_answer[0]`` with ``$`` stripped at both ends |
| aime24 | 30 | ``problem`` | ``answer`` (a string such as "025") |
| amc23 | 40 | ``question`` | ``answer`` (a float such as 27.0, written "27") |

A gold that is a whole float is written as an integer ("27"); other numbers through ``str``.
A shipped file is checked against ``eval/data/checksums.sha256`` and its row count before it
is read: an edited, truncated or empty copy is an error, never a smaller benchmark.
User data (:func:`load_dataset_file`): a JSONL or Parquet file, or a hub dataset name, with
explicit problem and answer keys; a key may be dotted to reach into lists and dicts
(``final_answer.0``). Every error names the file and the line (or row) it comes from.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from openrlhf_pure.core.grading.extract import last_boxed
from openrlhf_pure.data.jsonl import JSONFileError, iter_jsonl, iter_parquet
from openrlhf_pure.data.sources import source_problem

DATA_DIR_ENV = "PURE_EVAL_DATA"
CHECKSUMS_FILE = "checksums.sha256"  # "<sha256>  <name>/test.jsonl" per line, in the data directory


class DataError(ValueError):
    """Bad evaluation input: an unknown benchmark, a missing file or field, a malformed line."""


@dataclass(frozen=True)
class Problem:
    """One evaluation problem.

    Attributes:
        benchmark: the benchmark's name (``math500``, or a user dataset's name).
        index: the row's position in its file, from 0.
        question: the problem text (before any prompt template).
        gold: the reference answer, as text.
    """

    benchmark: str
    index: int
    question: str
    gold: str


@dataclass(frozen=True)
class BenchmarkSpec:
    """A registered benchmark.

    Attributes:
        name: registry key, e.g. ``minerva_math``.
        label: its column in summaries (PURE.md's names: MATH500, Minerva, Olympiad, AIME24, AMC23).
        rows: number of rows of the shipped file.
        problem_key: the field holding the problem text.
        gold_of: reads the gold answer from a row; ``where`` ("file:line") is for error messages.
    """

    name: str
    label: str
    rows: int
    problem_key: str
    gold_of: Callable[[dict, str], str]

    @property
    def relative_path(self) -> str:
        """The file under the data directory."""
        return f"{self.name}/test.jsonl"


BENCHMARKS: dict[str, BenchmarkSpec] = {}  # in PURE.md's column order


def register_benchmark(name: str, label: str, rows: int, problem_key: str):
    """Decorator: register ``gold_of(row, where) -> str`` as benchmark ``name``."""

    def decorate(gold_of: Callable[[dict, str], str]) -> Callable[[dict, str], str]:
        BENCHMARKS[name] = BenchmarkSpec(name, label, rows, problem_key, gold_of)
        return gold_of

    return decorate


def field(row: dict, key: str, where: str):
    """``row[key]``, where a dotted key reaches into dicts and lists (``final_answer.0``).

    Raises:
        DataError: naming ``where`` and the row's fields when the key is missing.
    """
    value = row
    for part in key.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.lstrip("-").isdigit() and -len(value) <= int(part) < len(value):
            value = value[int(part)]
        else:
            fields = ", ".join(sorted(row)) if isinstance(row, dict) else type(row).__name__
            raise DataError(f"{where}: no field {key!r} (fields: {fields})")
    return value


def answer_text(value, where: str) -> str:
    """A gold value as non-empty text: whole floats as integers (27.0 -> "27")."""
    if isinstance(value, bool) or value is None or isinstance(value, (dict, list)):
        raise DataError(f"{where}: gold answer must be a string or a number, got {value!r}")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    if not text:
        raise DataError(f"{where}: empty gold answer")
    return text


@register_benchmark("math500", "MATH500", 500, "problem")
def _math500_gold(row: dict, where: str) -> str:
    return answer_text(field(row, "answer", where), where)


@register_benchmark("minerva_math", "Minerva", 272, "problem")
def _minerva_gold(row: dict, where: str) -> str:
    boxed = last_boxed(str(field(row, "solution", where)))
    if boxed is None:
        raise DataError(f"{where}: no \\boxed{{}} answer in field 'solution'")
    return answer_text(boxed, where)


@register_benchmark("olympiadbench", "Olympiad", 675, "question")
def _olympiad_gold(row: dict, where: str) -> str:
    return answer_text(str(field(row, "final_answer.0", where)).strip().strip("$"), where)


@register_benchmark("aime24", "AIME24", 30, "problem")
def _aime24_gold(row: dict, where: str) -> str:
    return answer_text(field(row, "answer", where), where)


@register_benchmark("amc23", "AMC23", 40, "question")
def _amc23_gold(row: dict, where: str) -> str:
    return answer_text(field(row, "answer", where), where)


def default_data_dir() -> Path:
    """``$PURE_EVAL_DATA`` if set, else the repository's ``eval/data`` next to the package."""
    env = os.environ.get(DATA_DIR_ENV)
    return Path(env) if env else Path(__file__).resolve().parents[2] / "eval" / "data"


def benchmark_spec(name: str) -> BenchmarkSpec:
    """The registered benchmark ``name``; an unknown name raises a :class:`DataError` listing the known ones."""
    if name not in BENCHMARKS:
        raise DataError(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}")
    return BENCHMARKS[name]


def benchmark_file(name: str, data_dir: str | Path | None = None) -> Path:
    """Path of a registered benchmark's file; raises :class:`DataError` when it is not there."""
    spec = benchmark_spec(name)
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    path = root / spec.relative_path
    if not path.is_file():
        raise DataError(f"benchmark file {path} not found; pass --data_dir (or set ${DATA_DIR_ENV}) to eval/data")
    return path


def check_published_copy(path: Path, spec: BenchmarkSpec) -> None:
    """Compare a benchmark file with the ``checksums.sha256`` of its data directory, when it lists it.

    Raises:
        DataError: naming the file when its sha256 differs from the listed one (an edited,
            truncated or empty copy).
    """
    listing = path.parents[1] / CHECKSUMS_FILE
    if not listing.is_file():
        return
    expected = {}
    for line in listing.read_text(encoding="utf-8").splitlines():
        digest, _, name = line.strip().partition("  ")
        if name:
            expected[name.strip()] = digest
    if spec.relative_path not in expected:
        return
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    if actual != expected[spec.relative_path]:
        size = path.stat().st_size
        raise DataError(
            f"{path} ({size} bytes) is not the published {spec.label} file: its sha256 {actual[:16]}... differs "
            f"from {listing.name} ({expected[spec.relative_path][:16]}...); restore it (git checkout {path}) or "
            "evaluate your own copy with --dataset"
        )


def load_benchmark(name: str, data_dir: str | Path | None = None, limit: int | None = None) -> list[Problem]:
    """The problems of a registered benchmark, in file order (the first ``limit`` when given).

    The file is checked against its data directory's ``checksums.sha256`` (when listed there);
    an empty file, or a whole file whose row count differs from the published one, is an error.
    """
    spec = benchmark_spec(name)
    path = benchmark_file(name, data_dir)
    check_published_copy(path, spec)
    problems = []
    for index, (where, row) in enumerate(read_jsonl_rows(path)):
        if limit is not None and index >= limit:
            break
        question = _question(field(row, spec.problem_key, where), spec.problem_key, where)
        problems.append(Problem(name, index, question, spec.gold_of(row, where)))
    if not problems:
        raise DataError(f"{path}: no rows (an empty benchmark file); restore it from eval/data")
    if limit is None and len(problems) != spec.rows:
        raise DataError(f"{path}: {len(problems)} rows, the published {spec.label} has {spec.rows}")
    return problems


def load_dataset_file(
    source: str,
    problem_key: str,
    answer_key: str,
    name: str | None = None,
    split: str = "test",
    limit: int | None = None,
) -> list[Problem]:
    """Problems from a user dataset: a ``.jsonl``/``.json`` (one object a line) or ``.parquet``
    file, or else a hub dataset name (``datasets.load_dataset(source, split=split)``).

    Args:
        source: the file path or hub name.
        problem_key: field with the problem text (dotted keys reach into lists and dicts).
        answer_key: field with the gold answer.
        name: the benchmark name in outputs (default: the file's stem, or the hub name's last part).
        split: the hub split.
        limit: keep the first ``limit`` rows.
    """
    path = Path(source)
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix == ".parquet":
            rows = _read_parquet_rows(path)
        elif suffix in (".jsonl", ".json"):
            rows = read_jsonl_rows(path)
        else:
            raise DataError(f"{path}: unsupported file type {suffix!r} (use .jsonl or .parquet)")
        default_name = path.stem
    elif (problem := source_problem("--dataset", source, "data")) is not None:
        raise DataError(problem)
    else:
        rows = _read_hub_rows(source, split)
        default_name = source.rstrip("/").split("/")[-1]
    name = name or default_name
    problems = []
    for index, (where, row) in enumerate(rows):
        if limit is not None and index >= limit:
            break
        question = _question(field(row, problem_key, where), problem_key, where)
        problems.append(Problem(name, index, question, answer_text(field(row, answer_key, where), where)))
    if not problems:
        raise DataError(f"{source}: no rows")
    return problems


def read_jsonl_rows(path: str | Path) -> Iterator[tuple[str, dict]]:
    """(``"file:line"``, row) for each non-blank line of a JSONL file; a bad line raises :class:`DataError`."""
    for line_number, row, error in iter_jsonl(path):
        where = f"{path}:{line_number}"
        if error is not None:
            raise DataError(f"{where}: {error}")
        if not isinstance(row, dict):
            raise DataError(f"{where}: expected a JSON object, got {type(row).__name__}")
        yield where, row


def _read_parquet_rows(path: Path) -> Iterator[tuple[str, dict]]:
    try:
        for number, row in enumerate(iter_parquet(path), start=1):
            yield f"{path}:row {number}", row
    except JSONFileError as error:
        raise DataError(str(error)) from None


def _read_hub_rows(name: str, split: str) -> Iterator[tuple[str, dict]]:
    import datasets

    try:
        dataset = datasets.load_dataset(name, split=split)
    except Exception as error:  # noqa: BLE001 - any hub failure becomes one clear message
        raise DataError(f"cannot load dataset {name!r} (split {split!r}): {error}") from error
    for number, row in enumerate(dataset, start=1):
        yield f"{name}[{split}]:row {number}", dict(row)


def _question(value, key: str, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"{where}: field {key!r} must be a non-empty string")
    return value
