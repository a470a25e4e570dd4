"""Every loader names file and line for bad bytes (or counts the line in skip mode), and names a
file it cannot read at all (a corrupt Parquet file, a ``.json`` file that is not UTF-8)."""

from __future__ import annotations

import json

import pytest

from openrlhf_pure.data.processbench import load_processbench
from openrlhf_pure.data.stepwise import DataFormatError, load_stepwise
from openrlhf_pure.engines.prm_evaluation import load_best_of_n

ROW = {"prompt": "What is 2 + 3?", "completions": ["2 + 3 = 5."], "labels": [True]}


def test_bytes_that_are_not_utf8_name_file_and_line_and_skip_mode_counts_them(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_bytes((json.dumps(ROW) + "\n").encode() + b'{"prompt": "caf\xe9"}\n' + (json.dumps(ROW) + "\n").encode())
    with pytest.raises(DataFormatError, match=r"rows\.jsonl:2: not UTF-8 text \(byte 0xe9 at column 16\)"):
        load_stepwise(path)
    rows, report = load_stepwise(path, on_bad_row="skip")  # the lines after it still load
    assert len(rows) == 2 and dict(report.skipped) == {"not_utf8": 1} and report.read == 3


def test_a_corrupt_parquet_file_is_named(tmp_path):
    path = tmp_path / "rows.parquet"
    path.write_bytes(b"PAR1 not really parquet")
    with pytest.raises(DataFormatError, match=r"rows\.parquet: not a readable Parquet file"):
        load_stepwise(path)


def test_a_json_list_that_is_not_utf8_names_its_line(tmp_path):
    (tmp_path / "math.json").write_bytes(b'[\n{"id": "m-0",\n "problem": "caf\xe9"}\n]\n')
    with pytest.raises(DataFormatError, match=r"math\.json:3: not UTF-8 text \(byte 0xe9 at column 17\)"):
        load_processbench(tmp_path, ["math"])


def test_best_of_n_rows_that_are_not_utf8_name_their_line(tmp_path):
    path = tmp_path / "bon.jsonl"
    path.write_bytes(b'{"problem": "1+1?", "answer": "2", "responses": ["\xff"]}\n')
    with pytest.raises(DataFormatError, match=r"bon\.jsonl:1: not UTF-8 text"):
        load_best_of_n(path)
