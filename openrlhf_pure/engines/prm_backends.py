"""Training backends of the PRM trainer: who owns the optimizer, how gradients of ranks meet, how
checkpoints are written. ``engines/prm_trainer.py`` holds everything else (encoding, packing,
the loss, evaluation, the loop) and is the same under every backend.

The trainer's contract with a backend: every rank takes its shard of each global batch and
backpropagates, micro-batch by micro-batch, its part of the global mean loss

    L = (1 / N) * sum over the labelled steps of every rank's rows of CE(logits, label)

(N = labelled steps in the whole global batch, which every rank knows: the batch is a function
of the step and the seed). After the last micro-batch the backend holds the gradient of L
exactly as one process holding the whole batch would, and takes one optimizer step.

Backends (registry ``TRAINING_BACKENDS``; a new one is one decorated class):

- ``torch``: one process (CPU or one GPU). Plain torch AdamW, linear warm-up then constant,
  gradient clipping, atomic checkpoints through ``engines.checkpoint`` (HF weights + state).
- ``deepspeed``: data parallel over every process started by the ``deepspeed`` launcher (or
  torchrun), on one node or many; ZeRO stage 0-3, bf16, gradient checkpointing. The same torch
  AdamW is handed to ``deepspeed.initialize`` (no compiled optimizer ops). What it does beyond
  a textbook DeepSpeed loop, checked against deepspeed 0.19.6's engine:

  * DeepSpeed averages gradients over ranks, so each rank backpropagates W x its share of L
    (W = world size); the average is then the gradient of L.
  * Packing under a token budget gives ranks different numbers of micro-batches, but ZeRO-2
    reduces gradients in every backward and ZeRO-3 gathers parameters in every forward, so
    ranks must run the same number of passes. The trainer all-reduces the count (max) and pads
    with passes that repeat a real input at zero loss. ``gradient_accumulation_steps`` is 1 and
    the boundary is set by hand (``set_gradient_accumulation_boundary``: True only on the last
    pass), then one ``engine.step()``. Every forward goes through the engine (the PRM's
    ``label_logits`` is wrapped in a module), so its backward hooks run as DeepSpeed expects.
  * On CPU (the tests) the process group uses gloo, and DeepSpeed's shared-memory all-reduce
    kernel (an inference speed-up) is switched off, so nothing is compiled at start-up.
  * Checkpoints: ``engine.save_checkpoint`` (every rank writes its ZeRO shard) under a
    temporary tag that rank 0 renames after a barrier: the checkpoint folder must be shared by
    all nodes. The final PRM (``save_pretrained``) is written by rank 0, with ZeRO-3's
    partitions gathered first. ZeRO-3 does not support the ``lm_candidates`` head (it reads the
    output embedding's weight outside a forward call).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
from pathlib import Path

import torch

from openrlhf_pure.core.registry import Registry
from openrlhf_pure.engines.checkpoint import (
    load_checkpoint,
    read_trainer_state,
    save_checkpoint,
    save_pretrained_atomic,
    write_trainer_state,
)

TRAINING_BACKENDS: Registry = Registry("PRM training backend")


def trainable_parameters(prm) -> list[torch.nn.Parameter]:
    """The PRM's parameters that require gradients; an error when every one is frozen."""
    params = [p for p in prm.model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("nothing to train: every parameter is frozen")
    return params


def make_optimizer(params, config) -> torch.optim.AdamW:
    """Torch AdamW with the config's lr, weight decay and betas."""
    return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay, betas=tuple(config.adam_betas))


def warmup_then_constant(config, total_steps: int):
    """The LR multiplier per optimizer step: linear warm-up over ``warmup_ratio`` of the steps, then 1."""
    warmup = round(config.warmup_ratio * total_steps)
    return lambda step: min(1.0, (step + 1) / warmup) if warmup else 1.0


def label_logits(prm, batch: dict) -> torch.Tensor:
    """(N, 2) label logits of a collated batch (packed rows: position ids restart per sequence)."""
    return prm.label_logits(batch["input_ids"], batch["label_rows"], batch["label_cols"],
                            position_ids=batch["position_ids"])  # fmt: skip


# ---------------------------------------------------------------------------------------------
# One process


