"""Prompt templates. PURE prompts the policy with no chat template (PURE.md section 2)."""

from __future__ import annotations

PURE_TEMPLATE = (
    '{question}\n\nPlease reason step by step with steps separated by "\\n\\n", '
    "and put your final answer within \\boxed{{}}."
)


def pure_prompt(question: str) -> str:
    """PURE's training and evaluation prompt for one question."""
    return PURE_TEMPLATE.format(question=question)
