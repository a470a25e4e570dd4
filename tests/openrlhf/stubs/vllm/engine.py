"""Stand-in for ``vllm.AsyncLLMEngine``: the engine inside OpenRLHF's own ``RolloutRayActor``.

OpenRLHF's ``create_vllm_engines`` places its ``RolloutRayActor`` (a Ray actor) exactly as on a
cluster; the actor builds ``vllm.AsyncLLMEngine.from_engine_args(...)``, which is this class:

- ``generate`` samples with Hugging Face ``generate`` from the model given in the engine
  arguments (dtype and seed too), and answers in vLLM's ``RequestOutput`` shape (token ids,
  text, finish reason "stop" on EOS or "length"); OpenRLHF's executor and samples generator
  do the rest;
- ``collective_rpc("init_process_group" | "update_weight", ...)`` is what vLLM's workers run
  for OpenRLHF's weight sync: join the trainer's broadcast group (gloo stand-in of
  ``PyNcclCommunicator``), receive each broadcast tensor and load it into the model by name;
- ``sleep`` / ``wake_up`` follow vLLM's states ("weights", "kv_cache"): generating while the
  KV cache sleeps, or loading weights while the weights sleep, raises.

What it received is written to ``$PURE_TEST_ENGINE_RECORD/engine-<seed>-<pid>.{json,pt}`` after each
complete weight sync (the count of tensors per sync, generate and sleep calls, and the model's
weights), so a test can check the engine against the trainer's saved model after the run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace

import torch


class AsyncEngineArgs:
    """Keeps the engine arguments that OpenRLHF passes."""

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


class AsyncLLMEngine:
    """HF-``generate`` engine with vLLM's asynchronous method surface (see the module docstring)."""

    @classmethod
    def from_engine_args(cls, engine_args: AsyncEngineArgs) -> AsyncLLMEngine:
        return cls(**engine_args.kwargs)

    def __init__(self, model: str, seed: int = 0, dtype: str = "bfloat16", enable_sleep_mode: bool = False, **_):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.model = AutoModelForCausalLM.from_pretrained(model, dtype=getattr(torch, dtype)).eval()
        self.tokenizer = AutoTokenizer.from_pretrained(model)
        self.seed, self.enable_sleep_mode = seed, enable_sleep_mode
        self.asleep: set[str] = set()
        self.output_processor = SimpleNamespace(get_num_unfinished_requests=lambda: 0)
        self.group = None
        self.record = {"seed": seed, "syncs": [], "generate_calls": 0, "sleep_calls": 0, "wake_up_calls": 0}
        self._received: list[str] = []

    # --- sleep mode -----------------------------------------------------------------------
    async def is_sleeping(self) -> bool:
        return bool(self.asleep)

    async def sleep(self, level: int = 1) -> None:
        if not self.enable_sleep_mode:
            raise RuntimeError("sleep() on an engine built without enable_sleep_mode")
        self.asleep = {"weights", "kv_cache"}
        self.record["sleep_calls"] += 1

    async def wake_up(self, tags=None) -> None:
        self.asleep -= set(tags or ("weights", "kv_cache"))
        self.record["wake_up_calls"] += 1

    async def reset_prefix_cache(self) -> None:
        """No prefix cache here."""

    # --- generation -------------------------------------------------------------------------
    async def generate(self, prompt, sampling_params, request_id=None):
        """Async generator of one final ``RequestOutput``-shaped object for ``prompt["prompt_token_ids"]``."""
        if self.asleep:
            raise RuntimeError(f"generate() while {sorted(self.asleep)} sleep: OpenRLHF must wake the engine first")
        ids = list(prompt["prompt_token_ids"])
        params = sampling_params
        self.record["generate_calls"] += 1
        torch.manual_seed(self.seed * 100003 + self.record["generate_calls"])
        eos = self.tokenizer.eos_token_id
        temperature = getattr(params, "temperature", 1.0)
        top_k = getattr(params, "top_k", -1)
        with torch.no_grad():
            out = self.model.generate(
                torch.tensor([ids]),
                attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                do_sample=temperature > 0,
                temperature=temperature if temperature > 0 else None,
                top_p=getattr(params, "top_p", 1.0),
                top_k=top_k if top_k and top_k > 0 else None,
                max_new_tokens=params.max_tokens,
                min_new_tokens=getattr(params, "min_tokens", 0) or None,
                eos_token_id=eos,
                pad_token_id=self.tokenizer.pad_token_id,
            )
        tokens = out[0, len(ids) :].tolist()
        stopped = eos in tokens
        tokens = tokens[: tokens.index(eos) + 1] if stopped else tokens
        text = self.tokenizer.decode(tokens, skip_special_tokens=getattr(params, "skip_special_tokens", False))
        output = SimpleNamespace(token_ids=tokens, text=text, finish_reason="stop" if stopped else "length",
                                 logprobs=None)  # fmt: skip
        yield SimpleNamespace(request_id=request_id, prompt_token_ids=ids, outputs=[output], finished=True)

    # --- weight sync: what vLLM's workers run for OpenRLHF -----------------------------------
    async def collective_rpc(self, method: str, args=()):
        return [getattr(self, f"_rpc_{method}")(*args)]

    def _rpc_init_process_group(self, master_address, master_port, rank_offset, world_size, group_name, backend,
                                use_ray):  # fmt: skip
        from vllm.distributed.device_communicators.pynccl import PyNcclCommunicator
        from vllm.distributed.utils import StatelessProcessGroup

        if use_ray:
            raise NotImplementedError("the CPU engine joins OpenRLHF's weight sync through its stateless group only")
        group = StatelessProcessGroup.create(master_address, master_port, rank_offset, world_size)
        self.group = PyNcclCommunicator(group, device="cpu")

    def _rpc_update_weight(self, name, dtype, shape, empty_cache=False):
        if "weights" in self.asleep:
            raise RuntimeError(f"update_weight({name}) while the weights sleep")
        parameter = self.model.get_parameter(name)
        if dtype != parameter.dtype:
            raise RuntimeError(f"{name}: trainer sends {dtype}, the engine holds {parameter.dtype}")
        weight = torch.empty(shape, dtype=dtype)
        self.group.broadcast(weight, src=0)
        with torch.no_grad():
            parameter.copy_(weight)
        self._received.append(name)
        if empty_cache:  # OpenRLHF flags the last tensor of a sync
            self.record["syncs"].append(len(self._received))
            self._received = []
            self._write_record()

    def _write_record(self) -> None:
        folder = os.environ.get("PURE_TEST_ENGINE_RECORD")
        if not folder:
            return
        base = Path(folder) / f"engine-{self.seed}-{os.getpid()}"
        base.parent.mkdir(parents=True, exist_ok=True)
        torch.save({k: v.detach().clone() for k, v in self.model.state_dict().items()}, f"{base}.pt.tmp")
        os.replace(f"{base}.pt.tmp", f"{base}.pt")
        Path(f"{base}.json.tmp").write_text(json.dumps(self.record))
        os.replace(f"{base}.json.tmp", f"{base}.json")
