"""Benchmark registry: the field mapping of the five shipped files, user data, bad input."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest

from openrlhf_pure.evaluation.benchmarks import (
    BENCHMARKS,
    DataError,
    load_benchmark,
    load_dataset_file,
)

DATA = Path(__file__).resolve().parents[2] / "eval" / "data"
EXPECTED_ROWS = {"math500": 500, "minerva_math": 272, "olympiadbench": 675, "aime24": 30, "amc23": 40}


def test_registry_is_in_pure_column_order():
    assert list(BENCHMARKS) == list(EXPECTED_ROWS)
    assert [spec.label for spec in BENCHMARKS.values()] == ["MATH500", "Minerva", "Olympiad", "AIME24", "AMC23"]


@pytest.mark.parametrize("name", list(EXPECTED_ROWS))
def test_every_row_of_the_shipped_file_loads_with_a_question_and_a_gold(name):
    problems = load_benchmark(name)
    assert len(problems) == EXPECTED_ROWS[name] == BENCHMARKS[name].rows
    assert [p.index for p in problems] == list(range(len(problems)))
    assert all(p.benchmark == name and p.question.strip() and p.gold.strip() for p in problems)


def test_field_mapping_hand_checked_rows():
    assert load_benchmark("math500", limit=1)[0].gold == "\\left( 3, \\frac{\\pi}{2} \\right)"
    assert load_benchmark("minerva_math", limit=1)[0].gold == "1.6"  # last \boxed{} of the solution
    amc = load_benchmark("amc23", limit=1)[0]
    assert amc.gold == "27" and amc.question.startswith("Cities $A$ and $B$")  # 27.0 -> "27", field "question"
    aime = load_benchmark("aime24")
    assert aime[0].question.startswith("Every morning Aya") and aime[0].gold == "204"
    assert any(p.gold.startswith("0") for p in aime)  # "025"-style golds are kept as written


def test_olympiad_gold_is_the_first_final_answer_without_dollars():
    lines = (DATA / "olympiadbench" / "test.jsonl").read_text(encoding="utf-8").splitlines()
    raw = [json.loads(line)["final_answer"][0] for line in lines]
    golds = [p.gold for p in load_benchmark("olympiadbench")]
    assert golds == [answer.strip().strip("$") for answer in raw]
    assert any(answer.startswith("$") for answer in raw)  # the stripping matters on the real file
    assert not any(gold.startswith("$") or gold.endswith("$") for gold in golds)


def test_limit_keeps_the_first_problems():
    assert [p.index for p in load_benchmark("math500", limit=3)] == [0, 1, 2]


def test_unknown_benchmark_lists_the_known_ones():
    with pytest.raises(DataError, match="unknown benchmark 'gsm8k'; known: math500, minerva_math"):
        load_benchmark("gsm8k")


def test_missing_field_names_file_and_line(tmp_path):
    (tmp_path / "amc23").mkdir()
    (tmp_path / "amc23" / "test.jsonl").write_text('{"question": "a", "answer": 1}\n{"question": "b"}\n')
    with pytest.raises(DataError, match=r"amc23/test\.jsonl:2: no field 'answer' \(fields: question\)"):
        load_benchmark("amc23", data_dir=tmp_path)


def test_minerva_row_without_a_boxed_answer_names_the_line(tmp_path):
    (tmp_path / "minerva_math").mkdir()
    (tmp_path / "minerva_math" / "test.jsonl").write_text('{"problem": "p", "solution": "no box"}\n')
    with pytest.raises(DataError, match=r"test\.jsonl:1: no \\boxed\{\} answer"):
        load_benchmark("minerva_math", data_dir=tmp_path)


def test_bad_json_line_names_the_line(tmp_path):
    path = tmp_path / "mine.jsonl"
    path.write_text('{"q": "a", "a": "1"}\n{"q": oops}\n')
    with pytest.raises(DataError, match=r"mine\.jsonl:2: not valid JSON"):
        load_dataset_file(str(path), "q", "a")


def test_missing_data_dir_says_how_to_fix_it(tmp_path):
    with pytest.raises(DataError, match="--data_dir"):
        load_benchmark("math500", data_dir=tmp_path)


def test_user_jsonl_with_dotted_keys(tmp_path):
    path = tmp_path / "olympiad_like.jsonl"
    path.write_text(json.dumps({"body": {"text": "What is 1+1?"}, "final": ["$2$"], "x": 1}) + "\n")
    (problem,) = load_dataset_file(str(path), "body.text", "final.0")
    assert (problem.benchmark, problem.index, problem.question, problem.gold) == (
        "olympiad_like",
        0,
        "What is 1+1?",
        "$2$",
    )


def test_user_parquet_file(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "set.parquet"
    pq.write_table(pa.table({"prompt": ["1+1?", "2+2?"], "gt": [2.0, 4.5]}), path)
    problems = load_dataset_file(str(path), "prompt", "gt", name="mine")
    assert [(p.benchmark, p.question, p.gold) for p in problems] == [("mine", "1+1?", "2"), ("mine", "2+2?", "4.5")]
    with pytest.raises(DataError, match=r"set\.parquet:row 1: no field 'answer'"):
        load_dataset_file(str(path), "prompt", "answer")


def test_hub_dataset_name_goes_through_datasets_load_dataset(monkeypatch):
    calls = []

    def fake_load_dataset(name, split):
        calls.append((name, split))
        return [{"question": "3*3?", "answer": "9"}]

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=fake_load_dataset))
    (problem,) = load_dataset_file("org/math-set", "question", "answer", split="validation")
    assert calls == [("org/math-set", "validation")]
    assert (problem.benchmark, problem.gold) == ("math-set", "9")


def test_missing_user_file_is_an_error(tmp_path):
    with pytest.raises(DataError, match="no such file or folder"):
        load_dataset_file(str(tmp_path / "nope.jsonl"), "q", "a")
