"""The ``vllm`` backend: vLLM engines on GPUs, tensor parallel within an engine, data parallel across engines.

Written against vLLM's documented offline API: ``vllm.LLM(model=, tokenizer=,
tensor_parallel_size=, seed=, dtype=, ...)``, ``vllm.SamplingParams(n=, temperature=, top_p=,
max_tokens=, seed=, stop_token_ids=)`` and ``llm.generate(prompts, sampling_params)``, reading
``outputs[i].outputs[j].text`` / ``.token_ids`` / ``.finish_reason``. Prompts are passed as
token ids (``{"prompt_token_ids": ids}``) so that vLLM sees exactly what the ``hf`` backend
sees. vLLM is imported lazily, inside the engine.

Data parallel (``dp > 1``): ``dp`` engine processes (``spawn``), engine ``r`` pinned through
``CUDA_VISIBLE_DEVICES`` to GPUs ``r*tp .. r*tp+tp-1`` of the visible ones; each call's prompts
are split into ``dp`` contiguous, near-equal shards, one per engine, and the results are put
back in prompt order. With ``dp == 1`` the engine runs in this process.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import traceback
from contextlib import contextmanager
from dataclasses import asdict

from openrlhf_pure.evaluation.backend import (
    BackendError,
    BackendOptions,
    Completion,
    PromptInput,
    SamplingConfig,
    register_backend,
)

DEFAULT_CHUNK = 512


class VLLMEngine:
    """One ``vllm.LLM`` (``tp`` GPUs) in the current process."""

    def __init__(self, options: BackendOptions):
        from vllm import LLM

        kwargs = {
            "model": options.model,
            "tokenizer": options.tokenizer or options.model,
            "tensor_parallel_size": options.tp,
            "seed": options.seed,
            "dtype": options.dtype,
            "gpu_memory_utilization": options.gpu_memory_utilization,
            "enforce_eager": options.enforce_eager,
        }
        if options.max_model_len is not None:
            kwargs["max_model_len"] = options.max_model_len
        self.llm = LLM(**kwargs)

    def generate(self, prompts: list[PromptInput], sampling: SamplingConfig) -> list[list[Completion]]:
        """``sampling.n`` completions per prompt, in prompt order."""
        from vllm import SamplingParams

        params = SamplingParams(
            n=sampling.n,
            temperature=sampling.temperature,
            top_p=sampling.top_p if sampling.temperature > 0 else 1.0,
            max_tokens=sampling.max_new_tokens,
            seed=sampling.seed,
            stop_token_ids=list(sampling.stop_token_ids),
        )
        outputs = self.llm.generate([{"prompt_token_ids": p.token_ids} for p in prompts], params, use_tqdm=False)
        return [
            [Completion(o.text, len(o.token_ids), o.finish_reason or "length") for o in output.outputs]
            for output in outputs
        ]


def visible_gpus() -> list[str]:
    """The GPUs this process may use: ``CUDA_VISIBLE_DEVICES`` if set, else all that torch sees."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [d.strip() for d in env.split(",") if d.strip()]
    import torch

    return [str(i) for i in range(torch.cuda.device_count())]


def shard_bounds(count: int, shards: int) -> list[tuple[int, int]]:
    """``shards`` contiguous (start, end) ranges covering ``range(count)``, sizes differing by at most one."""
    base, extra = divmod(count, shards)
    bounds, start = [], 0
    for r in range(shards):
        end = start + base + (1 if r < extra else 0)
        bounds.append((start, end))
        start = end
    return bounds


class VLLMBackend:
    """vLLM generation, in process (``dp == 1``) or over ``dp`` engine processes."""

    name = "vllm"

    def __init__(self, options: BackendOptions, tokenizer=None):
        try:
            import vllm  # noqa: F401 - fail here, before any engine starts, when vLLM is missing
        except ImportError as error:
            raise BackendError(
                f"the vllm backend needs vLLM ({error}); install the gpu flavour or use --backend hf"
            ) from None
        if options.tp < 1 or options.dp < 1:
            raise BackendError("--tp and --dp must be at least 1")
        gpus = visible_gpus()
        if len(gpus) < options.tp * options.dp:
            raise BackendError(
                f"--tp {options.tp} x --dp {options.dp} needs {options.tp * options.dp} GPUs, {len(gpus)} visible"
            )
        self.chunk_size = options.batch_size or DEFAULT_CHUNK * options.dp
        self._local: VLLMEngine | None = None
        self._workers: list[tuple[multiprocessing.Process, object, object]] = []
        if options.dp == 1:
            self._local = VLLMEngine(options)
            return
        context = multiprocessing.get_context("spawn")
        for r in range(options.dp):
            devices = ",".join(gpus[r * options.tp : (r + 1) * options.tp])
            requests, replies = context.Queue(), context.Queue()
            process = context.Process(target=engine_worker, args=(devices, asdict(options), requests, replies))
            with _environment(CUDA_VISIBLE_DEVICES=devices):
                process.start()
            self._workers.append((process, requests, replies))
        for rank in range(options.dp):
            self._receive(rank)  # "ready", or the engine's start-up error

    def generate(self, prompts: list[PromptInput], sampling: SamplingConfig) -> list[list[Completion]]:
        """``sampling.n`` completions per prompt, in prompt order (sharded over engines when ``dp > 1``)."""
        if self._local is not None:
            return self._local.generate(prompts, sampling)
        busy = []  # engines given a non-empty shard
        for rank, (start, end) in enumerate(shard_bounds(len(prompts), len(self._workers))):
            if end > start:
                self._workers[rank][1].put((prompts[start:end], sampling))
                busy.append(rank)
        results: list[list[Completion]] = []
        for rank in busy:
            results.extend(self._receive(rank))
        return results

    def close(self) -> None:
        """Stop the engine processes (or drop the local engine)."""
        self._local = None
        for _, requests, _ in self._workers:
            requests.put(None)
        for process, _, _ in self._workers:
            process.join(timeout=60)
            if process.is_alive():
                process.terminate()
        self._workers = []

    def _receive(self, rank: int):
        process, _, replies = self._workers[rank]
        while True:
            try:
                status, payload = replies.get(timeout=10)
            except queue.Empty:  # check the engine is still alive
                if not process.is_alive():
                    raise BackendError(f"vLLM engine {rank} died (exit code {process.exitcode})") from None
                continue
            if status == "error":
                raise BackendError(f"vLLM engine {rank} failed:\n{payload}")
            return payload


def engine_worker(devices: str, options: dict, requests, replies) -> None:
    """Entry point of a data-parallel engine process: serve (prompts, sampling) requests until None."""
    os.environ["CUDA_VISIBLE_DEVICES"] = devices
    try:
        engine = VLLMEngine(BackendOptions(**options))
        replies.put(("ready", None))
    except Exception:  # noqa: BLE001 - reported to the parent, which raises it
        replies.put(("error", traceback.format_exc()))
        return
    while (request := requests.get()) is not None:
        try:
            replies.put(("ok", engine.generate(*request)))
        except Exception:  # noqa: BLE001 - reported to the parent, which raises it
            replies.put(("error", traceback.format_exc()))


@contextmanager
def _environment(**values: str):
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@register_backend("vllm")
def make_vllm_backend(options: BackendOptions, tokenizer=None) -> VLLMBackend:
    """The ``vllm`` backend factory (``tokenizer`` is unused: vLLM loads its own)."""
    return VLLMBackend(options, tokenizer)
