"""pure-eval's hf backend on SmolLM2 (its chat template) for a handful of MATH-500 problems, checked by hand."""

from __future__ import annotations

import json
import re

from openrlhf_pure.core.grading.pool import default_grader
from openrlhf_pure.evaluation.runner import EvalConfig, run_evaluation


def test_the_eval_of_three_problems_matches_a_hand_check_of_its_responses(smollm2, tmp_path):
    folder, _, _ = smollm2
    config = EvalConfig(model=str(folder), output_dir=str(tmp_path), benchmarks=("math500",), template="chat",
                        max_new_tokens=12, limit=3, device="cpu")  # fmt: skip
    run_evaluation(config, progress=False)
    records = [json.loads(line) for line in (tmp_path / "samples.jsonl").read_text().splitlines()]
    assert [r["index"] for r in records] == [0, 1, 2]
    for r in records:  # by hand: no \boxed{...} in 12 tokens -> no answer, not correct
        boxed = re.findall(r"\\boxed\{(.*)\}", r["response"])
        if not boxed:
            assert (r["extracted"], r["correct"], r["reason"]) == (None, False, "no_answer"), r
    summary = json.loads((tmp_path / "summary.json").read_text())["benchmarks"]["math500"]
    assert summary["accuracy"] == 100 * sum(r["correct"] for r in records) / 3
    # the same responses finished by hand with the gold answer, and with a wrong one
    golds = [r["gold"] for r in records]
    right = default_grader().grade_batch(
        [f"{r['response']}\n\nSo \\boxed{{{g}}}." for r, g in zip(records, golds)], golds
    )
    wrong = default_grader().grade_batch([f"{r['response']}\n\nSo \\boxed{{1000001}}." for r in records], golds)
    assert [g.correct for g in right] == [True] * 3 and [g.correct for g in wrong] == [False] * 3
