"""Sample records (append, crash repair), summaries (PURE's column order, rounding), compare."""

from __future__ import annotations

import json

import pytest

from openrlhf_pure.atomic import atomic_path, write_text_atomic
from openrlhf_pure.evaluation.benchmarks import DataError
from openrlhf_pure.evaluation.compare import PUBLISHED_TABLE2, compare_runs, comparison_columns
from openrlhf_pure.evaluation.records import RecordWriter, load_records
from openrlhf_pure.evaluation.summary import score, summarize, summary_markdown


def record(benchmark: str, index: int, correct: bool, sample: int = 0, **extra) -> dict:
    return {"benchmark": benchmark, "index": index, "sample": sample, "correct": correct, **extra}


def test_records_round_trip(tmp_path):
    path = tmp_path / "samples.jsonl"
    with RecordWriter(path) as writer:
        writer.write([record("amc23", 0, True), record("amc23", 1, False)])
    with RecordWriter(path) as writer:  # appends
        writer.write([record("amc23", 1, True, sample=1)])
    assert sorted(load_records(path)) == [("amc23", 0, 0), ("amc23", 1, 0), ("amc23", 1, 1)]


def test_truncated_last_line_is_cut_off_the_file(tmp_path):
    path = tmp_path / "samples.jsonl"
    good = json.dumps(record("amc23", 0, True)) + "\n"
    path.write_text(good + json.dumps(record("amc23", 1, True))[:17])
    assert list(load_records(path)) == [("amc23", 0, 0)]
    assert path.read_text() == good  # rewritten: the next append starts on a clean line


def test_complete_json_without_newline_counts_as_truncated(tmp_path):
    path = tmp_path / "samples.jsonl"
    good = json.dumps(record("amc23", 0, True)) + "\n"
    path.write_text(good + json.dumps(record("amc23", 1, True)))
    assert list(load_records(path)) == [("amc23", 0, 0)]
    assert path.read_text() == good


def test_bad_line_in_the_middle_is_corruption(tmp_path):
    path = tmp_path / "samples.jsonl"
    path.write_text(json.dumps(record("amc23", 0, True)) + "\n{broken\n" + json.dumps(record("amc23", 1, True)) + "\n")
    with pytest.raises(DataError, match=r"samples\.jsonl:2: not valid JSON"):
        load_records(path)


def test_record_without_key_fields_names_the_line(tmp_path):
    path = tmp_path / "samples.jsonl"
    path.write_text('{"benchmark": "amc23", "index": 0}\n')
    with pytest.raises(DataError, match=r"samples\.jsonl:1: record without field\(s\) sample"):
        load_records(path)


def test_atomic_write_leaves_no_temporary_file_and_a_failed_write_keeps_the_old_file(tmp_path):
    write_text_atomic(tmp_path / "a.md", "x")
    assert [p.name for p in tmp_path.iterdir()] == ["a.md"]
    with pytest.raises(ZeroDivisionError), atomic_path(tmp_path / "a.md") as tmp:
        tmp.write_text("half")
        raise ZeroDivisionError  # the writer fails after writing part of the new file
    assert (tmp_path / "a.md").read_text() == "x" and [p.name for p in tmp_path.iterdir()] == ["a.md"]


def test_score_rounds_half_up_to_one_decimal():
    assert score(0.2925) == 29.3  # 29.249999... in binary floating point
    assert score(81 / 272) == 29.8
    assert score(1 / 3) == 33.3


def test_summary_columns_follow_pure_order_and_average_is_unweighted():
    records = [record("amc23", i, i < 1) for i in range(4)]  # 25%
    records += [record("math500", i, i < 3) for i in range(4)]  # 75%
    records += [record("my_set", 0, True)]  # 100%
    summary = summarize(records, run={"model": "/x/ckpt"})
    assert summary["columns"] == ["MATH500", "AMC23", "my_set", "Avg"]
    assert summary["scores"] == {"MATH500": 75.0, "AMC23": 25.0, "my_set": 100.0, "Avg": 66.7}
    markdown = summary_markdown(summary)
    assert (
        "| model | MATH500 | AMC23 | my_set | Avg |" in markdown and "| ckpt | 75.0 | 25.0 | 100.0 | 66.7 |" in markdown
    )


