"""The hf backend: batched left-padded greedy decoding equals one-by-one decoding; stop ids end completions.
Also the CPU-side parts of the vllm backend: prompt sharding, and the error where vLLM is missing."""

from __future__ import annotations

import importlib.util

import pytest

from openrlhf_pure.evaluation.backend import (
    BackendError,
    BackendOptions,
    PromptInput,
    SamplingConfig,
    make_backend,
    model_eos_ids,
)
from openrlhf_pure.evaluation.vllm_backend import shard_bounds

PROMPTS = ["Compute (1 + 2) * 3.", "What is 7?", "Compute (4 + 4) * 9. Please reason step by step."]


@pytest.fixture(scope="module")
def hf(tiny_model_dir, tokenizer):
    backend = make_backend("hf", BackendOptions(model=str(tiny_model_dir), batch_size=4, device="cpu"))
    yield backend
    backend.close()


def inputs(tokenizer) -> list[PromptInput]:
    return [PromptInput(text, tokenizer(text)["input_ids"]) for text in PROMPTS]


def test_batched_greedy_equals_one_by_one(hf, tokenizer):
    sampling = SamplingConfig(max_new_tokens=10, stop_token_ids=(tokenizer.eos_token_id,))
    batched = hf.generate(inputs(tokenizer), sampling)
    single = [hf.generate([prompt], sampling)[0] for prompt in inputs(tokenizer)]
    assert [[c.text for c in cs] for cs in batched] == [[c.text for c in cs] for cs in single]
    for (completion,) in batched:
        assert completion.finish_reason in ("stop", "length") and 1 <= completion.num_tokens <= 10


def test_generation_stops_at_a_stop_id(hf, tokenizer):
    (prompt,) = inputs(tokenizer)[:1]
    greedy = hf.generate([prompt], SamplingConfig(max_new_tokens=4, stop_token_ids=(tokenizer.eos_token_id,)))[0][0]
    first = tokenizer(greedy.text)["input_ids"][0]  # whatever the model says first, made a stop id
    (completion,) = hf.generate([prompt], SamplingConfig(max_new_tokens=4, stop_token_ids=(first,)))[0]
    assert (completion.num_tokens, completion.finish_reason) == (1, "stop")


def test_sampling_returns_n_completions_per_prompt(hf, tokenizer):
    sampling = SamplingConfig(n=3, temperature=1.0, max_new_tokens=5, stop_token_ids=(tokenizer.eos_token_id,))
    outputs = hf.generate(inputs(tokenizer), sampling)
    assert [len(completions) for completions in outputs] == [3, 3, 3]


def test_eos_ids_come_from_tokenizer_and_generation_config(tiny_model_dir, tokenizer, tmp_path):
    from transformers import GenerationConfig

    assert model_eos_ids(str(tiny_model_dir), tokenizer) == (tokenizer.eos_token_id,)
    GenerationConfig(eos_token_id=[tokenizer.eos_token_id, 7]).save_pretrained(tmp_path)
    assert model_eos_ids(str(tmp_path), tokenizer) == tuple(sorted({tokenizer.eos_token_id, 7}))


def test_unknown_backend_lists_the_known_ones(tiny_model_dir):
    with pytest.raises(BackendError, match="unknown backend 'tgi'; known: hf, vllm"):
        make_backend("tgi", BackendOptions(model=str(tiny_model_dir)))


def test_vllm_data_parallel_shards_cover_the_prompts_in_order():
    assert shard_bounds(5, 2) == [(0, 3), (3, 5)]
    assert shard_bounds(1, 3) == [(0, 1), (1, 1), (1, 1)]
    assert shard_bounds(0, 2) == [(0, 0), (0, 0)]


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vLLM is installed here")
def test_vllm_backend_without_vllm_says_what_to_do(tiny_model_dir):
    with pytest.raises(BackendError, match="the vllm backend needs vLLM .*use --backend hf"):
        make_backend("vllm", BackendOptions(model=str(tiny_model_dir)))
