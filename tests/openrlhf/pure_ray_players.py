"""Test helpers for the OpenRLHF engine on CPU: the players (Ray actors holding tiny models), tiny
checkpoints, and rollouts shaped exactly like OpenRLHF's.

This module is imported by the tests *and* by Ray workers (it sits on PYTHONPATH, see
``conftest.py``), so the actor class below is found by reference in both.

- :class:`CpuLogProbActor` plays the policy and the reference: an OpenRLHF ``BaseModelActor``
  whose ``forward`` has the signature the experience maker dispatches to and runs OpenRLHF's own
  ``Actor`` wrapper (log-probs of the sampled tokens) on a tiny causal LM, on CPU. OpenRLHF's
  ``PolicyModelActor`` / ``ReferenceModelActor`` cannot be used: they request GPUs and call CUDA.
- The PRM is the project's real one (``PolicyStepScorer`` around ``PRMScorer``) on a tiny PRM
  checkpoint, inside the real :class:`PRMGroup`.
- Rollouts go through OpenRLHF's own code: ``SingleTurnAgentExecutor.execute`` (what a vLLM
  engine runs) with a fake engine that returns chosen responses, then
  ``SamplesGenerator._process_response_into_experience``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

import ray
import torch
from openrlhf.trainer.ray.launcher import BaseModelActor


@ray.remote(num_gpus=0)
class CpuLogProbActor(BaseModelActor):
    """Policy or reference player: OpenRLHF's ``Actor`` on a tiny model, on CPU."""

    def init_model_from_pretrained(self, path: str, temperature: float = 1.0) -> None:
        from openrlhf.models import Actor
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, attn_implementation="eager")
        self.model = Actor(model, temperature=temperature).eval()
        self.model.packing_samples = False  # Actor sets it only when it loads the model itself
        self.strategy = SimpleNamespace(is_rank_0=lambda: True)  # all execute_batch needs

    def forward(self, sequences, action_mask=None, attention_mask=None, **_):
        """(b, T) sequences, (b, T-1) action mask, (b, T) attention mask -> (b, T-1) log-probs."""
        with torch.no_grad():
            return self.model(sequences, action_mask, attention_mask)

    def empty_cache(self) -> None:
        """No CUDA cache on CPU."""


def save_tiny_models(root: Path, tokenizer) -> tuple[str, str]:
    """A tiny policy (Qwen2) and a tiny PRM (classifier head, fixed weights). Returns (policy dir, prm dir)."""
    from openrlhf_pure.models.prm import ProcessRewardModel
    from openrlhf_pure.models.tiny import tiny_causal_lm

    policy_dir, prm_dir = root / "policy", root / "prm"
    tiny_causal_lm(len(tokenizer), seed=0).save_pretrained(policy_dir)
    tokenizer.save_pretrained(policy_dir)
    torch.manual_seed(1)  # the PRM head is new: fix it, then save, so every replica loads the same PRM
    ProcessRewardModel.from_pretrained(str(policy_dir), new_head=True).save_pretrained(str(prm_dir))
    return str(policy_dir), str(prm_dir)


# (label, [(response text, truncated)] * n): object labels with and without a visible answer, a
# plain-string label; correct, wrong, empty, no-separator, "thank you" and truncated responses.
PROBLEMS = [
    (
        "Compute 40 + 2.",
        {"gt_answer": "42", "pure_vr_answer_visible": True},
        [
            ("First, we add:\n\n40 + 2 = 42.\n\nThe answer is \\boxed{42}.", False),
            ("First, we add:\n\n40 + 2 = 41.\n\nThe answer is \\boxed{41}.", False),
            ("The answer is \\boxed{42}.", False),
            ("", False),
        ],
    ),
    (
        "Compute 3 + 4.",
        {"gt_answer": "7", "pure_vr_answer_visible": False},
        [
            ("Thank you.", False),
            ("Let us plan.\n\nLet us plan again.\n\nLet us plan once more.\n\nWe", True),
            ("3 + 4 = 7.\n\nSo \\boxed{7}.", False),
            ("3 + 4 = 8.\n\nSo \\boxed{8}.", False),
        ],
    ),
    (
        "Compute 6 * 2.",
        "12",
        [
            ("6 * 2 = 12.\n\n\\boxed{12}", False),
            ("6 * 2 = 12.\n\n\n\nWait, let's check.\n\n\\boxed{12}", False),
            ("6 * 2 = 11.\n\n\\boxed{11}", False),
            ("We multiply:\n\n", True),
        ],
    ),
]


class FakeEngine:
    """Stands in for a vLLM engine: ``generate`` returns the next chosen response."""

    def __init__(self, tokenizer, responses):
        self.tokenizer, self.responses = tokenizer, list(responses)

    async def generate(self, prompt_token_ids, sampling_params, multi_modal_data=None):
        text, truncated = self.responses.pop(0)
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        ids = ids if truncated else ids + [self.tokenizer.eos_token_id]
        output = SimpleNamespace(token_ids=ids, finish_reason="length" if truncated else "stop", logprobs=None)
        return SimpleNamespace(outputs=[output])


def rollout_samples(args, tokenizer, problems=PROBLEMS):
    """OpenRLHF Experience objects (one per response), built by OpenRLHF's own rollout code."""
    from openrlhf.trainer.ppo_utils.samples_generator import SamplesGenerator
    from openrlhf.utils.agent import SingleTurnAgentExecutor
    from vllm import SamplingParams

    executor = SingleTurnAgentExecutor(remote_rm_url=None)
    generator = SamplesGenerator(SimpleNamespace(args=args), None, None, tokenizer, vllm_engines=[])
    params = SamplingParams(max_tokens=args.rollout.max_new_tokens, logprobs=None)
    samples = []
    for prompt, label, responses in problems:
        engine = FakeEngine(tokenizer, responses)
        for _ in responses:
            response = asyncio.run(executor.execute(prompt, label, params, args.data.max_len, tokenizer, engine))
            samples.append(generator._process_response_into_experience(response, max_len=args.data.max_len))
    return samples
