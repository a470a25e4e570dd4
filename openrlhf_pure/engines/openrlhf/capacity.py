"""What one GPU of a colocated run holds, and the PRM's context, estimated before anything starts.

Used by ``--dry_run``. Parameter counts come from the models' configs alone (instantiated on
PyTorch's "meta" device: no weights are read; a hub name is looked up only in the local Hugging
Face cache). Per GPU of the actor's placement group (``N`` = data-parallel actor ranks):

| part | bytes |
|---|---|
| actor weights | P x b / (N with ZeRO-3, else 1); b = 2 for bf16/fp16, 4 for fp32 |
| actor gradients | P x b / (N with ZeRO-2 or 3, else 1) |
| actor Adam states | P x 12 / N (fp32 master copy and two moments; 0 with ``--ds.adam_offload``) |
| reference | P x b / (N with ZeRO-3, else 1), when the KL coefficient is > 0 (0 with ``--ref.offload``) |
| PRM replicas | replicas per GPU x P_prm x 2 (bf16), colocated only (0 between scorings with ``--pure.prm.offload``) |
| vLLM | ``--vllm.gpu_memory_utilization`` x GPU memory (weights and KV cache), while awake |

Phases: generation (vLLM awake; with ``--ds.enable_sleep`` the actor keeps only its bf16 weights
on the GPU, as OpenRLHF offloads gradients, master weights and Adam states), scoring (the policy,
reference and PRM forward passes) and training (the actor's states on the GPU; vLLM asleep with
``--vllm.enable_sleep``). The peak is
the larger; activations, the CUDA context and fragmentation come on top (a few GiB), so a
warning is given when the peak exceeds ``--pure.gpu_memory_gb`` less a margin.
"""

from __future__ import annotations

import math
import os

GIB = 2**30
PARAM_BYTES = {"bf16": 2, "fp16": 2, "fp32": 4}
ADAM_BYTES = 12
MARGIN_GB = 4.0  # activations, CUDA context, fragmentation (not estimated)


def model_config(path: str | None):
    """The transformers config at ``path`` (a folder, or a hub name already in the local cache); None if unreadable."""
    if not path or (os.path.isdir(path) and not os.path.exists(os.path.join(path, "config.json"))):
        return None  # (before importing transformers: a dry run stays quick)
    try:
        from transformers import AutoConfig

        return AutoConfig.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError, KeyError):
        return None


def count_parameters(config, backbone_only: bool = False) -> int:
    """Parameters of a causal LM (or its backbone, for a PRM: the 2-logit head is negligible) built
    from ``config`` on the meta device."""
    import torch
    from transformers import AutoModel, AutoModelForCausalLM

    with torch.device("meta"):
        model = (AutoModel if backbone_only else AutoModelForCausalLM).from_config(config)
    return sum(p.numel() for p in model.parameters())


def colocated_memory(args, actor_params: int, prm_params: int | None) -> dict:
    """GiB per GPU of the actor's bundles, by part and phase (see the module docstring)."""
    bundles = args.actor.num_nodes * args.actor.num_gpus_per_node
    ranks = max(bundles // (args.ds.ring_attn_size * args.ds.tensor_parallel_size), 1)
    zero, size = args.ds.zero_stage, PARAM_BYTES.get(args.ds.param_dtype, 2)
    gpu_gb = args.pure.gpu_memory_gb
    parts = {
        "actor_weights": actor_params * size / (ranks if zero == 3 else 1),
        "actor_gradients": actor_params * size / (ranks if zero >= 2 else 1),
        "actor_adam": 0 if args.ds.adam_offload else actor_params * ADAM_BYTES / (ranks if zero >= 1 else 1),
        "reference": 0,
        "prm": 0,
        "vllm": 0,
    }
    if args.algo.kl.init_coef > 0 and not args.ref.offload:
        parts["reference"] = actor_params * size / (ranks if zero == 3 else 1)
    if prm_params and args.pure.reward_mode != "vr" and args.pure.prm.colocate:
        parts["prm"] = math.ceil(args.pure.prm.num_replicas / bundles) * prm_params * 2
    parts = {k: v / GIB for k, v in parts.items()}
    if args.train.colocate_all:
        parts["vllm"] = args.vllm.gpu_memory_utilization * gpu_gb
    actor_states = parts["actor_weights"] + parts["actor_gradients"] + parts["actor_adam"]
    prm_resident = 0.0 if args.pure.prm.offload else parts["prm"]
    vllm_asleep = 0.0 if args.vllm.enable_sleep else parts["vllm"]
    phases = {
        "generation": parts["vllm"] + (parts["actor_weights"] if args.ds.enable_sleep else actor_states)
        + parts["reference"] + prm_resident,
        "scoring": parts["actor_weights"] + parts["reference"] + parts["prm"] + vllm_asleep,
        "training": actor_states + parts["reference"] + prm_resident + vllm_asleep,
    }  # fmt: skip
    peak = max(phases, key=phases.get)
    rounded = {k: round(v, 3) for k, v in parts.items()}
    return {"gib": rounded, "phases_gib": {k: round(v, 3) for k, v in phases.items()}, "peak_phase": peak,
            "peak_gib": round(phases[peak], 3), "gpu_memory_gb": gpu_gb}  # fmt: skip


def capacity_report(args) -> tuple[dict, list[str]]:
    """(the estimate for the dry run's plan, warnings). Nothing is loaded or started."""
    actor_config = model_config(args.actor.model_name_or_path)
    uses_prm = args.pure.reward_mode != "vr"
    prm_config = model_config(args.pure.prm.model_name_or_path) if uses_prm else None
    warnings, report = [], {}
    if actor_config is None:
        return {"unknown": f"no config readable offline for {args.actor.model_name_or_path}"}, warnings
    actor_params = count_parameters(actor_config)
    prm_params = count_parameters(prm_config, backbone_only=True) if prm_config is not None else None
    report["parameters"] = {"actor": actor_params, "prm": prm_params}
    if args.train.colocate_actor_ref or args.train.colocate_all:
        memory = colocated_memory(args, actor_params, prm_params)
        report["per_gpu"] = memory
        if memory["peak_gib"] + MARGIN_GB > memory["gpu_memory_gb"]:
            warnings.append(
                f"estimated {memory['peak_gib']:.1f} GiB per GPU at the {memory['peak_phase']} peak "
                f"({', '.join(f'{k} {v:.1f}' for k, v in memory['gib'].items() if v)}) plus ~{MARGIN_GB:.0f} GiB of "
                f"activations and context does not fit {memory['gpu_memory_gb']:g} GB (--pure.gpu_memory_gb): lower "
                f"--vllm.gpu_memory_utilization, use ZeRO-3, --ds.adam_offload, --pure.prm.offload or more GPUs"
            )
        if uses_prm and args.pure.prm.colocate and prm_params is None:
            warnings.append(f"the PRM's size is unknown (no config readable offline for "
                            f"{args.pure.prm.model_name_or_path}): the estimate leaves it out")  # fmt: skip
    context = args.pure.prm.max_length or getattr(prm_config, "max_position_embeddings", None)
    if uses_prm and context and args.data.max_len > context:
        warnings.append(
            f"prompt + response reach --data.max_len {args.data.max_len} tokens, more than the PRM's context of "
            f"{context} (before its step markers): --pure.prm.overflow {args.pure.prm.overflow} applies"
        )
    return report, warnings
