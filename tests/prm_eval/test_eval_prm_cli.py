"""``pure-eval-prm``: ProcessBench F1 and Best-of-N with a tiny PRM on small files in the real formats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from prm_checkpoints import save_family_checkpoint

from openrlhf_pure.cli.eval_prm import main
from openrlhf_pure.core.prm_metrics import processbench_report
from openrlhf_pure.engines.prm_evaluation import split_response
from openrlhf_pure.models.prm import ProcessRewardModel
from openrlhf_pure.models.tiny import tiny_causal_lm


def save_prm(root: Path, tokenizer, head_std: float) -> str:
    """A tiny PRM whose head is zero (every score exactly 0) or random (varied scores)."""
    tiny_causal_lm(len(tokenizer), seed=4).save_pretrained(root / "base")
    tokenizer.save_pretrained(root / "base")
    prm = ProcessRewardModel.from_pretrained(str(root / "base"), new_head=True)
    torch.manual_seed(7)
    for param in prm.model.score.parameters():
        torch.nn.init.normal_(param, std=head_std) if head_std else torch.nn.init.zeros_(param)
    prm.save_pretrained(str(root / "prm"))
    return str(root / "prm")


@pytest.fixture(scope="module")
def zero_prm(tmp_path_factory, tokenizer):
    return save_prm(tmp_path_factory.mktemp("zero"), tokenizer, 0.0)


@pytest.fixture(scope="module")
def random_prm(tmp_path_factory, tokenizer):
    return save_prm(tmp_path_factory.mktemp("random"), tokenizer, 2.0)


def case(subset: str, i: int, label: int, steps: int = 3) -> dict:
    """One ProcessBench row, every field of the published files."""
    return {
        "id": f"{subset}-{i}",
        "generator": "Qwen2-7B-Instruct",
        "problem": f"Compute {i} + 2 + 3.",
        "steps": [f"First, {i} + 2 = {i + 2}.", f"Then {i + 2} + 3 = {i + 5}.", f"So the answer is {i + 5}."][:steps],
        "final_answer_correct": label == -1,
        "label": label,
    }


@pytest.fixture
def bench(tmp_path):
    """gsm8k: erroneous at steps 0, 0, 1, 2 and two correct cases; math: one of each."""
    folder = tmp_path / "processbench"
    folder.mkdir()
    gsm8k = [case("gsm8k", i, label) for i, label in enumerate([0, 0, 1, 2, -1, -1])]
    (folder / "gsm8k.json").write_text(json.dumps(gsm8k))
    (folder / "math.json").write_text(json.dumps([case("math", 0, 1), case("math", 1, -1, steps=2)]))
    return folder


def run_bench(prm: str, bench: Path, out: Path, *extra: str) -> dict:
    argv = ["processbench", "--prm", prm, "--data", str(bench), "--subsets", "gsm8k,math", "--no_progress"]
    assert main([*argv, "--output_dir", str(out), *extra]) == 0
    return json.loads((out / "processbench_summary.json").read_text())


def test_a_constant_score_predicts_no_error_at_the_natural_threshold_and_step_0_above_it(zero_prm, bench, tmp_path):
    natural = run_bench(zero_prm, bench, tmp_path / "natural")
    assert natural["threshold"] == 0.0  # p_diff: p(correct) = 0.5 at 0; a score equal to it counts as correct
    gsm8k = natural["subsets"]["gsm8k"]
    assert (gsm8k["error_acc"], gsm8k["correct_acc"], gsm8k["f1"]) == (0.0, 100.0, 0.0)
    above = run_bench(zero_prm, bench, tmp_path / "above", "--threshold", "0.5")["subsets"]["gsm8k"]
    assert (above["error_acc"], above["correct_acc"], above["n_error"], above["n_correct"]) == (50.0, 0.0, 4, 2)


def test_a_skywork_prm_is_detected_and_its_sigmoid_scores_are_thresholded_on_the_common_scale(
    bench, tmp_path, tokenizer
):
    prm = save_family_checkpoint(tmp_path / "skywork", "skywork", tokenizer)
    mapped = run_bench(prm, bench, tmp_path / "mapped")
    assert (mapped["family"], mapped["score"], mapped["score_transform"]) == ("skywork", "sigmoid", "2p-1")
    assert mapped["threshold"] == 0.0  # 2p - 1 = 0 where p = 0.5
    native = run_bench(prm, bench, tmp_path / "native", "--prm.score_transform", "none")
    assert native["threshold"] == 0.5 and native["subsets"] == mapped["subsets"]
    records = [
        json.loads(line) for line in (tmp_path / "native" / "processbench_records.jsonl").read_text().splitlines()
    ]
    assert all(0.0 < x < 1.0 for r in records for x in r["scores"])


def test_records_summary_and_printed_table_agree(random_prm, bench, tmp_path, capsys):
    summary = run_bench(random_prm, bench, tmp_path, "--sweep", "5")
    printed = capsys.readouterr().out
    records = [json.loads(line) for line in (tmp_path / "processbench_records.jsonl").read_text().splitlines()]
    assert [r["id"] for r in records] == [f"gsm8k-{i}" for i in range(6)] + ["math-0", "math-1"]
    assert [len(r["scores"]) for r in records] == [3] * 7 + [2]
    cases = {
        s: ([r["scores"] for r in records if r["subset"] == s], [r["label"] for r in records if r["subset"] == s])
        for s in ("gsm8k", "math")
    }
    report = processbench_report(cases, threshold=0.0)
    assert summary["average_f1"] == pytest.approx(report.average_f1, nan_ok=True)
    for record in records:
        below = [k for k, score in enumerate(record["scores"]) if score < 0.0]
        assert record["prediction"] == (below[0] if below else -1)
    assert summary["sweep"]["thresholds"] == [-1.0, -0.5, 0.0, 0.5, 1.0]
    assert "| gsm8k |" in printed and "69.0" in printed and "66.5" in printed
    assert (tmp_path / "processbench_summary.md").read_text() in printed


def test_a_bad_processbench_row_stops_with_its_file_and_row(zero_prm, bench, tmp_path, capsys):
    rows = json.loads((bench / "math.json").read_text())
    rows[1]["label"] = 7
    (bench / "math.json").write_text(json.dumps(rows))
    argv = ["processbench", "--prm", zero_prm, "--data", str(bench), "--subsets", "gsm8k,math"]
    assert main([*argv, "--output_dir", str(tmp_path / "out")]) == 2
    assert "math.json row 1: field 'label' is 7" in capsys.readouterr().err


def bon_rows() -> list[dict]:
    """Three problems, three candidates each; which candidates are right is known."""
    rows = []
    for i, right in enumerate([[False, True, False], [True, True, False], [False, False, False]]):
        responses = []
        for k, ok in enumerate(right):
            value = i + 3 if ok else i + 10 + k
            responses.append(f"We add {i} and 3.\n\nThat gives {value}.\n\n\n\nThe answer is \\boxed{{{value}}}.")
        rows.append({"id": f"p{i}", "problem": f"Compute {i} + 3.", "answer": str(i + 3), "responses": responses})
    return rows


def run_bon(prm: str, rows: list[dict], out: Path, *extra: str) -> tuple[int, Path]:
    data = out / "rollouts.jsonl"
    out.mkdir(parents=True, exist_ok=True)
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    argv = ["best-of-n", "--prm", prm, "--data", str(data), "--output_dir", str(out), "--no_progress", *extra]
    return main(argv), out


def test_steps_are_split_on_blank_lines_and_empty_pieces_dropped():
    assert split_response("We add 1 and 3.\n\nThat gives 4.\n\n\n\nSo 4.") == [
        "We add 1 and 3.",
        "That gives 4.",
        "So 4.",
    ]


def test_best_of_n_picks_the_top_aggregate_and_grades_it(random_prm, tmp_path, capsys):
    status, out = run_bon(random_prm, bon_rows(), tmp_path)
    assert status == 0
    summary = json.loads((out / "best_of_n_summary.json").read_text())
    assert set(summary["accuracy"]) == {"min", "softmin", "last", "mean", "product"}
    assert summary["oracle_accuracy"] == pytest.approx(200 / 3)
    assert summary["mean_accuracy"] == pytest.approx(100 * (1 / 3 + 2 / 3 + 0) / 3)
    records = [json.loads(line) for line in (out / "best_of_n_records.jsonl").read_text().splitlines()]
    assert [r["correct"] for r in records] == [[False, True, False], [True, True, False], [False, False, False]]
    assert all(r["steps"] == [3, 3, 3] for r in records)
    for name, accuracy in summary["accuracy"].items():
        for r in records:
            values = r["aggregate"][name]
            assert r["chosen"][name] == values.index(max(values))
        assert accuracy == pytest.approx(100 * sum(r["correct"][r["chosen"][name]] for r in records) / 3)
    printed = capsys.readouterr().out
    assert "oracle (pass@3)" in printed and "91.6" in printed


def test_best_of_n_with_equal_scores_keeps_the_first_candidate(zero_prm, tmp_path):
    status, out = run_bon(zero_prm, bon_rows(), tmp_path, "--aggregation", "min,softmin", "--n", "2")
    assert status == 0
    summary = json.loads((out / "best_of_n_summary.json").read_text())
    assert summary["n"] == 2 and summary["accuracy"] == {
        "min": pytest.approx(100 / 3),
        "softmin": pytest.approx(100 / 3),
    }


def test_best_of_n_input_errors_name_the_line_or_ask_for_n(zero_prm, tmp_path, capsys):
    rows = bon_rows()
    rows[1]["answer"] = ""
    status, _ = run_bon(zero_prm, rows, tmp_path / "a")
    assert status == 2 and "rollouts.jsonl:2: field 'answer'" in capsys.readouterr().err
    rows = bon_rows()
    rows[2]["responses"] = rows[2]["responses"][:2]
    status, _ = run_bon(zero_prm, rows, tmp_path / "b")
    assert status == 2 and "--n" in capsys.readouterr().err
