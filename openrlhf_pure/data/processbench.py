"""ProcessBench (Zheng et al., 2024): cases for judging a PRM's first-error detection.

The benchmark is on the hub only (``Qwen/ProcessBench``; the subsets are splits: gsm8k, math,
olympiadbench, omnimath) or in the user's copies of its files ``gsm8k.json``, ``math.json``,
``olympiadbench.json``, ``omnimath.json``, each a JSON list of rows with fields:

- ``id`` (str, e.g. "gsm8k-0"), ``generator`` (str, the model that wrote the solution),
  ``problem`` (str), ``steps`` (list of str, the solution's paragraphs),
- ``final_answer_correct`` (bool), ``label`` (int: index of the earliest wrong step, -1 if every
  step is right; so -1 <= label < len(steps)).

Validation is strict, since a benchmark must not lose rows quietly: a bad row raises
:class:`~openrlhf_pure.data.stepwise.DataFormatError` naming the file (or hub split), the
0-based row index and the field. :func:`count_mismatches` compares a copy's case counts with
the published ones (400 / 1000 / 1000 / 1000 cases). Scoring and F1 are in
:mod:`openrlhf_pure.core.prm_metrics`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openrlhf_pure.data.stepwise import DataFormatError, iter_records

PROCESSBENCH_SUBSETS = ("gsm8k", "math", "olympiadbench", "omnimath")
PROCESSBENCH_HUB = "Qwen/ProcessBench"
# (erroneous, correct) cases per subset in the published benchmark (QwenLM/ProcessBench's evaluation code).
PROCESSBENCH_COUNTS = {"gsm8k": (207, 193), "math": (594, 406), "olympiadbench": (661, 339), "omnimath": (759, 241)}


@dataclass(frozen=True)
class ProcessBenchCase:
    """One ProcessBench case: a solution's steps and the index of its first wrong step (-1: none)."""

    id: str
    generator: str
    problem: str
    steps: tuple[str, ...]
    final_answer_correct: bool
    label: int

    @property
    def has_error(self) -> bool:
        """Whether some step is wrong (``label != -1``)."""
        return self.label != -1


def parse_processbench_case(record: Any, where: str) -> ProcessBenchCase:
    """Validate one row; ``where`` (file and row) prefixes every error message."""

    def fail(name: str, message: str) -> DataFormatError:
        return DataFormatError(where, "bad_field", f"field {name!r} {message}")

    if not isinstance(record, Mapping):
        raise DataFormatError(where, "not_an_object", f"expected a JSON object, got {type(record).__name__}")
    for name in ("id", "generator", "problem", "steps", "final_answer_correct", "label"):
        if record.get(name) is None:
            raise fail(name, "is missing")
    if not isinstance(record["id"], str | int) or isinstance(record["id"], bool):
        raise fail("id", f"must be a string, got {type(record['id']).__name__}")
    for name in ("generator", "problem"):
        if not isinstance(record[name], str):
            raise fail(name, f"must be a string, got {type(record[name]).__name__}")
    steps = record["steps"]
    if not isinstance(steps, list | tuple) or not steps:
        raise fail("steps", "must be a non-empty list of strings")
    for k, step in enumerate(steps):
        if not isinstance(step, str):
            raise fail("steps", f"item {k} must be a string, got {type(step).__name__}")
    if not isinstance(record["final_answer_correct"], bool):
        raise fail("final_answer_correct", f"must be a bool, got {type(record['final_answer_correct']).__name__}")
    label = record["label"]
    if not isinstance(label, int) or isinstance(label, bool):
        raise fail("label", f"must be an int, got {type(label).__name__}")
    if not -1 <= label < len(steps):
        raise fail("label", f"is {label}, outside [-1, {len(steps) - 1}] for {len(steps)} steps")
    return ProcessBenchCase(
        id=str(record["id"]),
        generator=record["generator"],
        problem=record["problem"],
        steps=tuple(steps),
        final_answer_correct=record["final_answer_correct"],
        label=label,
    )


def count_mismatches(bench: Mapping[str, list[ProcessBenchCase]]) -> list[str]:
    """One message per known subset whose (erroneous, correct) counts differ from the published ones.

    An empty list means the user's copy is complete; unknown subset names are not checked.
    """
    messages = []
    for name, cases in bench.items():
        if name in PROCESSBENCH_COUNTS:
            found = (sum(c.has_error for c in cases), sum(not c.has_error for c in cases))
            if found != PROCESSBENCH_COUNTS[name]:
                messages.append(
                    f"{name}: {found[0]} erroneous / {found[1]} correct cases, expected "
                    f"{PROCESSBENCH_COUNTS[name][0]} / {PROCESSBENCH_COUNTS[name][1]}"
                )
    return messages


def load_processbench_file(path: str | Path) -> list[ProcessBenchCase]:
    """All cases of one ProcessBench JSON file (a list of rows), validated."""
    return [parse_processbench_case(record, where) for where, record, _ in iter_records(path)]


def load_processbench(
    source: str | Path = PROCESSBENCH_HUB, subsets: Iterable[str] = PROCESSBENCH_SUBSETS
) -> dict[str, list[ProcessBenchCase]]:
    """The cases of each subset, from a folder holding ``<subset>.json`` files or a hub name.

    An existing local folder is read file by file (a missing subset file raises
    FileNotFoundError naming it); anything else is a hub name, read split by split with
    ``datasets.load_dataset(source, split=subset)`` and validated by the same code.

    >>> bench = load_processbench("Qwen/ProcessBench", subsets=["gsm8k"])  # doctest: +SKIP
    """
    subsets = list(subsets)
    for name in subsets:
        if not name or "/" in name or name.startswith("."):
            raise ValueError(f"bad ProcessBench subset name {name!r}; known: {', '.join(PROCESSBENCH_SUBSETS)}")
    folder = Path(source)
    if folder.is_dir():
        files = {name: folder / f"{name}.json" for name in subsets}
        missing = [str(path) for path in files.values() if not path.is_file()]
        if missing:
            raise FileNotFoundError(f"ProcessBench file(s) not found: {', '.join(missing)}")
        return {name: load_processbench_file(path) for name, path in files.items()}
    if folder.suffix.lower() == ".json":
        raise FileNotFoundError(f"expected a folder of ProcessBench files or a hub name, got missing file {folder}")
    return {
        name: [parse_processbench_case(record, where) for where, record, _ in iter_records(str(source), split=name)]
        for name in subsets
    }
