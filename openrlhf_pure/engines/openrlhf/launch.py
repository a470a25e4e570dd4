"""Start a PURE run on Ray: models placed with OpenRLHF's building blocks, PURE's trainer in charge.

OpenRLHF's ``train(args)`` cannot be reused as is: it always creates a scalar reward-model
group (idle GPU actors for PURE) and imports its own trainer inside the function. This module
composes the same public pieces instead: ``get_strategy``, ``create_vllm_engines``,
``RayActorGroup`` with ``PolicyModelActor`` and ``ReferenceModelActor``, placement groups of
one ``{"GPU": 1, "CPU": 1}`` bundle per actor GPU when models are colocated; then it adds the
PRM group (:mod:`prm_group`) and starts :class:`~openrlhf_pure.engines.openrlhf.trainer.PurePPOTrainer`.

Placement (``N`` = actor nodes x GPUs per node):

| flags | actor, reference | vLLM | PRM |
|---|---|---|---|
| none | own GPUs each | own GPUs | own GPUs |
| ``--train.colocate_actor_ref`` | N shared bundles | own GPUs | own, or the bundles (``--pure.prm.colocate``) |
| ``--train.colocate_all`` | N shared bundles | the bundles | own, or the bundles (``--pure.prm.colocate``) |

On a shared bundle each model asks Ray for 0.2 GPU (OpenRLHF's choice); the PRM asks for
``--pure.prm.num_gpus_per_replica``.
"""

from __future__ import annotations

import json
import os

COLOCATED_SHARE = 0.2  # GPU share OpenRLHF gives each model that sits on a shared bundle


def worker_env() -> dict[str, str]:
    """Environment for Ray workers: the user's settings win over OpenRLHF's usual defaults."""
    defaults = {"TOKENIZERS_PARALLELISM": "true", "NCCL_DEBUG": "WARN", "RAY_ENABLE_ZERO_COPY_TORCH_TENSORS": "1"}
    return {key: os.environ.get(key, value) for key, value in defaults.items()}


def shared_placement_group(args):
    """One bundle per actor GPU when the actor shares its GPUs (with the reference, vLLM or the PRM)."""
    import ray
    from ray.util.placement_group import placement_group

    if not (args.train.colocate_actor_ref or args.train.colocate_all):
        return None
    bundles = [{"GPU": 1, "CPU": 1} for _ in range(args.actor.num_nodes * args.actor.num_gpus_per_node)]
    pg = placement_group(bundles, strategy="PACK")
    ray.get(pg.ready())
    return pg


def start_vllm_engines(args, pg):
    """OpenRLHF's vLLM engines (on the shared bundles with ``--train.colocate_all``).

    A ``--reward.remote_url`` reward-function file runs inside them: its rewards reach OpenRLHF's
    evaluation (``--eval.dataset``); for training, PURE's experience maker replaces them."""
    from openrlhf.trainer.ray import create_vllm_engines

    return create_vllm_engines(
        args.vllm.num_engines,
        args.vllm.tensor_parallel_size,
        args.actor.model_name_or_path,
        args.train.seed,
        args.train.full_determinism_enable,
        args.vllm.enable_prefix_caching,
        args.vllm.enforce_eager,
        args.data.max_len,
        shared_pg=pg if args.train.colocate_all else None,
        gpu_memory_utilization=args.vllm.gpu_memory_utilization,
        vllm_enable_sleep=args.vllm.enable_sleep,
        logprobs_mode="processed_logprobs" if args.algo.advantage.is_correction_level != "off" else None,
        remote_rm_url=args.reward.remote_url,  # a reward-function file, for evaluation only (see validate)
        max_images_per_prompt=getattr(args.data, "max_images_per_prompt", 0),
    )


def train_pure(args) -> None:
    """Run PURE with OpenRLHF's Ray PPO (normalised, validated ``args``; see ``cli.train_pure_ray``)."""
    import ray
    from openrlhf.utils import get_strategy

    from openrlhf_pure.engines.openrlhf.settings import PureSettings

    if not ray.is_initialized():
        ray.init(runtime_env={"env_vars": worker_env()})
    strategy = get_strategy(args)
    strategy.print(args)
    strategy.print(f"PURE advantage configuration (preset {args.pure.preset or 'none'}): "
                   + json.dumps(PureSettings.from_args(args).advantage.to_dict()))  # fmt: skip

    pg = shared_placement_group(args)
    try:
        train_placed(args, strategy, pg)
    finally:  # the actors end with their handles when this returns; a placement group must be removed
        if pg is not None:
            ray.util.remove_placement_group(pg)


def train_placed(args, strategy, pg) -> None:
    """Start the engines, models, PRM group and trainer (on ``pg`` when colocated), fit, save the model."""
    import ray
    from openrlhf.trainer.ray.launcher import RayActorGroup, ReferenceModelActor
    from openrlhf.trainer.ray.ppo_actor import PolicyModelActor

    from openrlhf_pure.engines.openrlhf.prm_group import prm_group_from_args
    from openrlhf_pure.engines.openrlhf.trainer import PurePPOTrainer

    vllm_engines = start_vllm_engines(args, pg)
    shards = args.ds.ring_attn_size * args.ds.tensor_parallel_size
    share = COLOCATED_SHARE if pg else 1
    actor = RayActorGroup(args.actor.num_nodes, args.actor.num_gpus_per_node, PolicyModelActor, pg=pg,
                          num_gpus_per_actor=share, duplicate_actors=shards)  # fmt: skip
    reference = None
    if args.algo.kl.init_coef > 0:
        reference = RayActorGroup(args.ref.num_nodes, args.ref.num_gpus_per_node, ReferenceModelActor, pg=pg,
                                  num_gpus_per_actor=share, duplicate_actors=shards)  # fmt: skip
    prm = prm_group_from_args(args, pg) if args.pure.reward_mode != "vr" else None

    trainer = PurePPOTrainer.remote(
        args.actor.model_name_or_path,
        strategy,
        actor,
        None,  # no critic
        None,  # no scalar reward model
        reference,
        vllm_engines,
        prm_group=prm,
        do_sample=True,
        max_len=args.data.max_len,
        max_new_tokens=args.rollout.max_new_tokens,
        temperature=args.rollout.temperature,
        top_p=args.rollout.top_p,
    )
    max_steps = ray.get(trainer.get_max_steps.remote())
    refs = actor.async_init_model_from_pretrained(strategy, args.actor.model_name_or_path, max_steps, vllm_engines)
    if reference is not None:
        refs += reference.async_init_model_from_pretrained(strategy, args.actor.model_name_or_path)
    ray.get(refs)
    ray.get(trainer.fit.remote())
    ray.get(actor.async_save_model())
