"""ProcessBench loading: the user's <subset>.json files or the hub, validated with file, row and field."""

from __future__ import annotations

import json

import pytest

from openrlhf_pure.data.processbench import (
    PROCESSBENCH_COUNTS,
    PROCESSBENCH_SUBSETS,
    ProcessBenchCase,
    count_mismatches,
    load_processbench,
    load_processbench_file,
    parse_processbench_case,
)
from openrlhf_pure.data.stepwise import DataFormatError


def case(i, label, steps=("Step one.", "Step two.", "So 4."), subset="gsm8k"):
    """A row in the exact format of Qwen/ProcessBench's JSON files."""
    return {
        "id": f"{subset}-{i}",
        "generator": "Qwen2-7B-Instruct",
        "problem": "What is 2 + 2?",
        "steps": list(steps),
        "final_answer_correct": label == -1,
        "label": label,
    }


@pytest.fixture
def bench(tmp_path):
    for subset in PROCESSBENCH_SUBSETS:
        rows = [case(0, -1, subset=subset), case(1, 1, subset=subset)]
        (tmp_path / f"{subset}.json").write_text(json.dumps(rows))
    return tmp_path


def test_folder_of_subset_files_loads_every_subset_in_order(bench):
    loaded = load_processbench(bench)
    assert list(loaded) == ["gsm8k", "math", "olympiadbench", "omnimath"]
    first, second = loaded["math"]
    assert first == ProcessBenchCase(
        "math-0", "Qwen2-7B-Instruct", "What is 2 + 2?", ("Step one.", "Step two.", "So 4."), True, -1
    )
    assert (first.has_error, second.has_error, second.label) == (False, True, 1)


def test_a_chosen_subset_loads_alone(bench):
    assert list(load_processbench(bench, subsets=["omnimath"])) == ["omnimath"]


def test_missing_subset_file_is_named(bench):
    (bench / "math.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"math\.json"):
        load_processbench(bench)


def test_hub_name_reads_each_subset_as_a_split_with_the_same_validation(monkeypatch):
    import datasets

    calls = []

    def fake_load_dataset(name, split):
        calls.append((name, split))
        return [case(0, -1, subset=split), case(1, 5)]  # the second row's label is out of range

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    with pytest.raises(DataFormatError, match=r"Qwen/ProcessBench \[split gsm8k\] row 1: field 'label' is 5"):
        load_processbench("Qwen/ProcessBench", subsets=["gsm8k"])
    assert calls == [("Qwen/ProcessBench", "gsm8k")]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"label": 3}, r"field 'label' is 3, outside \[-1, 2\] for 3 steps"),
        ({"label": -2}, "field 'label' is -2"),
        ({"label": "1"}, "field 'label' must be an int, got str"),
        ({"label": True}, "field 'label' must be an int, got bool"),
        ({"steps": []}, "field 'steps' must be a non-empty list of strings"),
        ({"steps": "Step one."}, "field 'steps' must be a non-empty list"),
        ({"steps": ["a", 2]}, "field 'steps' item 1 must be a string, got int"),
        ({"final_answer_correct": 1}, "field 'final_answer_correct' must be a bool, got int"),
        ({"problem": None}, "field 'problem' is missing"),
        ({"generator": ["x"]}, "field 'generator' must be a string, got list"),
    ],
)
def test_bad_row_error_names_the_file_the_row_index_and_the_field(tmp_path, change, message):
    path = tmp_path / "gsm8k.json"
    path.write_text(json.dumps([case(0, -1), {**case(1, 1), **change}]))
    with pytest.raises(DataFormatError, match=rf"gsm8k\.json row 1: {message}"):
        load_processbench_file(path)


def test_file_that_is_not_a_json_list_is_rejected(tmp_path):
    path = tmp_path / "gsm8k.json"
    path.write_text(json.dumps({"rows": [case(0, -1)]}))
    with pytest.raises(DataFormatError, match="expected a JSON list of rows, got dict"):
        load_processbench_file(path)


def test_subset_names_that_could_escape_the_folder_are_rejected(bench):
    with pytest.raises(ValueError, match="bad ProcessBench subset name '../gsm8k'"):
        load_processbench(bench, subsets=["../gsm8k"])


def test_count_mismatches_flags_an_incomplete_copy_and_passes_the_published_sizes():
    def cases(n_error, n_correct):
        rows = [case(i, 0) for i in range(n_error)] + [case(n_error + i, -1) for i in range(n_correct)]
        return [parse_processbench_case(r, "mem") for r in rows]

    assert count_mismatches({"gsm8k": cases(*PROCESSBENCH_COUNTS["gsm8k"]), "mine": cases(1, 1)}) == []
    assert count_mismatches({"gsm8k": cases(2, 1)}) == ["gsm8k: 2 erroneous / 1 correct cases, expected 207 / 193"]
