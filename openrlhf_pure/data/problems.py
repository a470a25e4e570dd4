"""RL training problems: a prompt, its ground-truth answer, and whether the answer is visible.

In PURE-PRM+VR the ground truth is visible for a random share of the problems (10% in the
paper; ``shared/train`` carries the authors' own draw as ``pure_vr_answer_visible``).
:func:`choose_visible` makes such a draw deterministically from a seed.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, replace
from pathlib import Path

from openrlhf_pure.data.prompts import pure_prompt


@dataclass(frozen=True)
class Problem:
    """One RL problem.

    Attributes:
        prompt: the full prompt given to the policy.
        answer: the ground-truth final answer, or None if unknown.
        visible: whether the answer may be used for the verifiable reward during training.
    """

    prompt: str
    answer: str | None
    visible: bool = True


def choose_visible(problems: list[Problem], fraction: float, seed: int) -> list[Problem]:
    """Mark exactly round(fraction * N) problems (among those with an answer) as visible.

    >>> ps = [Problem(str(i), "1") for i in range(10)]
    >>> sum(p.visible for p in choose_visible(ps, 0.3, seed=0))
    3
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"visible fraction must lie in [0, 1], got {fraction}")
    candidates = [i for i, p in enumerate(problems) if p.answer is not None]
    chosen = set(random.Random(seed).sample(candidates, round(fraction * len(candidates))))
    return [replace(p, visible=i in chosen) for i, p in enumerate(problems)]


def load_problems(
    path: str | Path,
    question_key: str = "question",
    answer_key: str = "gt_answer",
    visible_key: str | None = None,
    template: bool = True,
) -> list[Problem]:
    """Read problems from a JSONL file.

    Args:
        path: JSONL, one problem per line.
        question_key: field with the question text.
        answer_key: field with the ground-truth answer (missing or null: no answer).
        visible_key: field with a visibility flag (e.g. ``pure_vr_answer_visible``); None: all visible.
        template: wrap the question in PURE's prompt.
    Raises:
        ValueError naming the file and line of a malformed row.
    """
    problems = []
    with open(path, encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}:{line_no}: not valid JSON ({err.msg})") from None
            if not isinstance(row, dict) or not isinstance(row.get(question_key), str):
                raise ValueError(f"{path}:{line_no}: missing string field {question_key!r}")
            answer = row.get(answer_key)
            visible = bool(row[visible_key]) if visible_key is not None and visible_key in row else True
            question = row[question_key]
            prompt = pure_prompt(question) if template else question
            problems.append(Problem(prompt, None if answer is None else str(answer), visible))
    if not problems:
        raise ValueError(f"{path}: no problems found")
    return problems
