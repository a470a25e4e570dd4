"""Fixtures for the evaluation-harness tests: a tiny saved model, one grading pool, a scripted backend."""

from __future__ import annotations

import pytest

from openrlhf_pure.core.grading import Grader
from openrlhf_pure.evaluation.backend import Completion, PromptInput, SamplingConfig
from openrlhf_pure.models.tiny import tiny_causal_lm


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, tokenizer):
    """A random Qwen2-shaped model (hidden 64, 2 layers) and its tokenizer, saved with save_pretrained."""
    path = tmp_path_factory.mktemp("eval_model")
    tiny_causal_lm(len(tokenizer), seed=3).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def eval_grader():
    """One grading worker, shared by the tests that call the runner directly."""
    with Grader(workers=1, timeout_s=5.0) as grader:
        yield grader


class ScriptedBackend:
    """A backend whose completions come from ``respond(prompt_text, sample) -> text``.

    Records every call's prompt texts; raises ``KeyboardInterrupt`` (a kill) on call number
    ``fail_on_call`` (from 1), after the earlier calls' records were written.
    """

    name = "scripted"

    def __init__(self, respond, chunk_size: int = 2, fail_on_call: int | None = None):
        self.respond = respond
        self.chunk_size = chunk_size
        self.fail_on_call = fail_on_call
        self.calls: list[list[str]] = []

    def generate(self, prompts: list[PromptInput], sampling: SamplingConfig) -> list[list[Completion]]:
        self.calls.append([p.text for p in prompts])
        if self.fail_on_call == len(self.calls):
            raise KeyboardInterrupt
        return [[Completion(self.respond(p.text, s), 5, "stop") for s in range(sampling.n)] for p in prompts]

    def close(self) -> None:
        pass

    @property
    def generated_prompts(self) -> int:
        """Prompts handed over in all calls."""
        return sum(len(call) for call in self.calls)


@pytest.fixture
def scripted_backend():
    """The :class:`ScriptedBackend` class."""
    return ScriptedBackend