@TRAINING_BACKENDS.register("torch")
class TorchBackend:
    """One process, plain torch AdamW (see the module docstring).

    Args:
        prm: the PRM (trained where it is).
        config: a ``PRMTrainConfig``.
        total_steps: optimizer steps of the run (for the warm-up).
    """

    rank, world_size, is_main = 0, 1, True

    def __init__(self, prm, config, total_steps: int):
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            raise ValueError("the 'torch' backend runs in one process; use backend 'deepspeed' under a launcher")
        self.prm, self.max_grad_norm = prm, config.max_grad_norm
        self.params = trainable_parameters(prm)
        self.optimizer = make_optimizer(self.params, config)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, warmup_then_constant(config, total_steps))

    @property
    def device(self) -> torch.device:
        """Where batches go."""
        return self.prm.device

    def train(self, mode: bool = True) -> None:
        """Switch the model to training (or eval) mode."""
        self.prm.model.train(mode)

    def label_logits(self, batch: dict) -> torch.Tensor:
        """(N, 2) label logits of a collated batch."""
        return label_logits(self.prm, batch)

    def zero_grad(self) -> None:
        """Clear gradients before a step's first micro-batch."""
        self.optimizer.zero_grad(set_to_none=True)

    def start_pass(self, last: bool) -> None:
        """Called before each forward pass of a step; ``last`` marks the step's final pass."""

    def backward(self, loss: torch.Tensor) -> None:
        """Accumulate the gradient of ``loss`` (this rank's part of the global mean loss)."""
        loss.backward()

    def optimizer_step(self) -> tuple[float, float]:
        """Clip, step the optimizer and the schedule; returns (gradient norm before clipping, new lr)."""
        norm = torch.nn.utils.clip_grad_norm_(self.params, self.max_grad_norm)
        self.optimizer.step()
        self.scheduler.step()
        return float(norm), self.scheduler.get_last_lr()[0]

    def all_reduce(self, values: list[float], op: str = "sum") -> list[float]:
        """Sum (or max) of ``values`` over ranks: here, the values."""
        return [float(v) for v in values]

    def all_gather(self, obj) -> list:
        """``obj`` of every rank, in rank order."""
        return [obj]

    def barrier(self) -> None:
        """Wait for every rank."""

    def save_checkpoint(self, root: Path, step: int, extra: dict) -> Path:
        """An atomic checkpoint (weights, optimizer, schedule, RNG, ``extra``) of step ``step``."""
        return save_checkpoint(root, step, self.prm, self.optimizer, self.scheduler, extra)  # PRM: with its tokenizer

    def load_checkpoint(self, folder: Path) -> tuple[int, dict]:
        """Restore a checkpoint written by :meth:`save_checkpoint`; returns (step, extra)."""
        return load_checkpoint(folder, self.prm.model, self.optimizer, self.scheduler)

    def save_final(self, path: Path) -> None:
        """The trained PRM as a Hugging Face folder (model, tokenizer, PRM settings)."""
        save_pretrained_atomic(self.prm, path)


# ---------------------------------------------------------------------------------------------
# DeepSpeed


