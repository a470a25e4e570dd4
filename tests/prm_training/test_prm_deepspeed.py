"""The DeepSpeed backend of the PRM trainer takes the same optimizer step as one torch process.

Compared on the first optimizer steps of a tiny PRM: the global mean loss, the gradient norm
before clipping (it sees any error in the loss normalisation: a factor of the world size or
of the label count), and the weights after the step (they see a wrong shard or a dropped
micro-batch). Runs on CPU with gloo: in this process (world size 1, ZeRO 0 and 2, and a
checkpoint resumed) and as two processes under torchrun with ZeRO-2 through the CLI.
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from openrlhf_pure.data.stepwise import StepwiseRow, write_trl_jsonl
from openrlhf_pure.engines.prm_trainer import PRMTrainConfig, PRMTrainer
from openrlhf_pure.models.prm import ProcessRewardModel
from openrlhf_pure.models.tiny import tiny_causal_lm

pytest.importorskip("deepspeed")
REPO = Path(__file__).resolve().parents[2]
SETTINGS = dict(rows_per_step=16, max_tokens_per_batch=96, lr=1e-3, progress=False)  # several micro-batches


def rows(seed: int, count: int) -> list[StepwiseRow]:
    """Sums with 1 to 5 steps (so ranks pack different numbers of micro-batches)."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        a, b = rng.randint(1, 9), rng.randint(1, 9)
        wrong = rng.random() < 0.5
        result = 90 + a if wrong else a + b
        steps = [f"First, we add: {a} + {b} = {result}."] + ["We check it: fine."] * rng.randint(0, 3)
        steps.append(f"The answer is \\boxed{{{result}}}.")
        labels = [False] if wrong else [True] * len(steps)
        out.append(StepwiseRow(f"Compute {a} + {b}.", steps[: len(labels)], labels))
    return out


def free_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return str(sock.getsockname()[1])


@pytest.fixture(scope="module")
def prm_path(tmp_path_factory, tokenizer):
    """A tiny PRM (causal LM + a fixed head), saved."""
    base = tmp_path_factory.mktemp("base")
    tiny_causal_lm(len(tokenizer), seed=5).save_pretrained(base)
    tokenizer.save_pretrained(base)
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("prm")
    ProcessRewardModel.from_pretrained(str(base), new_head=True).save_pretrained(str(path))
    return str(path)


def run(prm_path: str, out: Path, steps: int, resume: bool = False, **overrides) -> tuple[PRMTrainer, list[dict]]:
    config = PRMTrainConfig(output_dir=str(out), max_steps=steps, **{**SETTINGS, **overrides})
    trainer = PRMTrainer(ProcessRewardModel.from_pretrained(prm_path), rows(0, 64), [], config)
    return trainer, trainer.train(resume=resume)


@pytest.fixture(scope="module")
def reference(prm_path, tmp_path_factory):
    """Two steps of the torch backend: (trainer, history, weights after step 1 from its checkpoint)."""
    out = tmp_path_factory.mktemp("torch")
    trainer, history = run(prm_path, out, 2, save_every=1)
    return trainer, history, load_file(out / "checkpoints" / "step_000001" / "policy" / "model.safetensors")


@pytest.fixture(scope="module")
def single_process_group():
    """World-size-1 process group variables; the group is torn down after this module."""
    names = ("MASTER_ADDR", "MASTER_PORT", "RANK", "WORLD_SIZE", "LOCAL_RANK", "DS_ACCELERATOR")
    saved = {k: os.environ.get(k) for k in names}
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=free_port(), RANK="0", WORLD_SIZE="1", LOCAL_RANK="0")
    os.environ.setdefault("DS_ACCELERATOR", "cpu")
    yield
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def assert_same_step(metrics: dict, expected: dict) -> None:
    assert metrics["train/loss"] == pytest.approx(expected["train/loss"], rel=1e-6)
    assert metrics["train/grad_norm"] == pytest.approx(expected["train/grad_norm"], rel=1e-5)
    assert metrics["train/step_accuracy"] == expected["train/step_accuracy"]


def assert_same_weights(actual: dict, expected: dict) -> None:
    assert set(actual) == set(expected)
    for key, value in expected.items():
        torch.testing.assert_close(actual[key].float(), value.float(), atol=2e-5, rtol=0, msg=key)


@pytest.mark.parametrize("stage", [0, 2])
def test_one_deepspeed_process_takes_the_torch_backends_first_step(
    stage, prm_path, reference, single_process_group, tmp_path
):
    _, history, weights = reference
    trainer, ds_history = run(prm_path, tmp_path, 1, backend="deepspeed", zero_stage=stage)
    assert_same_step(ds_history[0], history[0])
    assert_same_weights(trainer.prm.model.state_dict(), weights)
    assert_same_weights(load_file(tmp_path / "final" / "model.safetensors"), weights)


def test_a_deepspeed_checkpoint_resumes_to_the_same_second_step(prm_path, reference, single_process_group, tmp_path):
    ref_trainer, history, _ = reference
    run(prm_path, tmp_path, 1, backend="deepspeed", save_every=1)
    assert (tmp_path / "checkpoints" / "latest").read_text() == "step_000001"
    trainer, resumed = run(prm_path, tmp_path, 2, resume=True, backend="deepspeed")
    assert len(resumed) == 2
    assert_same_step(resumed[0], history[0])
    assert_same_step(resumed[1], history[1])
    assert_same_weights(trainer.prm.model.state_dict(), ref_trainer.prm.model.state_dict())


def test_two_processes_under_torchrun_reproduce_the_single_process_step(prm_path, reference, tmp_path):
    ref_trainer, history, weights = reference
    data = tmp_path / "train.jsonl"
    write_trl_jsonl(rows(0, 64), data)
    flags = (
        f"--model.name_or_path {prm_path} --data.train {data} --train.max_steps 1 --train.rows_per_step 16 "
        "--train.max_tokens_per_batch 96 --train.lr 1e-3 --log.no_progress"
    ).split()  # no spaces in the paths
    env = {**os.environ, "DS_ACCELERATOR": "cpu", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", free_port()]
    backend = ["--train.backend", "deepspeed", "--ds.zero_stage", "2", "--output_dir", str(tmp_path / "two")]
    command = [*launcher, "-m", "openrlhf_pure.cli.train_prm", *flags, *backend]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert_same_step(json.loads((tmp_path / "two" / "metrics.jsonl").read_text()), history[0])
    assert_same_weights(load_file(tmp_path / "two" / "final" / "model.safetensors"), weights)
    # the two ranks packed different numbers of micro-batches: the padding passes ran
    shards = [ref_trainer.step_rows(0)[rank::2] for rank in range(2)]
    passes = [len(ref_trainer.plan([ref_trainer.inputs[i] for i in shard])) for shard in shards]
    assert passes[0] != passes[1]
