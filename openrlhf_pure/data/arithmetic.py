"""A generated step-by-step arithmetic task in PURE's format (no downloads), for the CPU demo.

Each problem is "Compute (a + b) * c." with single digits. A correct solution has
"\\n\\n"-separated steps and a final \\boxed{} answer:

    First, we add: a + b = s.
    [Let me check.]            (a harmless, plausible filler step, in some solutions)
    Then we multiply: s * c = p.
    The answer is \\boxed{p}.

PRM data (stepwise rows, as in PRM800K) come from correct solutions (every step labelled
correct) and from solutions with a planted wrong step (a result off by 1 to 3), labelled
incorrect there and cut after it. The filler step is labelled correct, as a real PRM would
rate a sensible "let me check" step: that is the kind of step sum-form credit lets a policy
farm for reward (PURE.md section 8, hack 1), which is what the hacking demo looks for.

The demo's warm-up data (:func:`warmup_solution`) are mostly such correct solutions, with, as a
pretrained model's habits, a few in each of the three shapes PURE.md section 8 reports hacked:
"thinking, not solving" (several planning or filler steps, some never reaching an answer), one
giant step (the whole solution without separators) and zero steps ("Thank you.", an empty
response). The PRM never sees these shapes: its data are the honest rows of :func:`prm_rows`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from openrlhf_pure.data.prompts import pure_prompt

FILLER = "Let me check."
PLANNING = ("Let me think step by step.", "Let me check.", "We need to be careful here.", "Let me plan the steps.")
TRIVIAL = ("Thank you.", "")
HACK_STYLES = ("thinking", "giant_step", "zero_steps")


@dataclass(frozen=True)
class ArithmeticProblem:
    """(a + b) * c."""

    a: int
    b: int
    c: int

    @property
    def question(self) -> str:
        return f"Compute ({self.a} + {self.b}) * {self.c}."

    @property
    def answer(self) -> int:
        return (self.a + self.b) * self.c

    @property
    def prompt(self) -> str:
        return pure_prompt(self.question)


def solution_steps(problem: ArithmeticProblem, filler: bool = False, error_at: int | None = None, offset: int = 0):
    """Steps of a solution and their correctness labels.

    Args:
        problem: the problem.
        filler: insert the "Let me check." step after the addition.
        error_at: None for a correct solution; 0 to get the sum wrong, 1 the product.
        offset: how far the wrong result is off (non-zero when ``error_at`` is set).
    Returns:
        (steps, labels): the steps up to and including the first wrong one, one bool per step.
    """
    total = problem.a + problem.b + (offset if error_at == 0 else 0)
    product = total * problem.c + (offset if error_at == 1 else 0)
    steps = [f"First, we add: {problem.a} + {problem.b} = {total}."]
    labels = [error_at != 0]
    if error_at == 0:
        return steps, labels
    if filler:
        steps.append(FILLER)
        labels.append(True)
    steps.append(f"Then we multiply: {total} * {problem.c} = {product}.")
    labels.append(error_at != 1)
    if error_at == 1:
        return steps, labels
    steps.append(f"The answer is \\boxed{{{product}}}.")
    labels.append(True)
    return steps, labels


def arithmetic_solution(a: int, b: int, c: int, filler: bool = True) -> str:
    """The correct solution of (a + b) * c as one "\\n\\n"-separated string."""
    return "\n\n".join(solution_steps(ArithmeticProblem(a, b, c), filler=filler)[0])


def all_problems(max_term: int = 9, max_factor: int = 5) -> list[ArithmeticProblem]:
    """Every problem with a, b in 1..max_term and c in 2..max_factor (324 problems by default)."""
    terms, factors = range(1, max_term + 1), range(2, max_factor + 1)
    return [ArithmeticProblem(a, b, c) for a in terms for b in terms for c in factors]


def split_problems(
    seed: int, held_out: int = 64, max_term: int = 9, max_factor: int = 5
) -> tuple[list[ArithmeticProblem], list[ArithmeticProblem]]:
    """(train, held-out) problems of :func:`all_problems`, a seeded split."""
    problems = all_problems(max_term, max_factor)
    if not 0 < held_out < len(problems):
        raise ValueError(f"held_out must be in 1..{len(problems) - 1} for this task, got {held_out}")
    random.Random(seed).shuffle(problems)
    return problems[held_out:], problems[:held_out]


def prm_rows(problems: list[ArithmeticProblem], seed: int, per_problem: int = 4) -> list[dict]:
    """Stepwise PRM rows {"prompt", "completions", "labels"} (TRL's stepwise format).

    Half of the rows are correct solutions, half have a planted wrong step.
    """
    rng = random.Random(seed)
    rows = []
    for problem in problems:
        for k in range(per_problem):
            error_at = None if k % 2 == 0 else rng.choice([0, 1])
            offset = rng.choice([-3, -2, -1, 1, 2, 3]) if error_at is not None else 0
            steps, labels = solution_steps(problem, filler=rng.random() < 0.5, error_at=error_at, offset=offset)
            rows.append({"prompt": problem.prompt, "completions": steps, "labels": labels})
    return rows


def warmup_solution(problem: ArithmeticProblem, rng: random.Random, hack_rate: float = 0.0) -> tuple[str, str]:
    """One warm-up response for ``problem`` and its style.

    Args:
        problem: the problem.
        rng: draws the style and its details.
        hack_rate: the share of responses in each of :data:`HACK_STYLES` (so ``3 * hack_rate`` in all).
    Returns:
        (response, style): style "honest" (a correct solution, "Let me check." in half of them),
        "thinking" (2 to 5 planning steps, then the solution in half of them, nothing more in the
        rest), "giant_step" (the correct solution as one step) or "zero_steps" (:data:`TRIVIAL`).
    """
    if not 0.0 <= hack_rate <= 1 / len(HACK_STYLES):
        raise ValueError(f"hack_rate must be in [0, {1 / len(HACK_STYLES):.3f}], got {hack_rate}")
    draw = rng.random()
    steps = solution_steps(problem, filler=rng.random() < 0.5)[0]
    if draw < hack_rate:
        planning = [rng.choice(PLANNING) for _ in range(rng.randint(2, 5))]
        return "\n\n".join(planning + (steps if rng.random() < 0.5 else [])), "thinking"
    if draw < 2 * hack_rate:
        return " ".join(solution_steps(problem)[0]), "giant_step"
    if draw < 3 * hack_rate:
        return rng.choice(TRIVIAL), "zero_steps"
    return "\n\n".join(steps), "honest"


def arithmetic_corpus(seed: int = 0, problems: int = 200, max_term: int = 9, max_factor: int = 5) -> list[str]:
    """Prompts followed by correct solutions, as tokenizer training text.

    Some solutions open with "Solution:" and end with blank lines, so that the vocabulary has
    separator tokens of several shapes (":\n\n", ".\n\n", "\n\n", ".\n\n\n"), as real ones do.
    """
    rng = random.Random(seed)
    texts, pool = [], all_problems(max_term, max_factor)
    for k in range(problems):
        problem = rng.choice(pool)
        steps = solution_steps(problem, filler=rng.random() < 0.5)[0]
        head = "Solution:\n\n" if k % 3 == 0 else ""
        tail = "\n\n\n" if k % 2 else "\n\n\n\n"
        texts.append(problem.prompt + "\n\n" + head + "\n\n".join(steps) + tail)
    return texts
