"""The vllm backend on a tiny model: runs only where vLLM is importable and a GPU is visible.

The model is a Qwen2 with head size 64 (vLLM's attention kernels do not take the head size 16
of ``tiny_causal_lm``), random weights, saved with save_pretrained. Greedy outputs are not
compared with the hf backend token for token (bfloat16 kernels differ); what is checked is the
contract: records, token counts, finish reasons, the summary, and data-parallel sharding.
CPU-side parts (sharding, the error without vLLM) are tested in ``test_hf_backend.py``.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from openrlhf_pure.evaluation.runner import EvalConfig, run_evaluation

vllm = pytest.importorskip("vllm", reason="vLLM is not installed here (GPU flavour only)")
torch = pytest.importorskip("torch")
if not torch.cuda.is_available():
    pytest.skip("the vllm backend needs a CUDA GPU", allow_module_level=True)


@pytest.fixture(scope="module")
def vllm_model_dir(tmp_path_factory, tokenizer):
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("vllm_model")
    Qwen2ForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def vllm_config(model_dir, out, **changes) -> EvalConfig:
    config = EvalConfig(model=str(model_dir), output_dir=str(out), benchmarks=("math500", "amc23"), backend="vllm")
    config = replace(config, limit=2, max_new_tokens=8, dtype="bfloat16", gpu_memory_utilization=0.3)
    return replace(config, max_model_len=1024, enforce_eager=True, **changes)


def test_vllm_backend_end_to_end(vllm_model_dir, tmp_path, tokenizer, eval_grader):
    summary = run_evaluation(vllm_config(vllm_model_dir, tmp_path), grader=eval_grader, progress=False)
    rows = [json.loads(line) for line in (tmp_path / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == 4
    for row in rows:
        assert row["prompt_tokens"] == len(tokenizer(row["prompt"])["input_ids"])
        assert 1 <= row["response_tokens"] <= 8 and row["finish_reason"] in ("stop", "length")
    assert summary["columns"] == ["MATH500", "AMC23", "Avg"]


def test_vllm_sampling_returns_n_samples(vllm_model_dir, tmp_path, eval_grader):
    config = vllm_config(vllm_model_dir, tmp_path, n=3, k=(1, 3), temperature=1.0)
    summary = run_evaluation(config, grader=eval_grader, progress=False)
    assert summary["benchmarks"]["amc23"]["samples"] == 6


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="data parallel needs two GPUs")
def test_vllm_data_parallel_covers_every_prompt_once(vllm_model_dir, tmp_path, eval_grader):
    config = vllm_config(vllm_model_dir, tmp_path, dp=2, limit=3)
    summary = run_evaluation(config, grader=eval_grader, progress=False)
    rows = [json.loads(line) for line in (tmp_path / "samples.jsonl").read_text().splitlines()]
    keys = [(row["benchmark"], row["index"]) for row in rows]
    assert keys == [(b, i) for b in ("math500", "amc23") for i in range(3)]  # shards put back in order
    assert summary["benchmarks"]["math500"]["problems"] == 3