def ensure_distributed_env() -> None:
    """Set single-process defaults for the variables torch.distributed reads, unless a launcher did."""
    if "RANK" in os.environ or "OMPI_COMM_WORLD_RANK" in os.environ:
        return
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    defaults = {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0"}
    for key, value in defaults.items():
        os.environ.setdefault(key, value)


def deepspeed_config(config, world_size: int) -> dict:
    """The DeepSpeed config of a run (``config.deepspeed_config`` is merged over it, key by key)."""
    zero = {"stage": config.zero_stage, "contiguous_gradients": True, "overlap_comm": False}
    if config.zero_stage == 3:
        zero["stage3_gather_16bit_weights_on_model_save"] = True
    ds = {
        "train_micro_batch_size_per_gpu": 1,
        "gradient_accumulation_steps": 1,  # the trainer sets the accumulation boundary itself
        "train_batch_size": world_size,
        "gradient_clipping": config.max_grad_norm,
        "zero_optimization": zero,
        "bf16": {"enabled": bool(config.bf16)},
        "zero_allow_untested_optimizer": True,  # torch AdamW: no compiled optimizer ops
        "steps_per_print": 10**9,
        "wall_clock_breakdown": False,
    }
    if config.bf16 and config.zero_stage >= 1:
        ds["data_types"] = {"grad_accum_dtype": "fp32"}  # bf16 accumulation loses small gradients
    return _merge(ds, config.deepspeed_config or {})


def _merge(base: dict, override: dict) -> dict:
    out = dict(base)
    for key, value in override.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


class _LabelLogitsModule(torch.nn.Module):
    """What the engine wraps: the PRM, called for its label logits (so forwards go through the engine)."""

    def __init__(self, prm):
        super().__init__()
        self.prm = prm

    def forward(self, input_ids, label_rows, label_cols, position_ids):
        return self.prm.label_logits(input_ids, label_rows, label_cols, position_ids=position_ids)


@TRAINING_BACKENDS.register("deepspeed")
class DeepSpeedBackend(TorchBackend):
    """Data parallel training with DeepSpeed (see the module docstring); same arguments as :class:`TorchBackend`."""

    def __init__(self, prm, config, total_steps: int):
        import deepspeed
        import deepspeed.ops
        from deepspeed.accelerator import get_accelerator
        from deepspeed.utils import logger as ds_logger

        if config.zero_stage not in (0, 1, 2, 3):
            raise ValueError(f"ZeRO stage must be 0, 1, 2 or 3, got {config.zero_stage}")
        if config.zero_stage == 3 and prm.head == "lm_candidates":
            raise ValueError("ZeRO-3 does not support the lm_candidates head; use ZeRO-2")
        ds_logger.setLevel(logging.WARNING)
        ensure_distributed_env()
        if get_accelerator().device_name() == "cpu":
            deepspeed.ops.__compatible_ops__["deepspeed_shm_comm"] = False  # skip a 25-110 s JIT build
        deepspeed.init_distributed()
        dist = torch.distributed
        self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
        self.is_main = self.rank == 0
        self.prm, self.stage, self.bf16 = prm, config.zero_stage, bool(config.bf16)
        self.params = trainable_parameters(prm)
        schedule = warmup_then_constant(config, total_steps)
        self.engine, self.optimizer, _, self.scheduler = deepspeed.initialize(
            model=_LabelLogitsModule(prm),
            optimizer=make_optimizer(self.params, config),
            lr_scheduler=lambda optimizer: torch.optim.lr_scheduler.LambdaLR(optimizer, schedule),
            config=deepspeed_config(config, self.world_size),
            dist_init_required=False,
        )

    @property
    def device(self) -> torch.device:
        """This rank's device."""
        return self.engine.device

    def train(self, mode: bool = True) -> None:
        """Switch the engine to training (or eval) mode."""
        self.engine.train(mode)

    def label_logits(self, batch: dict) -> torch.Tensor:
        """(N, 2) label logits of a collated batch, through the engine."""
        return self.engine(batch["input_ids"], batch["label_rows"], batch["label_cols"], batch["position_ids"])

    def zero_grad(self) -> None:
        """Nothing: the engine clears gradients after each step."""

    def start_pass(self, last: bool) -> None:
        """Set the accumulation boundary (before the forward, as DeepSpeed asks): only the last pass reduces."""
        self.engine.set_gradient_accumulation_boundary(last)

    def backward(self, loss: torch.Tensor) -> None:
        """Backpropagate W x ``loss``: DeepSpeed averages gradients over the W ranks."""
        self.engine.backward(loss * self.world_size, scale_wrt_gas=False)

    def optimizer_step(self) -> tuple[float, float]:
        """One engine step; returns (gradient norm before clipping, new lr)."""
        norm = None
        if self.stage == 0 and not self.bf16:  # the plain path clips in place and keeps no norm
            grads = [p.grad.float().norm() for p in self.params if p.grad is not None]
            norm = float(torch.stack(grads).norm()) if grads else 0.0
        self.engine.step()
        if norm is None:
            norm = float(self.engine.get_global_grad_norm() or 0.0)
        return norm, self.scheduler.get_last_lr()[0]

    def all_reduce(self, values: list[float], op: str = "sum") -> list[float]:
        """Sum (or max) of ``values`` over ranks."""
        ops = {"sum": torch.distributed.ReduceOp.SUM, "max": torch.distributed.ReduceOp.MAX}
        tensor = torch.tensor([float(v) for v in values], dtype=torch.float64, device=self.device)
        torch.distributed.all_reduce(tensor, op=ops[op])
        return tensor.tolist()

    def all_gather(self, obj) -> list:
        """``obj`` of every rank, in rank order."""
        out = [None] * self.world_size
        torch.distributed.all_gather_object(out, obj)
        return out

    def barrier(self) -> None:
        """Wait for every rank."""
        torch.distributed.barrier()

    def save_checkpoint(self, root: Path, step: int, extra: dict) -> Path:
        """Every rank writes its shard under a temporary tag; rank 0 renames it and moves ``latest``."""
        root, name = Path(root), f"step_{step:06d}"
        tmp = f".{name}.tmp"
        if self.is_main:
            root.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(root / tmp, ignore_errors=True)
        self.barrier()
        self.engine.save_checkpoint(str(root), tag=tmp, save_latest=False)
        self.barrier()
        if self.is_main:
            write_trainer_state(root / tmp, {}, {"step": step, "extra": extra})
            if (root / name).exists():
                shutil.rmtree(root / name)
            os.replace(root / tmp, root / name)
            (root / ".latest.tmp").write_text(name)
            os.replace(root / ".latest.tmp", root / "latest")
        self.barrier()
        return root / name

    def load_checkpoint(self, folder: Path) -> tuple[int, dict]:
        """Restore engine, optimizer and schedule from a checkpoint of :meth:`save_checkpoint`."""
        folder = Path(folder)
        _, state = read_trainer_state(folder)
        path, _ = self.engine.load_checkpoint(str(folder.parent), tag=folder.name)
        if path is None:
            raise FileNotFoundError(f"{folder}: DeepSpeed found no checkpoint to load")
        return state["step"], state["extra"]

    def save_final(self, path: Path) -> None:
        """Rank 0 writes the PRM as a Hugging Face folder (ZeRO-3 partitions gathered first)."""
        import deepspeed

        params = list(self.prm.model.parameters())
        gather = deepspeed.zero.GatheredParameters(params, modifier_rank=None) if self.stage == 3 else None
        with gather or contextlib.nullcontext():
            if self.is_main:
                save_pretrained_atomic(self.prm, path)
        self.barrier()
