"""The five benchmarks' gold answers (eval/data) and the equivalent rewrites the tests expect to grade correct.

Shared by tests/grading and benchmarks/grader.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from openrlhf_pure.core.grading.extract import last_boxed
from openrlhf_pure.core.grading.normalize import clean_answer, comparison_key

DATA = Path(__file__).resolve().parents[2] / "eval" / "data"
BENCHMARKS = ("math500", "minerva_math", "olympiadbench", "aime24", "amc23")


def gold_of(benchmark: str, row: dict) -> str:
    """The gold answer of one row, with the field mapping of eval/data/SOURCES.md."""
    if benchmark == "minerva_math":
        return last_boxed(row["solution"])
    if benchmark == "olympiadbench":
        return row["final_answer"][0]
    return str(row["answer"])  # math500, aime24 (str), amc23 (float)


def load_golds() -> list[tuple[str, int, str]]:
    """(benchmark, row index, gold) for every row of the five benchmarks, in file order."""
    golds = []
    for benchmark in BENCHMARKS:
        with open(DATA / benchmark / "test.jsonl", encoding="utf-8") as f:
            for index, line in enumerate(f):
                golds.append((benchmark, index, gold_of(benchmark, json.loads(line))))
    return golds


def wrapped(answer: str) -> str:
    """A response that ends the way a model trained on the PURE prompt ends."""
    return f"Adding these up gives the result, so the answer is $\\boxed{{{answer}}}$."


def rewrites(gold: str) -> dict[str, str]:
    """Rewrites of a gold answer that mean the same thing (name -> model response)."""
    out = {"self": wrapped(gold)}
    bare = gold.strip().strip("$").strip()
    if "\\frac" in gold:
        out["dfrac"] = wrapped(gold.replace("\\frac", "\\dfrac"))
    if "," in gold or "=" in gold:
        # spaces around commas, except thousands separators ("10,\\!080", "58,500")
        out["spaces"] = wrapped(re.sub(r",(?!\\!)(?!\d{3}(?!\d))", " , ", gold).replace("=", " = "))
    if "(" in gold and "\\left" not in gold:
        out["left_right"] = wrapped(gold.replace("(", "\\left(").replace(")", "\\right)"))
    if re.fullmatch(r"-?\d+", bare):
        out["decimal"] = wrapped(bare + ".0")
    if re.fullmatch(r"-?\d+\.0+", bare):
        out["integer"] = wrapped(bare.split(".")[0])
    if re.fullmatch(r"0\d+", bare):
        out["no_leading_zero"] = wrapped(bare.lstrip("0"))
    if "$" not in gold and "\n" not in gold:
        out["phrase"] = f"Therefore, the final answer is ${gold}$. I hope it is correct."
    return out


def next_different_gold(golds: list[tuple[str, int, str]], position: int) -> str:
    """The gold of the next row of the same benchmark whose comparison key differs (cyclically)."""
    benchmark, _, gold = golds[position]
    rows = [g for b, _, g in golds if b == benchmark]
    start = golds[position][1]
    key = comparison_key(clean_answer(gold))
    for step in range(1, len(rows)):
        other = rows[(start + step) % len(rows)]
        if comparison_key(clean_answer(other)) != key:
            return other
    raise AssertionError(f"{benchmark} has a single distinct gold")
