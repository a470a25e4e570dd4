"""The verifiable reward and its OpenRLHF custom reward-function file.

OpenRLHF 0.11.2 (``openrlhf/utils/agent.py``) loads ``--reward.remote_url some_file.py`` with
``importlib.util.spec_from_file_location("reward_func", path)`` and calls
``reward_func(queries, prompts, labels)`` from a thread; it reads ``rewards``, ``scores`` and
``extra_logs`` from the returned dict. The tests load the file the same way, and where
OpenRLHF is importable they run its own executor on a fake engine and tokenizer.
"""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from openrlhf_pure.core.grading.result import GradeResult, Reason
from openrlhf_pure.core.grading.reward import reward_from_result, verifiable_reward, verifiable_rewards

REWARD_FILE = Path(__file__).resolve().parents[2] / "openrlhf_pure" / "integrations" / "openrlhf_reward_func.py"
PROMPT = "Example: the answer to 2+3 is \\boxed{5}.\nQuestion: what is 2+2?\n"


def test_a_correct_response_earns_one(grader):
    assert verifiable_reward("so \\boxed{4}", "4", grader) == 1.0


def test_a_wrong_response_earns_zero(grader):
    assert verifiable_reward("so \\boxed{5}", "4", grader) == 0.0


def test_no_gold_earns_no_reward(grader):
    assert verifiable_reward("so \\boxed{4}", None, grader) is None
    assert verifiable_reward("so \\boxed{4}", "  ", grader) is None


def test_a_batch_keeps_its_order(grader):
    assert verifiable_rewards(["\\boxed{1}", "none", "\\boxed{3}"], ["1", "2", None], grader) == [1.0, 0.0, None]


def test_a_limit_hit_earns_zero():
    assert reward_from_result(GradeResult(False, "9^{9^{9}}", Reason.TIMEOUT)) == 0.0


@pytest.fixture(scope="module")
def reward_module():
    """The reward file, loaded by path exactly as OpenRLHF loads it."""
    spec = importlib.util.spec_from_file_location("reward_func", str(REWARD_FILE))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_reward_func_returns_openrlhfs_dict_of_tensors(reward_module):
    queries = [PROMPT + "2+2 = \\boxed{4}", PROMPT + "I think \\boxed{22}", PROMPT + "no idea", PROMPT + "\\boxed{4}"]
    out = reward_module.reward_func(queries, [PROMPT] * 4, ["4", "4", "4", None])
    assert set(out) == {"rewards", "scores", "extra_logs"}
    assert out["rewards"].dtype == torch.float32 and out["rewards"].shape == (4,)
    assert out["rewards"].tolist() == [1.0, 0.0, 0.0, 0.0]
    assert out["scores"].tolist() == [1.0, 0.0, 0.0, 0.0]
    logs = {name: value.tolist() for name, value in out["extra_logs"].items()}
    assert logs == {
        "vr_correct": [1.0, 0.0, 0.0, 0.0],
        "vr_has_gold": [1.0, 1.0, 1.0, 0.0],
        "vr_no_answer": [0.0, 0.0, 1.0, 0.0],
        "vr_limit_hit": [0.0, 0.0, 0.0, 0.0],
        "vr_rejected": [0.0, 0.0, 0.0, 0.0],
    }


def test_the_prompts_own_box_is_not_the_answer(reward_module):
    assert reward_module.response_text(PROMPT + "no idea", PROMPT) == "no idea"
    assert reward_module.reward_func([PROMPT + "no idea"], [PROMPT], ["5"])["rewards"].tolist() == [0.0]


def test_a_query_without_its_prompt_is_graded_whole(reward_module):
    assert reward_module.response_text("\\boxed{4}", "another prompt") == "\\boxed{4}"


class _Tokenizer:
    """Characters as token ids: enough for OpenRLHF's executor."""

    def __call__(self, text, add_special_tokens=False, return_tensors="pt"):
        return {"input_ids": torch.tensor([[ord(c) for c in text]])}

    def decode(self, ids, skip_special_tokens=False):
        return "".join(chr(i) for i in ids)


class _Engine:
    """A vLLM stand-in that always answers ``response``."""

    def __init__(self, response: str):
        self.response = response

    async def generate(self, prompt_token_ids, sampling_params, multi_modal_data=None):
        output = SimpleNamespace(token_ids=[ord(c) for c in self.response], finish_reason="stop", logprobs=None)
        return SimpleNamespace(outputs=[output])


@pytest.mark.parametrize("response, label, reward", [("so \\boxed{4}.", "4", 1.0), ("so \\boxed{5}.", "4", 0.0)])
def test_openrlhfs_own_executor_loads_and_uses_the_file(response, label, reward):
    agent = pytest.importorskip("openrlhf.utils.agent")
    executor = agent.SingleTurnAgentExecutor(remote_rm_url=str(REWARD_FILE))
    params = SimpleNamespace(max_tokens=256, logprobs=None)
    output = asyncio.run(executor.execute(PROMPT, label, params, 4096, _Tokenizer(), _Engine(response)))
    assert torch.tensor([output["reward"]]).tolist() == [reward]  # how OpenRLHF stores it
    assert torch.tensor([output["scores"]]).tolist() == [reward]
    logged = {k: v.flatten()[0].item() for k, v in output["extra_logs"].items()}  # how OpenRLHF logs them
    assert logged["vr_correct"] == reward and logged["vr_has_gold"] == 1.0
