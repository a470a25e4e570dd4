"""Re-grading an outputs file with no model; the compare command; examples/scripts/eval.sh."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from openrlhf_pure.cli.eval import main
from openrlhf_pure.evaluation.benchmarks import DataError
from openrlhf_pure.evaluation.regrade import regrade_file

ROOT = Path(__file__).resolve().parents[2]
ROWS = [
    {"benchmark": "amc23", "response": "so $\\boxed{27}$", "gold": 27.0, "correct": False},  # stale grade replaced
    {"benchmark": "amc23", "response": "The answer is 36.", "gold": "36"},
    {"benchmark": "aime24", "response": "\\boxed{25}", "gold": "025", "extra": [1, 2]},
    {"benchmark": "aime24", "response": "I give up", "gold": "204"},
    {"response": "\\boxed{3}", "gold": None},  # no gold: graded None, not counted
]


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_regrade_adds_extracted_correct_and_reason(tmp_path, eval_grader):
    source = write_rows(tmp_path / "in.jsonl", ROWS)
    result = regrade_file(source, tmp_path / "out.jsonl", eval_grader, progress=False)
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [(r["extracted"], r["correct"], r["reason"]) for r in rows] == [
        ("27", True, "correct"),
        ("36", True, "correct"),
        ("25", True, "correct"),
        (None, False, "no_answer"),
        ("3", None, "no_gold"),
    ]
    assert rows[2]["extra"] == [1, 2] and rows[0]["gold"] == 27.0  # other fields kept as they were
    assert (result.rows, result.graded, result.correct) == (5, 4, 3)
    assert result.per_benchmark == {"amc23": [2, 2], "aime24": [1, 2]}


def test_regrade_cli_prints_the_accuracy_and_may_write_in_place(tmp_path, capsys):
    source = write_rows(tmp_path / "in.jsonl", ROWS)
    assert main(["regrade", str(source), "--out", str(source), "--grader.workers", "1", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "accuracy: 75.0% (3/4 graded, 5 rows)" in out and "aime24: 50.0% (1/2)" in out
    assert json.loads(out.strip().splitlines()[-1]) == {"accuracy": 75.0, "correct": 3, "graded": 4, "rows": 5}
    assert all("reason" in json.loads(line) for line in source.read_text().splitlines())
    assert [p.name for p in tmp_path.iterdir()] == ["in.jsonl"]  # atomic: no temporary left behind


def test_regrade_with_other_field_names(tmp_path, eval_grader):
    source = write_rows(tmp_path / "other.jsonl", [{"pred_text": "\\boxed{1/2}", "gt": "\\frac12"}])
    result = regrade_file(source, tmp_path / "o.jsonl", eval_grader, "pred_text", "gt", progress=False)
    assert result.correct == 1


def test_regrade_row_missing_a_field_names_file_and_line(tmp_path, capsys):
    source = write_rows(tmp_path / "in.jsonl", [ROWS[0], {"response": "x"}])
    assert main(["regrade", str(source), "--out", str(tmp_path / "o.jsonl"), "--quiet"]) == 2
    assert "in.jsonl:2: no field 'gold' (fields: response)" in capsys.readouterr().err
    with pytest.raises(DataError, match="no such file"):
        regrade_file(tmp_path / "missing.jsonl", tmp_path / "o.jsonl")


def test_compare_cli(tmp_path, capsys):
    for name, score in (("a", 40.0), ("b", 60.0)):
        (tmp_path / name).mkdir()
        summary = {"run": {"model": name}, "columns": ["AMC23", "Avg"], "scores": {"AMC23": score, "Avg": score}}
        (tmp_path / name / "summary.json").write_text(json.dumps(summary))
    argv = ["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--labels", "base,pure"]
    argv += ["--published", "Qwen2.5-Math-7B/PURE-PRM+VR", "--out", str(tmp_path / "cmp")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "| base | - | - | - | - | 40.0 | 40.0 |" in out and "| pure | - | - | - | - | 60.0 | 60.0 |" in out
    assert (tmp_path / "cmp.md").is_file() and (tmp_path / "cmp.png").stat().st_size > 1000
    assert main(["compare", str(tmp_path / "a"), "--labels", "x,y", "--out", str(tmp_path / "c2")]) == 2
    assert "1 runs but 2 labels" in capsys.readouterr().err


def test_eval_sh_runs_pure_settings_with_env_overrides(tiny_model_dir, tmp_path):
    out = tmp_path / "sh"
    env = {**os.environ, "MODEL": str(tiny_model_dir), "BENCHMARKS": "amc23", "BACKEND": "hf", "OUTPUT": str(out)}
    env["PYTHON"] = sys.executable
    extra = ["--limit", "1", "--max_new_tokens", "4", "--grader.workers", "1", "--quiet"]
    script = ROOT / "examples" / "scripts" / "eval.sh"
    done = subprocess.run(["bash", str(script), *extra], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    run = json.loads((out / "run.json").read_text())
    assert (run["template"], run["temperature"], run["seed"], run["backend"]) == ("pure", 0.0, 42, "hf")
    assert run["max_new_tokens"] == 4  # a later flag overrides the script's 3000
    assert json.loads((out / "summary.json").read_text())["columns"] == ["AMC23", "Avg"]