def test_summary_reports_avg_at_n_pass_at_k_and_diagnostics():
    records = [
        record("aime24", 0, True, 0, finish_reason="stop", reason="correct", response_tokens=10),
        record("aime24", 0, False, 1, finish_reason="length", reason="no_answer", response_tokens=30),
        record("aime24", 1, False, 0, finish_reason="stop", reason="wrong", response_tokens=20),
        record("aime24", 1, False, 1, finish_reason="stop", reason="wrong", response_tokens=20),
    ]
    stats = summarize(records, ks=[1, 2])["benchmarks"]["aime24"]
    assert (stats["problems"], stats["samples"], stats["accuracy"]) == (2, 4, 25.0)
    assert stats["pass@k"] == {"1": 25.0, "2": 50.0}
    assert (stats["truncated_pct"], stats["no_answer_pct"], stats["mean_response_tokens"]) == (25.0, 25.0, 20.0)


def test_compare_puts_runs_side_by_side_with_a_chart(tmp_path):
    for name, correct in (("a", [True, False]), ("b", [True, True])):
        summary = summarize([record("amc23", i, c) for i, c in enumerate(correct)], run={"model": name})
        (tmp_path / name).mkdir()
        (tmp_path / name / "summary.json").write_text(json.dumps(summary))
    markdown, md_path, png_path = compare_runs(
        [tmp_path / "a", tmp_path / "b" / "summary.json"],
        published=["Qwen2.5-Math-7B/base"],
        out=tmp_path / "cmp.png",
    )
    lines = markdown.splitlines()
    assert lines[0] == "| run | MATH500 | Minerva | Olympiad | AIME24 | AMC23 | Avg |"
    assert lines[2] == "| a * | - | - | - | - | 50.0 | 50.0 |"  # 2 of AMC23's 40 problems: a subset, starred
    assert lines[3] == "| b * | - | - | - | - | 100.0 | 100.0 |"
    assert lines[4] == "| Qwen2.5-Math-7B/base (paper) | 71.8 | 29.8 | 35.1 | 13.3 | 47.5 | 39.5 |"
    assert "\\* a: a subset of the benchmarks (AMC23 2/40 problems); its scores and Avg are not comparable" in markdown
    assert md_path.read_text() == markdown
    assert png_path.name == "cmp.png" and png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "cmp.md", "cmp.png"]  # no temporary left


def test_compare_marks_a_limit_run_beside_the_papers_average(tmp_path):
    records = [record(name, i, True) for name in ("math500", "amc23") for i in range(3)]
    full = [record("aime24", i, i < 3) for i in range(30)]
    for name, rows, limit in (("smoke", records, 3), ("full", full, None)):
        (tmp_path / name).mkdir()
        summary = summarize(rows, run={"model": name, "limit": limit})
        (tmp_path / name / "summary.json").write_text(json.dumps(summary))
    markdown, _, _ = compare_runs([tmp_path / "smoke", tmp_path / "full"], published=["Qwen2.5-Math-7B/base"],
                                  out=tmp_path / "cmp")  # fmt: skip
    rows = markdown.splitlines()
    assert rows[2].startswith("| smoke * |") and rows[3].startswith("| full |")  # all 30 of AIME24: not a subset
    assert "smoke: a subset of the benchmarks (MATH500 3/500, AMC23 3/40 problems, --limit 3)" in markdown


def test_published_table_matches_pure_md():
    assert len(PUBLISHED_TABLE2) == 10
    assert PUBLISHED_TABLE2["Qwen2.5-Math-7B/PURE-PRM+VR"] == (82.6, 37.1, 44.1, 20.0, 82.5, 53.3)
    for key, row in PUBLISHED_TABLE2.items():  # Avg is the mean of the five, except one published typo
        if key != "Qwen2.5-Math-7B/PURE-PRM":
            assert abs(sum(row[:5]) / 5 - row[5]) < 0.05, key


def test_compare_errors(tmp_path):
    with pytest.raises(DataError, match="no summary at"):
        compare_runs([tmp_path / "missing"], out=tmp_path / "c")
    with pytest.raises(DataError, match="unknown published row 'GPT/base'; known: Qwen2.5-Math-7B/base"):
        compare_runs([], published=["GPT/base"], out=tmp_path / "c")
    assert comparison_columns([{"scores": {"zz": 1.0, "AMC23": 2.0}}]) == ["AMC23", "zz"]
