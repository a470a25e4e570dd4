"""PURE's experience maker: OpenRLHF's ``RemoteExperienceMaker`` with process and verifiable rewards.

What changes against OpenRLHF 0.11.2 (everything else, the model dispatch included, is inherited):

- ``make_experience``: before OpenRLHF's forward passes (policy and reference log-probs), the
  whole rollout batch is sent to the PRM group (:mod:`prm_group`; PRM and PRM+VR modes) and
  submitted to the grader pool (``core.grading.pool``); both overlap the forward passes. The reward-model dispatch
  is skipped (OpenRLHF's scalar reward slot gets a placeholder). The reference log-probs, which
  OpenRLHF drops after computing its own KL, are kept for the core: they are caught where
  OpenRLHF dispatches the reference forward (its private ``_dispatch_forward``); if a future
  OpenRLHF stops going through it, the step fails with a message rather than train with a KL
  penalty of 0.
- ``compute_advantages_and_returns``: OpenRLHF's scalar reward-to-go is replaced by the core's
  :func:`~openrlhf_pure.core.advantages.compute_advantages` on the whole batch: step splitting,
  credit assignment (softmin / min / sum / future_min), process baseline, RLOO (or GRPO) on VR,
  KL reward penalty (coefficient from OpenRLHF's KL controller), reward-token masking, whitening.
  A NaN or infinite PRM score or log-prob stops the step (:func:`require_finite`) before it
  could turn every advantage, and then the policy's weights, into NaN.

Logging goes through OpenRLHF's own path: ``experience.info`` holds (B,) tensors that the
actor's ``ppo_train`` averages sample-weighted and that reach wandb/TensorBoard as
``train/<key>``. Per-response values ("reward", "return") are stored as such; batch-level
metrics (PURE.md section 8, via ``core.metrics.rollout_metrics``) and the reward-hacking flags
(``core.hacking.detect_hacking``, 1.0 when a detector fires) are stored as constant (B,) tensors
under ``pure/...``, which that sample-weighted mean returns unchanged. Warnings are also logged
as text with example responses. ``pure/prm/truncated_ratio`` is the share of PRM inputs cut at
the PRM's context (``--pure.prm.overflow truncate``).

``--pure.dump_rollouts DIR`` writes each step's batch (token ids, masks, prompts, labels, texts,
PRM scores, grades, log-probs, the KL coefficient, advantages, returns and the PRM replicas'
status) to ``DIR/rollouts_<n>.pt`` (atomic; n continues after the files already there), for
inspecting what was rewarded: ``torch.load(path)`` gives a dict.
"""

from __future__ import annotations

import logging
import math
import os
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from openrlhf.trainer.ppo_utils.experience_maker import RemoteExperienceMaker

from openrlhf_pure.core.advantages import compute_advantages
from openrlhf_pure.core.grading.pool import default_grader
from openrlhf_pure.core.hacking import detect_hacking, hack_shares
from openrlhf_pure.core.metrics import rollout_metrics
from openrlhf_pure.core.steps import split_steps, step_separator
from openrlhf_pure.engines.openrlhf.settings import PureSettings

logger = logging.getLogger(__name__)

HACKING_KINDS = ("zero_steps", "one_step", "only_thinking", "collapse", "agreement")
HISTORY = 100  # batches of metrics kept for the trend detectors


def pad_right(tensors: list[torch.Tensor], width: int, value=0) -> torch.Tensor:
    """Concatenate (b_i, w_i) tensors along rows, right-padded to ``width`` -> (sum b_i, width)."""
    return torch.cat([torch.nn.functional.pad(t, (0, width - t.shape[1]), value=value) for t in tensors])


def require_finite(action_mask: torch.Tensor, **tensors: torch.Tensor | None) -> None:
    """Raise if a (B, A) input on the action mask, or a (B, S) one anywhere, holds NaN or inf: one
    non-finite value makes every advantage of the batch NaN (whitening) and then the policy's weights."""
    for name, values in tensors.items():
        if values is None:
            continue
        bad = ~torch.isfinite(values)
        if values.shape == action_mask.shape:
            bad &= action_mask
        if bad.any():
            rows = bad.any(dim=1).nonzero().flatten().tolist()
            raise RuntimeError(f"{name} holds {int(bad.sum())} NaN or infinite values (rows {rows[:8]}): the step "
                               f"would train on NaN advantages; stopping before the update")  # fmt: skip


