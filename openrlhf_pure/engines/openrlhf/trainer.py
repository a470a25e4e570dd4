"""PURE's PPO trainer: OpenRLHF's ``PPOTrainer`` with :class:`PureExperienceMaker` installed.

OpenRLHF declares ``@ray.remote class PPOTrainer(BasePPOTrainer)``, and Ray refuses subclasses
of actor classes (``ActorClassInheritanceException``). Ray keeps the class it decorated on the
actor class as ``__ray_actor_class__`` (checked with Ray 2.55; the same class is the base of
``__ray_metadata__.modified_class``), so :func:`undecorated` returns it, we subclass it in plain
Python and decorate our subclass with ``ray.remote``. Nothing in OpenRLHF is modified.

The subclass runs OpenRLHF's ``__init__`` (tokenizer, datasets, samples generator, KL
controller, loggers), then replaces the experience maker that ``BasePPOTrainer`` created with
PURE's, built from the same arguments plus the PRM group. ``fit``, ``train_step``, evaluation,
checkpointing and logging are OpenRLHF's.
"""

from __future__ import annotations

import ray
from openrlhf.trainer.ppo_trainer import PPOTrainer

from openrlhf_pure.engines.openrlhf.experience_maker import PureExperienceMaker


def undecorated(actor_class) -> type:
    """The plain class behind a ``@ray.remote`` actor class.

    Raises:
        TypeError if ``actor_class`` is not a Ray actor class (or Ray no longer exposes it).
    """
    original = getattr(actor_class, "__ray_actor_class__", None)
    if not isinstance(original, type):
        raise TypeError(f"{actor_class!r} is not a Ray actor class with __ray_actor_class__ (Ray changed?)")
    return original


class PurePPOTrainerBase(undecorated(PPOTrainer)):
    """OpenRLHF's PPO trainer with PURE's experience maker.

    Args: those of OpenRLHF's ``PPOTrainer`` (pretrain, strategy, actor, critic, reward and
    reference groups, vLLM engines, generation kwargs), plus ``prm_group`` (None in VR mode)
    and ``grader`` (None: the project's grader pool, started inside this actor).
    """

    def __init__(self, pretrain, strategy, actor_model_group, critic_model_group, reward_model_group,
                 reference_model_group, vllm_engines, prm_group=None, grader=None, **generate_kwargs):  # fmt: skip
        super().__init__(pretrain, strategy, actor_model_group, critic_model_group, reward_model_group,
                         reference_model_group, vllm_engines, **generate_kwargs)  # fmt: skip
        self.experience_maker = PureExperienceMaker(
            self.actor_model_group,
            self.critic_model_group,
            self.reward_model_group,
            self.reference_model_group,
            self.kl_ctl,
            self.strategy,
            self.tokenizer,
            prm_group=prm_group,
            grader=grader,
        )


PurePPOTrainer = ray.remote(PurePPOTrainerBase)
