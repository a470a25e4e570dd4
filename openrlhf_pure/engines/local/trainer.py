"""The single-process PURE trainer (CPU or one GPU).

One training step, top to bottom:

1. rollouts: ``prompts_per_step`` problems, ``samples_per_prompt`` responses each (transformers
   ``generate``);
2. steps: the responses split on the separator tokens (``core.steps``);
3. rewards: PRM step scores (modes ``prm`` and ``prm_vr``) and verifiable rewards (``vr`` on
   every problem; ``prm_vr`` only where the answer is visible);
4. log-probs of the sampled tokens under the policy (old) and the frozen reference;
5. advantages: ``core.advantages.compute_advantages`` (credit mode, baselines, RLOO, KL
   penalty, masking, whitening: every option of the core);
6. ``updates_per_batch`` passes of PPO's clipped loss (token mean over the batch, AdamW,
   gradient clipping), micro-batched;
7. metrics (PURE.md section 8), hacking detectors, logging, an atomic checkpoint every k steps.

The same core runs inside the Ray engine; only rollouts and model placement differ.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from openrlhf_pure.atomic import write_text_atomic
from openrlhf_pure.core.advantages import AdvantageConfig, compute_advantages
from openrlhf_pure.core.hacking import DetectorConfig, HackingWarning, detect_hacking, hack_shares
from openrlhf_pure.core.metrics import rollout_metrics
from openrlhf_pure.core.policy_loss import ppo_policy_loss
from openrlhf_pure.core.steps import StepLayout, split_steps, step_separator
from openrlhf_pure.data.problems import Problem
from openrlhf_pure.engines.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from openrlhf_pure.engines.local.log_probs import response_log_probs
from openrlhf_pure.engines.local.rollout import Rollout, generate_rollouts
from openrlhf_pure.engines.metrics_logger import MetricsLogger

StepScorer = Callable[[list[str], Rollout, StepLayout], torch.Tensor]  # prompts (B), rollout, layout -> (B, S)
Verifier = Callable[[list[str], list], list]  # responses, golds (str or None) -> 1.0 / 0.0 / None each
AnswerExtractor = Callable[[str], "str | None"]
MODES = ("prm", "vr", "prm_vr")


@dataclass
class LocalTrainConfig:
    """Settings of :class:`LocalTrainer` (defaults are small, for CPU runs).

    Args:
        mode: "prm", "vr" or "prm_vr" (PURE-PRM, PURE-VR, PURE-PRM+VR).
        steps: training steps (rollout batches).
        prompts_per_step, samples_per_prompt: the rollout batch (paper: 64 x 8).
        max_new_tokens, temperature, top_p: sampling.
        lr, weight_decay, warmup_steps, max_grad_norm: AdamW with linear warm-up, then constant.
        updates_per_batch: PPO passes over each rollout batch (paper: 1).
        micro_batch_size: responses per forward/backward pass.
        clip_eps: PPO clip.
        advantage: the core's rewards-to-advantages options.
        separator: the step separator string.
        seed: seeds every generator; with the same seed a CPU run is reproducible.
        output_dir: metrics.jsonl, tensorboard/, checkpoints/ go there.
        save_every: checkpoint every k steps; the last step is always saved.
        tensorboard, wandb_project: optional loggers.
        stop_on_hacking: stop the run when a detector fires.
        detector: the detectors' thresholds.
    """

    mode: str = "prm_vr"
    steps: int = 20
    prompts_per_step: int = 8
    samples_per_prompt: int = 4
    max_new_tokens: int = 64
    temperature: float = 1.0
    top_p: float = 1.0
    lr: float = 1e-5
    weight_decay: float = 0.0
    warmup_steps: int = 0
    max_grad_norm: float = 1.0
    updates_per_batch: int = 1
    micro_batch_size: int = 32
    clip_eps: float = 0.2
    advantage: AdvantageConfig = field(default_factory=AdvantageConfig)
    separator: str = "\n\n"
    seed: int = 42
    output_dir: str = "runs/local"
    save_every: int = 0
    tensorboard: bool = False
    wandb_project: str | None = None
    stop_on_hacking: bool = False
    detector: DetectorConfig = field(default_factory=DetectorConfig)

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r}; known: {', '.join(MODES)}")
        for name in ("steps", "prompts_per_step", "samples_per_prompt", "max_new_tokens", "micro_batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")


class LocalTrainer:
    """PURE with one policy, one frozen reference, a step scorer and a verifier in one process.

    Args:
        policy: the causal LM to train (its device is used throughout).
        reference: a frozen copy of the initial policy (for the KL penalty); None disables KL.
        tokenizer: the policy's tokenizer (with a pad token).
        problems: the training problems.
        config: the settings.
        step_scorer: PRM step scores, needed by modes "prm" and "prm_vr".
        verifier: verifiable rewards, needed by modes "vr" and "prm_vr" (also used for accuracy metrics).
        extract_answer: a response's final answer or None (for the detectors); default: has "\\boxed".
    """

    def __init__(self, policy, reference, tokenizer, problems: list[Problem], config: LocalTrainConfig,
                 step_scorer: StepScorer | None = None, verifier: Verifier | None = None,
                 extract_answer: AnswerExtractor | None = None):  # fmt: skip
        if config.mode in ("prm", "prm_vr") and step_scorer is None:
            raise ValueError(f"mode {config.mode!r} needs a step scorer (a PRM)")
        if config.mode in ("vr", "prm_vr") and verifier is None:
            raise ValueError(f"mode {config.mode!r} needs a verifier")
        if not problems:
            raise ValueError("no training problems")
        self.policy, self.reference, self.tokenizer = policy, reference, tokenizer
        self.problems, self.config = problems, config
        self.step_scorer, self.verifier = step_scorer, verifier
        self.extract_answer = extract_answer or (lambda text: "boxed" if "\\boxed" in text else None)
        self.separator_ids = step_separator(tokenizer, config.separator)
        self.output_dir = Path(config.output_dir)
        self.optimizer = torch.optim.AdamW(policy.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        warmup = max(config.warmup_steps, 0)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda step: min(1.0, (step + 1) / warmup) if warmup else 1.0
        )
        self.step = 0
        self.history: list[dict] = []
        self.warnings: list[HackingWarning] = []
        self.last_responses: list[str] = []
        if reference is not None:
            reference.eval().requires_grad_(False)

    # --- data ---------------------------------------------------------------------------
    def batch_problems(self, step: int) -> list[Problem]:
        """The problems of training step ``step``: a seeded permutation per epoch, in order."""
        per_step, total = self.config.prompts_per_step, len(self.problems)
        chosen = []
        for position in range(step * per_step, (step + 1) * per_step):
            epoch, offset = divmod(position, total)
            order = torch.randperm(total, generator=torch.Generator().manual_seed(self.config.seed + epoch))
            chosen.append(self.problems[int(order[offset])])
        return chosen

    # --- one step -----------------------------------------------------------------------
    def rewards(self, problems: list[Problem], rollout: Rollout, layout: StepLayout):
        """(step scores (B, S) or None, VR (B,) with NaN where hidden or None, correctness (B,) for metrics)."""
        n = self.config.samples_per_prompt
        prompts = [p.prompt for p in problems for _ in range(n)]
        golds = [p.answer for p in problems for _ in range(n)]
        scores = self.step_scorer(prompts, rollout, layout) if self.config.mode != "vr" else None
        correct = torch.full((len(golds),), math.nan)
        if self.verifier is not None:
            verdicts = self.verifier(rollout.responses, golds)
            correct = torch.tensor([math.nan if v is None else float(v) for v in verdicts])
        vr = None
        if self.config.mode != "prm":
            visible = torch.tensor([p.visible or self.config.mode == "vr" for p in problems]).repeat_interleave(n)
            vr = torch.where(visible, correct, torch.full_like(correct, math.nan))
        return scores, vr, correct

    def micro_batches(self, size: int):
        """Row slices of at most ``micro_batch_size`` rows covering ``size`` rows."""
        step = self.config.micro_batch_size
        return [slice(i, min(i + step, size)) for i in range(0, size, step)]

    @torch.no_grad()
    def log_probs(self, model, rollout: Rollout) -> torch.Tensor:
        """(B, T) sampled-token log-probs under ``model``, micro-batched."""
        model.eval()
        parts = [
            response_log_probs(
                model, rollout.sequences[s], rollout.attention_mask[s], rollout.response_width, self.config.temperature
            )  # fmt: skip
            for s in self.micro_batches(rollout.sequences.shape[0])
        ]
        return torch.cat(parts)

    def update(self, rollout: Rollout, old_log_probs: torch.Tensor, advantages: torch.Tensor) -> dict:
        """PPO passes over the batch; returns the mean loss diagnostics and the last grad norm."""
        self.policy.train()
        mask = rollout.action_mask
        total = mask.sum().clamp(min=1)
        sums = {"policy/loss": 0.0, "policy/clip_fraction": 0.0, "policy/approx_kl": 0.0}
        grad_norm = torch.tensor(0.0)
        for _ in range(self.config.updates_per_batch):
            self.optimizer.zero_grad(set_to_none=True)
            for rows in self.micro_batches(mask.shape[0]):
                log_probs = response_log_probs(
                    self.policy, rollout.sequences[rows], rollout.attention_mask[rows], rollout.response_width,
                    self.config.temperature,
                )  # fmt: skip
                out = ppo_policy_loss(
                    log_probs, old_log_probs[rows], advantages[rows], mask[rows], self.config.clip_eps
                )
                weight = mask[rows].sum() / total  # token mean over the whole batch
                (out.loss * weight).backward()
                for key, value in (
                    ("loss", out.loss),
                    ("clip_fraction", out.clip_fraction),
                    ("approx_kl", out.approx_kl),
                ):
                    sums[f"policy/{key}"] += float(value.detach() * weight) / self.config.updates_per_batch
            grad_norm = torch.nn.utils.clip_grad_norm_(self.policy.parameters(), self.config.max_grad_norm)
            self.optimizer.step()
        self.scheduler.step()
        return {**sums, "policy/grad_norm": float(grad_norm), "policy/lr": self.scheduler.get_last_lr()[0]}

    def train_step(self) -> dict:
        """Run training step ``self.step`` and return its metrics."""
        cfg, timings = self.config, {}
        start = time.perf_counter()
        problems = self.batch_problems(self.step)
        rollout = generate_rollouts(
            self.policy.eval(), self.tokenizer, [p.prompt for p in problems], cfg.samples_per_prompt,
            cfg.max_new_tokens, cfg.temperature, cfg.top_p,
        )  # fmt: skip
        timings["time/rollout"] = time.perf_counter() - start
        layout = split_steps(rollout.response_ids, rollout.action_mask, self.separator_ids)

        tick = time.perf_counter()
        scores, vr, correct = self.rewards(problems, rollout, layout)
        timings["time/reward"] = time.perf_counter() - tick

        tick = time.perf_counter()
        old_log_probs = self.log_probs(self.policy, rollout)
        ref_log_probs = self.log_probs(self.reference, rollout) if self.reference is not None else None
        timings["time/log_probs"] = time.perf_counter() - tick
        result = compute_advantages(
            rollout.action_mask, cfg.advantage, layout=layout,
            step_rewards=scores, verifiable_rewards=vr, groups=cfg.samples_per_prompt,
            log_probs=old_log_probs if ref_log_probs is not None else None, ref_log_probs=ref_log_probs,
        )  # fmt: skip

        tick = time.perf_counter()
        metrics = self.update(rollout, old_log_probs, result.advantages)
        timings["time/update"] = time.perf_counter() - tick

        metrics.update(
            rollout_metrics(
                rollout.responses,
                rollout.action_mask.sum(1),
                rollout.truncated,
                layout.num_steps,
                rollout.group.cpu(),
                correct=correct,
                process_reward=result.process_reward,
                returns=result.returns,
                advantages=result.advantages,
                token_mask=result.advantage_mask,
            )  # fmt: skip
        )
        if result.kl is not None:
            metrics["policy/kl"] = float(result.kl.sum() / rollout.action_mask.sum().clamp(min=1))
        if vr is not None and bool((~torch.isnan(vr)).any()):
            metrics["reward/vr_visible"] = float(vr[~torch.isnan(vr)].mean())
        has_answer = torch.tensor([self.extract_answer(r) is not None for r in rollout.responses])
        metrics.update(hack_shares(rollout.responses, layout.num_steps, has_answer, cfg.separator))
        warnings = detect_hacking(
            metrics, self.history, rollout.responses, layout.num_steps, has_answer, result.process_reward, cfg.detector
        )
        metrics["hacking/warnings"] = float(len(warnings))
        if cfg.mode != "vr" and hasattr(self.step_scorer, "run_metrics"):  # the PRM's score transform
            metrics.update(self.step_scorer.run_metrics())
        metrics.update(timings)
        metrics["time/step"] = time.perf_counter() - start
        self.warnings, self.last_responses = warnings, rollout.responses
        self.step += 1
        metrics["step"] = self.step
        self.history.append(metrics)
        return metrics

    # --- the loop -----------------------------------------------------------------------
    def resume(self) -> bool:
        """Continue from the latest checkpoint under ``output_dir/checkpoints``; False if none."""
        folder = latest_checkpoint(self.output_dir / "checkpoints")
        if folder is None:
            return False
        self.step, extra = load_checkpoint(folder, self.policy, self.optimizer, self.scheduler)
        self.history = extra["history"]
        return True

    def save(self) -> Path:
        """Write an atomic checkpoint of the current step."""
        extra = {"history": self.history, "config": repr(self.config)}
        return save_checkpoint(self.output_dir / "checkpoints", self.step, self.policy, self.optimizer,
                               self.scheduler, extra, tokenizer=self.tokenizer)  # fmt: skip

    def train(self, resume: bool = False, on_step: Callable[[int, dict], None] | None = None) -> list[dict]:
        """Train until ``config.steps`` steps are done; returns the metric history.

        Args:
            resume: continue from the latest checkpoint (a fresh start if there is none).
            on_step: called after each step with (step, metrics), e.g. to print samples.
        """
        if not resume or not self.resume():
            torch.manual_seed(self.config.seed)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        resolved = json.dumps(asdict(self.config), indent=2, default=str) + "\n"
        write_text_atomic(self.output_dir / "config.json", resolved)  # the run's resolved configuration
        print(f"advantage configuration: {json.dumps(self.config.advantage.to_dict())}", flush=True)
        logger = MetricsLogger(self.output_dir, self.config.tensorboard, self.config.wandb_project,
                               config=asdict(self.config))  # fmt: skip
        logger.truncate_after(self.step)
        warned: dict[str, int] = {}
        try:
            while self.step < self.config.steps:
                metrics = self.train_step()
                logger.log(self.step, {k: v for k, v in metrics.items() if k != "step"})
                for warning in self.warnings:  # each kind at most once per 10 steps on the console
                    if self.step - warned.get(warning.kind, -10) >= 10:
                        print(f"warning at step {self.step}: {warning}", flush=True)
                        warned[warning.kind] = self.step
                if on_step is not None:
                    on_step(self.step, metrics)
                if self.config.save_every and self.step % self.config.save_every == 0:
                    self.save()
                if self.warnings and self.config.stop_on_hacking:
                    print(f"stopping at step {self.step}: reward hacking detected", flush=True)
                    break
            if self.history and not (self.config.save_every and self.step % self.config.save_every == 0):
                self.save()  # the last step, so that a resumed run can continue with more steps
        finally:
            logger.close()
        return self.history
