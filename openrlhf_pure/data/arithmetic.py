"""A generated step-by-step arithmetic task in PURE's format (no downloads).

Each problem is (a + b) * c; a solution has "\\n\\n"-separated steps and a final \\boxed{}.
Used to train tiny tokenizers here and, later, by the CPU demo.
"""

from __future__ import annotations

import random


def arithmetic_solution(a: int, b: int, c: int) -> str:
    """The correct step-by-step solution of (a + b) * c."""
    total = a + b
    return (
        f"First, we add:\n\n{a} + {b} = {total}.\n\n"
        f"Then we multiply: {total} * {c} = {total * c}\n\n"
        f"Let me check.\n\n\nThe answer is \\boxed{{{total * c}}}."
    )


def arithmetic_corpus(seed: int = 0, problems: int = 200) -> list[str]:
    """Problems followed by their solutions, as tokenizer training text."""
    rng = random.Random(seed)
    texts = []
    for _ in range(problems):
        a, b, c = rng.randint(1, 99), rng.randint(1, 99), rng.randint(2, 9)
        texts.append(f"Compute ({a} + {b}) * {c}.\n\nPlease reason step by step.\n\n" + arithmetic_solution(a, b, c))
    return texts