@dataclass
class RolloutBatch:
    """A list of OpenRLHF experiences (micro-batches) seen as one batch of B rows.

    Attributes:
        response_ids: (B, A) long, ``sequences[:, 1:]`` (the action positions), right-padded.
        action_mask:  (B, A) bool.
        sizes, widths: rows b_i and action width A_i of each micro-batch (to cut results back).
        prompts, labels: B prompt texts and OpenRLHF labels.
    """

    response_ids: torch.Tensor
    action_mask: torch.Tensor
    sizes: list[int]
    widths: list[int]
    prompts: list[str]
    labels: list

    @classmethod
    def of(cls, experiences, pad_token_id: int) -> RolloutBatch:
        widths = [e.action_mask.shape[1] for e in experiences]
        width = max(widths)
        return cls(
            response_ids=pad_right([e.sequences[:, 1:] for e in experiences], width, pad_token_id),
            action_mask=pad_right([e.action_mask.bool() for e in experiences], width, False),
            sizes=[len(e.sequences) for e in experiences],
            widths=widths,
            prompts=[p for e in experiences for p in e.prompts],
            labels=[label for e in experiences for label in e.labels],
        )

    @property
    def width(self) -> int:
        return self.action_mask.shape[1]

    def split(self, values: torch.Tensor) -> list[torch.Tensor]:
        """(B,) -> per micro-batch (b_i,); (B, A) -> per micro-batch (b_i, A_i)."""
        parts = values.split(self.sizes)
        if values.dim() == 2:
            return [part[:, :width] for part, width in zip(parts, self.widths)]
        return list(parts)


@dataclass
class PendingRewards:
    """What ``make_experience`` prepared for ``compute_advantages_and_returns``."""

    batch: RolloutBatch
    responses: list[str]
    correct: torch.Tensor  # (B,) 1 / 0 / NaN (no gold)
    has_answer: torch.Tensor  # (B,) bool
    visible: torch.Tensor  # (B,) bool, answer usable for VR
    step_scores: torch.Tensor | None  # (B, S) or None (VR only)
    ref_log_probs: list[torch.Tensor] | None  # per micro-batch (b_i, A_i), None without KL penalty
    timings: dict
    prm_truncated: int = 0  # PRM inputs cut at the PRM's context


