"""The shipped RL training set (``data/train``) matches its provenance and PURE's prompt format."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from openrlhf_pure.data.prompts import pure_prompt

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "data" / "train" / "math_level3to5_8523.jsonl"
SOURCE = Path("/work/shared/train/math_level3to5_8523.jsonl")
SHA256 = "a08ca462edf2745185e90402f354e4b74d9ed9277a1f0dc2875d6a4e068734e8"


def test_shipped_file_has_the_recorded_checksum():
    assert hashlib.sha256(DATA.read_bytes()).hexdigest() == SHA256
    assert SHA256 in (DATA.parent / "README.md").read_text()


def test_rows_carry_prompt_answer_and_the_authors_visibility_draw():
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 8523 and [r["idx"] for r in rows] == list(range(8523))
    assert sum(r["label"]["pure_vr_answer_visible"] for r in rows) == 879
    assert all(set(r["label"]) == {"gt_answer", "pure_vr_answer_visible"} for r in rows)
    assert all(r["prompt"].endswith('separated by "\\n\\n", and put your final answer within \\boxed{}.') for r in rows)


@pytest.mark.skipif(not SOURCE.exists(), reason="shared/train is not on this machine")
def test_build_script_reproduces_the_file_from_shared_train(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_train", DATA.parent / "build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    assert build.build(SOURCE, tmp_path / "out.jsonl") == SHA256
    first = json.loads(SOURCE.read_text(encoding="utf-8").splitlines()[0])
    assert json.loads((tmp_path / "out.jsonl").read_text().splitlines()[0])["prompt"] == pure_prompt(first["question"])
