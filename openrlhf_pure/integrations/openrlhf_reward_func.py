"""PURE's verifiable reward as an OpenRLHF custom reward function.

Use it in a stock OpenRLHF 0.11.2 run::

    --reward.remote_url /path/to/openrlhf_pure/integrations/openrlhf_reward_func.py
    --data.label_key <the dataset's gold-answer field>

OpenRLHF (``openrlhf/utils/agent.py``, ``SingleTurnAgentExecutor``) loads a ``.py`` reward URL
by path (``importlib.util.spec_from_file_location``) inside each rollout actor and calls
``reward_func(queries, prompts, labels)`` through ``asyncio.to_thread``, one query per call.
``queries`` hold the prompt followed by the response, decoded with special tokens; the
response is the text after the prompt. It reads the returned dict's ``rewards`` (advantage
input), ``scores`` (dynamic filtering) and ``extra_logs`` (each value's first element is
logged).

Returned (B = len(queries)):
    rewards: (B,) float32, 1.0 correct / 0.0 otherwise (OpenRLHF needs a number: a missing
        gold, None or blank, gives 0.0 and ``vr_has_gold`` 0);
    scores: (B,) float32, the same values;
    extra_logs: ``vr_correct``, ``vr_has_gold``, ``vr_no_answer``, ``vr_limit_hit`` (timeout,
        memory or crash), ``vr_rejected``, each (B,) float32.

Imports only torch and this project's core. If ``openrlhf_pure`` is not installed, the
repository that holds this file is put on ``sys.path``.
"""

from __future__ import annotations

import os
import sys

import torch

try:
    from openrlhf_pure.core.grading.pool import default_grader
except ImportError:  # loaded by path from a checkout that is not installed
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    from openrlhf_pure.core.grading.pool import default_grader

from openrlhf_pure.core.grading.result import Reason

_LIMIT_REASONS = (Reason.TIMEOUT, Reason.MEMORY, Reason.CRASH)


def response_text(query: str, prompt: str) -> str:
    """The response part of an OpenRLHF query: the text after the prompt (all of it if the prompt is absent)."""
    if prompt and query.startswith(prompt):
        return query[len(prompt) :]
    position = query.find(prompt) if prompt else -1
    return query[position + len(prompt) :] if position >= 0 else query


def reward_func(queries: list[str], prompts: list[str], labels: list) -> dict:
    """OpenRLHF's custom reward contract (module docstring): rewards, scores and extra logs as tensors."""
    responses = [response_text(q, p) for q, p in zip(queries, prompts)]
    results = default_grader().grade_batch(responses, list(labels))
    rewards = torch.tensor([1.0 if r.correct else 0.0 for r in results], dtype=torch.float32)  # (B,)

    def flag(condition) -> torch.Tensor:  # (B,)
        return torch.tensor([1.0 if condition(r) else 0.0 for r in results], dtype=torch.float32)

    return {
        "rewards": rewards,
        "scores": rewards.clone(),
        "extra_logs": {
            "vr_correct": rewards.clone(),
            "vr_has_gold": flag(lambda r: r.correct is not None),
            "vr_no_answer": flag(lambda r: r.reason == Reason.NO_ANSWER),
            "vr_limit_hit": flag(lambda r: r.reason in _LIMIT_REASONS),
            "vr_rejected": flag(lambda r: r.reason == Reason.REJECTED),
        },
    }