class PureExperienceMaker(RemoteExperienceMaker):
    """OpenRLHF's experience maker with PURE's rewards and advantages (see the module docstring).

    Args (besides OpenRLHF's):
        prm_group: a :class:`~openrlhf_pure.engines.openrlhf.prm_group.PRMGroup`; None in VR mode.
        grader: an object with ``submit(responses, golds) -> Future[list of grades]`` (grades have
            ``.correct`` True / False / None and ``.extracted``); default: the project's grader pool.
        settings: PURE's settings; default: read from ``strategy.args``.
    """

    def __init__(self, actor_model_group, critic_model_group, reward_model_group, initial_model_group, kl_controller,
                 strategy, tokenizer, prm_group=None, grader=None, settings: PureSettings | None = None,
                 **kwargs):  # fmt: skip
        super().__init__(actor_model_group, critic_model_group, reward_model_group, initial_model_group,
                         kl_controller, strategy, tokenizer, **kwargs)  # fmt: skip
        self.settings = settings or PureSettings.from_args(self.args)
        if self.settings.uses_prm and prm_group is None:
            raise ValueError(f"reward mode {self.settings.reward_mode!r} needs a PRM group")
        self.prm_group = prm_group if self.settings.uses_prm else None
        self.grader = grader or default_grader()
        self.separator_ids = step_separator(tokenizer, self.settings.separator)
        self.history: list[dict] = []
        self._pending: PendingRewards | None = None
        self._reference_refs = None
        self._warned_truncation = False

    # --- make_experience: rewards in flight while OpenRLHF runs the forward passes ----------
    def _dispatch_forward(self, group, sync_condition, **kwargs):
        ref = super()._dispatch_forward(group, sync_condition, **kwargs)
        if group is self.initial_model_group:
            self._reference_refs = ref  # OpenRLHF frees the reference log-probs; the core needs them
        return ref

    def _grades(self, batch: RolloutBatch, golds, flags, grades):
        """Grades -> (correct (B,) 1/0/NaN, has_answer (B,) bool, visible (B,) bool)."""
        correct = torch.tensor([math.nan if g.correct is None else float(g.correct) for g in grades])
        has_answer = torch.tensor([g.extracted is not None for g in grades], dtype=torch.bool)
        visible = [g is not None and self.settings.answer_visible(p, f) for p, g, f in zip(batch.prompts, golds, flags)]
        return correct, has_answer, torch.tensor(visible, dtype=torch.bool)

    @torch.no_grad()
    def make_experience(self, samples_list):
        """OpenRLHF's forward passes, with PRM scoring and grading of the same batch around them."""
        batch = RolloutBatch.of(samples_list, self.tokenizer.pad_token_id)
        responses = self.tokenizer.batch_decode(
            [ids[mask].tolist() for ids, mask in zip(batch.response_ids, batch.action_mask)], skip_special_tokens=True
        )
        timings = {}
        pending_scores = None
        if self.prm_group is not None:
            pending_scores = self.prm_group.submit(batch.prompts, batch.response_ids, batch.action_mask)
        golds, flags = zip(*(self.settings.read_label(label) for label in batch.labels))
        graded = self.grader.submit(responses, list(golds))

        for samples in samples_list:  # PURE's rewards replace the scalar reward model
            if samples.rewards is None:
                samples.rewards = torch.zeros(len(samples.sequences))
        self._reference_refs = None
        experiences = super().make_experience(samples_list)

        ref_log_probs = None
        kl_reward = self.initial_model_group is not None and not self.args.algo.kl.use_loss
        if kl_reward and self._reference_refs is None:
            raise RuntimeError(
                "OpenRLHF computed the reference log-probs without calling RemoteExperienceMaker._dispatch_forward, "
                "where PURE keeps them for its KL penalty: this OpenRLHF version routes the reference forward "
                "differently (PURE supports openrlhf==0.11.2); the KL penalty would silently be 0"
            )
        if kl_reward:
            duplicate = self.args.ds.ring_attn_size * self.args.ds.tensor_parallel_size
            ref_log_probs = self._flatten_results(self._reference_refs, duplicate)
        self._reference_refs = None
        start = time.perf_counter()
        correct, has_answer, visible = self._grades(batch, golds, flags, graded.result())
        timings["grading_wait"] = time.perf_counter() - start
        step_scores = None
        if pending_scores is not None:
            start = time.perf_counter()
            step_scores = self.prm_group.collect(pending_scores)
            timings["prm_wait"] = time.perf_counter() - start
            if pending_scores.truncated and not self._warned_truncation:
                logger.warning("%d of %d PRM inputs exceed the PRM's context and were truncated (their later steps "
                               "get the last score that fits; see pure/prm/truncated_ratio)",
                               pending_scores.truncated, len(batch.prompts))  # fmt: skip
                self._warned_truncation = True
        self._pending = PendingRewards(batch, responses, correct, has_answer, visible, step_scores, ref_log_probs,
                                       timings, pending_scores.truncated if pending_scores else 0)  # fmt: skip
        return experiences

    # --- compute_advantages_and_returns: the core, on the whole batch -------------------------
    @torch.no_grad()
    def compute_advantages_and_returns(self, experiences):
        """Rewards -> returns and advantages with ``core.compute_advantages``; metrics into ``info``."""
        pending, self._pending = self._pending, None
        if pending is None or pending.batch.sizes != [len(e.sequences) for e in experiences]:
            raise RuntimeError("compute_advantages_and_returns must follow make_experience on the same experiences")
        batch, settings = pending.batch, self.settings
        layout = split_steps(batch.response_ids, batch.action_mask, self.separator_ids)
        step_rewards = None
        if pending.step_scores is not None:
            width = pending.step_scores.shape[1]
            if width > layout.num_slots:
                raise RuntimeError(f"the PRM scored {width} steps where the policy has at most {layout.num_slots}: "
                                   "PRM replicas and trainer disagree on the step separator or tokenizer")  # fmt: skip
            step_rewards = torch.zeros(layout.step_mask.shape)
            step_rewards[:, :width] = pending.step_scores
        vr = None
        if settings.uses_vr:
            vr = torch.where(pending.visible, pending.correct, torch.full_like(pending.correct, math.nan))
        log_probs = ref_log_probs = None
        if pending.ref_log_probs is not None:
            log_probs = pad_right([e.action_log_probs.float() for e in experiences], batch.width)
            ref_log_probs = pad_right([r.float() for r in pending.ref_log_probs], batch.width)
        require_finite(batch.action_mask, step_rewards=step_rewards, log_probs=log_probs, ref_log_probs=ref_log_probs)
        kl_coef = self.kl_ctl.value if log_probs is not None else 0.0
        config = replace(settings.advantage, kl_coef=float(kl_coef))
        index = torch.tensor([i for e in experiences for i in e.index])
        groups = index // self.args.rollout.n_samples_per_prompt  # OpenRLHF orders rollouts prompt by prompt

        result = compute_advantages(batch.action_mask, config, layout=layout, step_rewards=step_rewards,
                                    verifiable_rewards=vr, groups=groups, log_probs=log_probs,
                                    ref_log_probs=ref_log_probs)  # fmt: skip
        reward = torch.zeros(len(index))
        if result.process_reward is not None:
            reward += result.process_reward
        if vr is not None:
            reward += config.vr_coef * torch.nan_to_num(vr, nan=0.0)

        metrics = rollout_metrics(
            pending.responses,
            lengths=torch.cat([e.response_length for e in experiences]).float(),
            truncated=torch.cat([e.truncated for e in experiences]).bool(),
            num_steps=layout.num_steps,
            group=groups,
            correct=pending.correct,
            process_reward=result.process_reward,
            returns=result.returns,
            advantages=result.advantages,
            token_mask=result.advantage_mask,
        )
        metrics.update({f"timing/{k}": v for k, v in pending.timings.items()})
        if settings.uses_prm:
            metrics["prm/truncated_ratio"] = pending.prm_truncated / len(index)
        if self.prm_group is not None and hasattr(self.prm_group, "run_metrics"):  # the PRM's score transform
            metrics.update(self.prm_group.run_metrics())
        metrics.update(hack_shares(pending.responses, layout.num_steps, pending.has_answer))
        warnings = detect_hacking(metrics, self.history, pending.responses, layout.num_steps, pending.has_answer,
                                  result.process_reward)  # fmt: skip
        self.history = (self.history + [metrics])[-HISTORY:]
        for warning in warnings:
            logger.warning("PURE reward-hacking detector: %s", warning)
        fired = {w.kind for w in warnings}
        metrics.update({f"hacking/{kind}": float(kind in fired) for kind in HACKING_KINDS})

        if getattr(self.args.pure, "dump_rollouts", None):
            self._dump(pending, groups, vr, log_probs, ref_log_probs, config.kl_coef, step_rewards, result)
        parts = zip(experiences, batch.split(result.advantages), batch.split(result.returns),
                    batch.split(result.token_rewards.sum(dim=1)), batch.split(reward))  # fmt: skip
        for experience, advantages, returns, total, rewards in parts:
            experience.advantages, experience.returns = advantages, returns
            experience.rewards, experience.kl = rewards, None
            experience.info["reward"], experience.info["return"] = rewards, total
            size = len(rewards)
            for key, value in metrics.items():
                experience.info[f"pure/{key}"] = torch.full((size,), float(value))
        return experiences

    def _dump(self, pending: PendingRewards, groups, vr, log_probs, ref_log_probs, kl_coef, step_rewards, result):
        """Write this step's batch to ``--pure.dump_rollouts`` (see the module docstring)."""
        folder = Path(self.args.pure.dump_rollouts)
        folder.mkdir(parents=True, exist_ok=True)
        taken = [int(m.group(1)) for f in folder.iterdir() if (m := re.fullmatch(r"rollouts_(\d+)\.pt", f.name))]
        batch = pending.batch
        record = {
            "response_ids": batch.response_ids, "action_mask": batch.action_mask, "prompts": batch.prompts,
            "labels": batch.labels, "responses": pending.responses, "groups": groups, "correct": pending.correct,
            "visible": pending.visible, "verifiable_rewards": vr, "step_scores": step_rewards,
            "log_probs": log_probs, "ref_log_probs": ref_log_probs, "kl_coef": kl_coef,
            "advantages": result.advantages, "returns": result.returns,
            "prm_status": self.prm_group.status() if self.prm_group is not None else None,
        }  # fmt: skip
        path = folder / f"rollouts_{max(taken, default=-1) + 1:05d}.pt"
        torch.save(record, f"{path}.tmp")
        os.replace(f"{path}.tmp", path)
