"""The Ray PRM actor group as a step scorer of the single-process trainer.

:class:`RayPRMStepScorer` starts a local Ray (``num_cpus`` CPUs) unless one is running, builds
the Ray engine's :class:`~openrlhf_pure.engines.openrlhf.prm_group.PRMGroup` of
:class:`~openrlhf_pure.engines.openrlhf.prm_group.PolicyStepScorer` replicas (the project's
``PRMScorer`` inside each actor, data parallel, load balanced, restarted on failure) and scores
(prompts, rollout, layout) batches through the group's public ``score``. Each replica splits
the responses into steps itself with the same separator, so its scores line up with the
trainer's layout; they are fitted to the layout's width and masked to its real steps.

The group imports Ray but nothing of OpenRLHF, so this runs on an install without vLLM.
"""

from __future__ import annotations

import functools

import torch

from openrlhf_pure.core.steps import StepLayout


class RayPRMStepScorer:
    """A ``StepScorer`` for :class:`~openrlhf_pure.engines.local.trainer.LocalTrainer` backed by Ray PRM replicas.

    Args:
        prm_path: the PRM checkpoint.
        policy_tokenizer: the policy's tokenizer path (steps are the policy's).
        num_replicas: PRM replicas.
        num_gpus_per_replica: GPUs per replica (0 on CPU; a fraction shares a GPU).
        num_cpus: CPUs of the local Ray started here (None: Ray's default); ignored if Ray is running.
        step_format: the PRM's step format (None: its family's).
        separator: the policy's step separator (the trainer's).
        max_tokens_per_batch: token budget of one PRM forward pass.
        dtype: PRM dtype name; None for bf16 on GPU, float32 on CPU.
        family: the PRM family (None: detected); score_transform: see ``models.prm_scores``.
    """

    def __init__(self, prm_path: str, policy_tokenizer: str, num_replicas: int = 1, num_gpus_per_replica: float = 0.0,
                 num_cpus: int | None = None, step_format: str | None = None, separator: str = "\n\n",
                 max_tokens_per_batch: int = 32768, dtype: str | None = None, family: str | None = None,
                 score_transform: str = "auto"):  # fmt: skip
        import ray

        from openrlhf_pure.engines.openrlhf.prm_group import PRMGroup, PRMSpec, build_policy_step_scorer

        self._owns_ray = not ray.is_initialized()
        if self._owns_ray:
            ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
        spec = PRMSpec(str(prm_path), str(policy_tokenizer), step_format, separator, max_tokens_per_batch, dtype,
                       family, score_transform)  # fmt: skip
        self.group = PRMGroup(functools.partial(build_policy_step_scorer, spec), num_replicas=num_replicas,
                              num_gpus_per_replica=num_gpus_per_replica)  # fmt: skip
        self.status = self.group.ready()
        self.description = self.group.description

    def run_metrics(self) -> dict[str, float]:
        """The PRM's score transform as run metrics (``prm/score_transform_slope`` and ``_offset``)."""
        return self.group.run_metrics()

    def score(self, prompts: list[str], response_ids: torch.Tensor, action_mask: torch.Tensor,
              layout: StepLayout) -> torch.Tensor:  # fmt: skip
        """(B,) prompts, (B, T) ids and mask, their layout -> (B, S) float32 scores, 0 off ``layout.step_mask``."""
        scores = self.group.score(prompts, response_ids, action_mask)
        width = layout.num_slots
        fitted = torch.zeros(scores.shape[0], width, dtype=torch.float32)
        keep = min(width, scores.shape[1])
        fitted[:, :keep] = scores[:, :keep]
        return torch.where(layout.step_mask.cpu(), fitted, torch.zeros(()))

    def __call__(self, prompts: list[str], rollout, layout: StepLayout) -> torch.Tensor:
        """The trainer's step-scorer interface: (B,) prompts, a rollout, its layout -> (B, S) on its device."""
        scores = self.score(prompts, rollout.response_ids.cpu(), rollout.action_mask.cpu(), layout)
        return scores.to(rollout.response_ids.device)

    def close(self) -> None:
        """Stop the replicas, and Ray if this scorer started it."""
        import ray

        for replica in self.group.replicas:
            ray.kill(replica)
        if self._owns_ray:
            ray.shutdown()
