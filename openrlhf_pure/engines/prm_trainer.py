"""PRM training: cross-entropy at every step's label token (PURE.md section 3).

Each stepwise row (prompt, steps, one bool per step) is encoded in the PRM's step format
(``models.step_formats``); the loss is the mean cross-entropy of the two label logits
(incorrect, correct) over every labelled step of the global batch, not only the last step.
PURE's recipe runs it twice: stage 1 with the backbone frozen (head only, lr 1e-4, 3
epochs), stage 2 full (lr 1e-6, 1 epoch), global batch 128, weight decay 0.1, Adam beta2
0.95 (``prm/`` holds the scripts).

A global batch of ``rows_per_step`` rows is split into micro-batches under a token budget,
packed several sequences per row by default (position ids restart per sequence, as in the
scorer), and its gradients are accumulated before one optimizer step. Held-out metrics
(step accuracy, error-detection F1), atomic checkpoints with exact resume, progress bars
and TensorBoard/wandb logging come with it.

Where the optimizer lives is a backend (``engines/prm_backends.py``): ``torch`` (one process,
CPU or one GPU) or ``deepspeed`` (multi-GPU and multi-node, ZeRO 0-3, bf16). Under every backend
each rank takes the rows ``rank::world_size`` of every global batch (the batch is a seeded
function of the step, the same on every rank), and each micro-batch's summed cross-entropy is
divided by the number of labelled steps of the whole global batch, so the gradient is the one
of the global mean loss, whatever the number of ranks and however the rows were packed.
Ranks run the same number of forward/backward passes (the maximum over ranks; the extra ones
repeat a real input at zero loss), since ZeRO-2/3 communicate in every pass.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from openrlhf_pure.core.step_classification import step_classification_metrics
from openrlhf_pure.data.stepwise import StepwiseRow
from openrlhf_pure.engines.checkpoint import latest_checkpoint
from openrlhf_pure.engines.metrics_logger import MetricsLogger
from openrlhf_pure.engines.prm_backends import TRAINING_BACKENDS
from openrlhf_pure.engines.prm_scorer import collate, plan_packed, plan_padded
from openrlhf_pure.models.prm import CONFIG_KEY, ProcessRewardModel
from openrlhf_pure.models.step_formats import PRMInput, encode_steps


@dataclass
class PRMTrainConfig:
    """Settings of :class:`PRMTrainer` (defaults: PURE's stage 2).

    Args:
        output_dir: metrics.jsonl, checkpoints/ and final/ (the trained PRM) go there.
        epochs: passes over the training rows (fractions allowed).
        max_steps: stop after this many optimizer steps (None: from ``epochs``).
        rows_per_step: the global batch, in rows (PURE: 128).
        max_tokens_per_batch: token budget of one forward pass (padding included).
        pack: pack several sequences per row.
        lr, weight_decay, adam_betas, warmup_ratio, max_grad_norm: AdamW, linear warm-up then constant.
        freeze_backbone: train the head only (PURE's stage 1).
        gradient_checkpointing: trade compute for memory (ignored with a frozen backbone, which
            stores no activations for backward anyway).
        eval_every, save_every: in optimizer steps (0: only at the end).
        threshold: scores >= threshold count as "correct" in the held-out metrics.
        seed: data order and initialisation.
        tensorboard, wandb_project: optional loggers.
        progress: show a progress bar.
        backend: "torch" (one process) or "deepspeed" (see ``engines/prm_backends.py``).
        zero_stage, bf16: DeepSpeed's ZeRO stage (0-3) and bf16 mode (deepspeed backend only).
        deepspeed_config: entries merged over the generated DeepSpeed config (e.g. offloading).

    >>> PRMTrainConfig(backend="deepspeed", zero_stage=2, bf16=True).rows_per_step
    128
    """

    output_dir: str = "runs/prm"
    epochs: float = 1.0
    max_steps: int | None = None
    rows_per_step: int = 128
    max_tokens_per_batch: int = 8192
    pack: bool = True
    lr: float = 1e-6
    weight_decay: float = 0.1
    adam_betas: tuple[float, float] = (0.9, 0.95)
    warmup_ratio: float = 0.0
    max_grad_norm: float = 1.0
    freeze_backbone: bool = False
    gradient_checkpointing: bool = False
    eval_every: int = 0
    save_every: int = 0
    threshold: float = 0.0
    seed: int = 42
    tensorboard: bool = False
    wandb_project: str | None = None
    progress: bool = True
    backend: str = "torch"
    zero_stage: int = 2
    bf16: bool = False
    deepspeed_config: dict | None = None

    def __post_init__(self):
        TRAINING_BACKENDS.get(self.backend)
        if self.bf16 and self.backend != "deepspeed":
            raise ValueError("bf16 training needs the 'deepspeed' backend (the torch backend trains in float32)")
        if self.rows_per_step < 1 or self.max_tokens_per_batch < 1:
            raise ValueError("rows_per_step and max_tokens_per_batch must be positive")


def encode_rows(prm: ProcessRewardModel, rows: list[StepwiseRow]) -> tuple[list[PRMInput], list[list[bool]]]:
    """Encode stepwise rows for the PRM: (inputs, labels), one label per label position."""
    inputs = encode_steps(prm.step_format, prm.tokenizer, [r.prompt for r in rows], [list(r.steps) for r in rows])
    kept, labels = [], []
    for row, item in zip(rows, inputs):
        if item is None:
            continue
        if len(item.label_positions) != len(row.labels):
            raise ValueError(f"row {row.id or row.prompt[:40]!r}: {len(row.labels)} labels for "
                             f"{len(item.label_positions)} encoded steps")  # fmt: skip
        kept.append(item)
        labels.append(list(row.labels))
    return kept, labels


class PRMTrainer:
    """Trains a :class:`ProcessRewardModel` on stepwise rows, in one process or data parallel.

    Args:
        prm: the PRM to train (its device is used; DeepSpeed moves it to the rank's device).
        train_rows, eval_rows: stepwise rows (``eval_rows`` may be empty); every rank passes all.
        config: the settings.
    """

    def __init__(self, prm: ProcessRewardModel, train_rows: list[StepwiseRow], eval_rows: list[StepwiseRow],
                 config: PRMTrainConfig):  # fmt: skip
        if not train_rows:
            raise ValueError("no training rows")
        self.prm, self.config = prm, config
        self.inputs, self.labels = encode_rows(prm, train_rows)
        if not self.inputs:
            raise ValueError("no training row could be encoded")
        self.eval_inputs, self.eval_labels = encode_rows(prm, eval_rows) if eval_rows else ([], [])
        self.output_dir = Path(config.output_dir)
        if prm.score_fn.width != 2:
            raise ValueError(
                f"the PRM trainer trains 2-class heads (cross-entropy); the {prm.head} head gives one value"
            )
        setattr(prm.model.config, CONFIG_KEY, prm.saved_settings())
        if config.freeze_backbone:
            prm.model.base_model.requires_grad_(False)
        if config.gradient_checkpointing and not config.freeze_backbone:  # a frozen backbone keeps no activations
            prm.model.gradient_checkpointing_enable()
        steps_per_epoch = math.ceil(len(self.inputs) / config.rows_per_step)
        self.total_steps = config.max_steps or max(1, math.ceil(config.epochs * steps_per_epoch))
        self.backend = TRAINING_BACKENDS.get(config.backend)(prm, config, self.total_steps)
        self.step = 0
        self.history: list[dict] = []
        self._orders: dict[int, list[int]] = {}

    def step_rows(self, step: int) -> list[int]:
        """Row indices of optimizer step ``step``: a seeded permutation per epoch, in order."""
        total, per_step = len(self.inputs), self.config.rows_per_step
        chosen = []
        for position in range(step * per_step, (step + 1) * per_step):
            epoch, offset = divmod(position, total)
            if epoch not in self._orders:
                generator = torch.Generator().manual_seed(self.config.seed + epoch)
                self._orders = {epoch: torch.randperm(total, generator=generator).tolist()}  # keep one epoch
            chosen.append(self._orders[epoch][offset])
        return chosen

    def plan(self, inputs: list[PRMInput]) -> list[list[list[int]]]:
        """Micro-batches (lists of rows of input indices) under the token budget."""
        lengths = [len(x) for x in inputs]
        if self.config.pack:
            return plan_packed(lengths, max(lengths), self.config.max_tokens_per_batch)
        return plan_padded(lengths, self.config.max_tokens_per_batch)

    def _passes(self, plan: list) -> int:
        """Forward passes every rank runs: the most micro-batches of any rank."""
        return int(self.backend.all_reduce([len(plan)], op="max")[0])

    def _padding_batch(self) -> dict:
        """A real one-sequence batch for a rank's padding passes (zero loss, same collectives)."""
        return collate(self.inputs, [[0]], self.backend.device)

    def train_step(self) -> dict:
        """One optimizer step over ``rows_per_step`` rows (this rank's shard of them); returns its metrics."""
        start = time.perf_counter()
        backend = self.backend
        backend.train()
        indices = self.step_rows(self.step)  # the global batch: the same on every rank
        total = sum(len(self.labels[i]) for i in indices)  # labelled steps in the global batch
        mine = indices[backend.rank :: backend.world_size]
        inputs = [self.inputs[i] for i in mine]
        labels = [self.labels[i] for i in mine]
        plan = self.plan(inputs) if inputs else []
        passes = self._passes(plan)
        loss_sum, correct = 0.0, 0
        backend.zero_grad()
        for k in range(passes):
            if k < len(plan):
                batch = collate(inputs, plan[k], backend.device)
                values = [int(v) for row in plan[k] for i in row for v in labels[i]]
            else:
                batch, values = self._padding_batch(), [int(v) for v in self.labels[0]]
            targets = torch.tensor(values, device=backend.device)
            backend.start_pass(last=k == passes - 1)
            logits = backend.label_logits(batch)  # (N, 2)
            loss = torch.nn.functional.cross_entropy(logits, targets, reduction="sum") / total  # share of the mean
            if k >= len(plan):
                loss = loss * 0.0
            backend.backward(loss)
            if k < len(plan):
                loss_sum += float(loss.detach())
                correct += int((logits.argmax(-1) == targets).sum())
        grad_norm, lr = backend.optimizer_step()
        loss_sum, correct = backend.all_reduce([loss_sum, correct])
        self.step += 1
        return {"train/loss": loss_sum, "train/step_accuracy": correct / max(total, 1),
                "train/grad_norm": grad_norm, "train/lr": lr, "time/step": time.perf_counter() - start}  # fmt: skip

    @torch.no_grad()
    def evaluate(self) -> dict:
        """Held-out step metrics (``eval/step_accuracy``, ``eval/error_f1``, ...); {} without eval rows."""
        if not self.eval_inputs:
            return {}
        backend = self.backend
        backend.train(False)
        mine = list(range(backend.rank, len(self.eval_inputs), backend.world_size))
        inputs = [self.eval_inputs[i] for i in mine]
        plan = self.plan(inputs) if inputs else []
        scores, labels = [], []
        for k in range(self._passes(plan)):
            if k >= len(plan):
                backend.label_logits(self._padding_batch())  # keeps ZeRO-3's gathers in step
                continue
            batch = collate(inputs, plan[k], backend.device)
            scores.append(self.prm.score_fn(backend.label_logits(batch)).cpu())
            labels.extend(v for row in plan[k] for i in row for v in self.eval_labels[mine[i]])
        local = (torch.cat(scores) if scores else torch.zeros(0), labels)
        gathered = backend.all_gather(local)
        all_scores = torch.cat([s for s, _ in gathered])
        all_labels = torch.tensor([v for _, lab in gathered for v in lab], dtype=torch.bool)
        metrics = step_classification_metrics(all_scores, all_labels, self.config.threshold)
        return {f"eval/{k}": v for k, v in metrics.items()}

    def save(self) -> Path:
        """An atomic checkpoint of the current step (every rank takes part)."""
        return self.backend.save_checkpoint(self.output_dir / "checkpoints", self.step, {"history": self.history})

    def train(self, resume: bool = False) -> list[dict]:
        """Train for ``total_steps`` optimizer steps; writes ``output_dir/final``; returns the history.

        Only rank 0 logs (``metrics.jsonl``, TensorBoard, wandb) and shows the progress bar.
        """
        cfg, main = self.config, self.backend.is_main
        folder = latest_checkpoint(self.output_dir / "checkpoints") if resume else None
        if folder is not None:
            self.step, extra = self.backend.load_checkpoint(folder)
            self.history = extra["history"]
        else:
            torch.manual_seed(cfg.seed)
        logger = MetricsLogger(self.output_dir, cfg.tensorboard, cfg.wandb_project, console=False) if main else None
        if logger is not None:
            logger.truncate_after(self.step)
        bar = tqdm(total=self.total_steps, initial=self.step, desc="PRM training", disable=not (cfg.progress and main))
        try:
            while self.step < self.total_steps:
                metrics = self.train_step()
                if cfg.eval_every and self.step % cfg.eval_every == 0:
                    metrics.update(self.evaluate())
                if self.step == self.total_steps and "eval/step_accuracy" not in metrics:
                    metrics.update(self.evaluate())
                self.history.append(metrics)
                if logger is not None:
                    logger.log(self.step, metrics)
                bar.update(1)
                bar.set_postfix(loss=f"{metrics['train/loss']:.3f}")
                if cfg.save_every and self.step % cfg.save_every == 0:
                    self.save()
        finally:
            bar.close()
            if logger is not None:
                logger.close()
        self.backend.save_final(self.output_dir / "final")
        return self.history
