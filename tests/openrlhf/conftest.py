"""Test environment of the OpenRLHF engine tests: stand-ins for flash-attn and vLLM, Ray on CPU,
and the tiny models (a briefly warmed-up policy that writes "\n\n"-separated steps, and a PRM).

The stand-ins (``stubs/``) exist only here: each test module that needs OpenRLHF's models or Ray
code asks for the ``openrlhf_env`` fixture, which puts ``stubs/`` and this directory on
``sys.path`` and on ``PYTHONPATH`` (inherited by Ray workers) for that module only, and removes
them (and the stand-in modules) afterwards, so other tests see no vLLM. Heavy imports therefore
happen inside tests and fixtures, never at collection.
"""

from __future__ import annotations

import pytest
from real_loop import enter_stand_ins, leave_stand_ins


@pytest.fixture(scope="module")
def openrlhf_env():
    """Stand-ins and helpers importable here and in Ray workers, for one test module."""
    saved = enter_stand_ins()
    yield
    leave_stand_ins(saved)


@pytest.fixture(scope="module")
def ray_cpu(openrlhf_env):
    """A local Ray with 2 CPUs for one test module (workers inherit the stand-ins' PYTHONPATH)."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory, tokenizer):
    """{"policy": dir, "prm": dir}: a tiny Qwen2 policy after 20 supervised steps on arithmetic
    solutions (its samples have "\n\n" steps, rarely a right answer) and a PRM (classifier head,
    fixed weights) on the same backbone, both saved with ``save_pretrained``."""
    import random

    import torch

    from openrlhf_pure.data.arithmetic import all_problems, solution_steps
    from openrlhf_pure.engines.local.sft import supervised_finetune
    from openrlhf_pure.models.prm import ProcessRewardModel
    from openrlhf_pure.models.tiny import tiny_causal_lm

    root = tmp_path_factory.mktemp("tiny_models")
    rng = random.Random(0)
    examples = [(p.question + "\n\n", "\n\n".join(solution_steps(p, filler=rng.random() < 0.5)[0]))
                for p in rng.sample(all_problems(), 64)]  # fmt: skip
    torch.manual_seed(0)
    policy = tiny_causal_lm(len(tokenizer), seed=0)
    supervised_finetune(policy, tokenizer, examples, steps=20, batch_size=8, lr=1e-2)
    policy.save_pretrained(root / "policy")
    tokenizer.save_pretrained(root / "policy")
    torch.manual_seed(1)  # the PRM head is new: fix it, then save, so every replica loads the same PRM
    ProcessRewardModel.from_pretrained(str(root / "policy"), new_head=True).save_pretrained(str(root / "prm"))
    return {"policy": str(root / "policy"), "prm": str(root / "prm")}
