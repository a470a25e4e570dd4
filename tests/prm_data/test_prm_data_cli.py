"""``python -m openrlhf_pure.cli.prm_data convert-prm800k``: converts, prints the report, fails clearly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from openrlhf_pure.cli.prm_data import main

REPO = Path(__file__).resolve().parents[2]


def prm800k_line(ratings, finish="solution", qc=False):
    """A PRM800K raw line whose chosen completion at step k has ``ratings[k]``."""
    steps = [
        {
            "completions": [{"text": f"step {k}", "rating": r, "flagged": None}],
            "human_completion": None,
            "chosen_completion": 0,
        }
        for k, r in enumerate(ratings)
    ]
    return {
        "is_quality_control_question": qc,
        "is_initial_screening_question": False,
        "question": {"problem": "What is 1 + 1?"},
        "label": {"steps": steps, "finish_reason": finish},
    }


def write(path, lines):
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return path


def test_convert_writes_trl_rows_and_prints_the_report_with_a_json_last_line(tmp_path, capsys):
    src = write(tmp_path / "phase1_train.jsonl", [prm800k_line([1, 0, -1]), prm800k_line([1], qc=True)])
    out = tmp_path / "trl.jsonl"
    assert main(["convert-prm800k", str(src), "--out", str(out)]) == 0
    (row,) = [json.loads(x) for x in out.read_text().splitlines()]
    assert (row["completions"], row["labels"]) == (["step 0", "step 1", "step 2"], [True, True, False])
    printed = capsys.readouterr().out.strip().splitlines()
    assert "lines excluded: 1 (quality_control 1)" in printed
    assert json.loads(printed[-1])["excluded"] == {"quality_control": 1}


def test_options_map_to_the_conversion_rules(tmp_path, capsys):
    src = write(tmp_path / "phase1_train.jsonl", [prm800k_line([0]), prm800k_line([1], qc=True)])
    out = tmp_path / "trl.jsonl"
    main(["convert-prm800k", str(src), "--out", str(out), "--neutral-is-incorrect", "--include-quality-control"])
    assert [json.loads(x)["labels"] for x in out.read_text().splitlines()] == [[False], [True]]


def test_malformed_line_exits_2_naming_file_and_line_and_writes_nothing(tmp_path, capsys):
    src = write(tmp_path / "phase2_test.jsonl", [prm800k_line([1]), prm800k_line([5])])
    out = tmp_path / "trl.jsonl"
    assert main(["convert-prm800k", str(src), "--out", str(out)]) == 2
    assert "phase2_test.jsonl:2: " in capsys.readouterr().err
    assert not out.exists()
    assert main(["convert-prm800k", str(src), "--out", str(out), "--skip-bad-rows"]) == 0
    assert "malformed 1" in capsys.readouterr().out


def test_module_runs_as_a_script(tmp_path):
    src = write(tmp_path / "phase2_train.jsonl", [prm800k_line([1, -1])])
    out = tmp_path / "trl.jsonl"
    cmd = [sys.executable, "-m", "openrlhf_pure.cli.prm_data", "convert-prm800k", str(src), "--out", str(out)]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1])["rows"] == 1
