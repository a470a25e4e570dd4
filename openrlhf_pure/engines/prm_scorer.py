"""Batch PRM scoring: many (prompt, response) pairs in, per-step scores aligned to the policy out.

Sequences are grouped into forward passes under a token budget (``max_tokens_per_batch``
counts padded tokens: rows x width). Two layouts:

- packed (default): sequences are placed into rows by best-fit decreasing (row capacity: the
  longest sequence, or ``row_tokens``); position ids restart at 0 for each sequence. Attention
  stays within each sequence one of two ways (``packed_attention``):
  "segments" (default for sdpa and eager models): causal sdpa per sequence
  (``models/packed_attention.py``), no mask built; "position_ids" (default for flash-attention
  models): no mask is passed and transformers derives the block-diagonal causal mask (dense
  for sdpa/eager) or variable-length flash-attention calls from the restarting position ids
  (flash attention only reads them in a one-row batch, so each batch is then one long row).
  Both are checked against unpacked scoring to 1e-5 (tests/prm). The position-id route needs
  ``use_cache=False``, which the model call sets: with a cache, transformers ignores packing.
- padded: sequences in arrival order, each batch right-padded to its longest; no mask is
  needed, since in a causal model real tokens never attend to the padding after them.

The PRM reads only the label tokens, so scores are gathered before the head. Everything runs
under ``torch.inference_mode()`` on the PRM's device and dtype (bf16 on GPU by default).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import torch

from openrlhf_pure.core.steps import StepLayout, split_steps, step_separator
from openrlhf_pure.models.prm import ProcessRewardModel
from openrlhf_pure.models.step_alignment import StepAligner, scatter_step_scores
from openrlhf_pure.models.step_formats import PRMInput, encode_steps

OVERFLOW_POLICIES = ("error", "truncate")


def truncate_input(seq: PRMInput, limit: int) -> tuple[PRMInput, int]:
    """Cut ``seq`` within its first ``limit`` tokens, after its last label that fits.

    Returns (the cut input, how many of its labels were kept)."""
    kept = [p for p in seq.label_positions if p < limit]
    return PRMInput(seq.input_ids[: kept[-1] + 1 if kept else limit], kept), len(kept)


def extend_scores(scores: torch.Tensor, total: int) -> torch.Tensor:
    """(k,) scores of the first k steps -> (total,): the missing steps repeat the last score (0 if k = 0)."""
    fill = scores[-1] if scores.numel() else torch.zeros((), dtype=scores.dtype)
    return torch.cat([scores, fill.expand(total - scores.numel())])


@dataclass(frozen=True)
class ScorerConfig:
    """How the scorer batches.

    Args:
        max_tokens_per_batch: most tokens (rows x width, padding included) in one forward pass;
            a longer single sequence still runs, alone.
        pack: pack several sequences per row (True) or pad one per row (False).
        row_tokens: packed row capacity; None uses the longest sequence of the call.
        max_length: the PRM's context (None: no limit); what happens to a longer input is ``overflow``.
        overflow: "error" (a ValueError naming the input and both lengths) or "truncate": the
            input is cut at ``max_length``, the steps whose label tokens fall past it get the score
            of the last step that fits (0 if none fits; for min-form credit the minimum is then
            unchanged), and :attr:`PRMScorer.truncated` counts the inputs cut.
        fast_path: build PRM inputs in token space when the PRM shares the policy's vocabulary.
        packed_attention: "auto" (flash-attention models: "position_ids", others: "segments"),
            "segments" or "position_ids"; see the module docstring.
    """

    max_tokens_per_batch: int = 16384
    pack: bool = True
    row_tokens: int | None = None
    max_length: int | None = None
    overflow: str = "error"
    fast_path: bool = True
    packed_attention: str = "auto"

    def __post_init__(self):
        if self.overflow not in OVERFLOW_POLICIES:
            raise ValueError(f"overflow must be one of {', '.join(OVERFLOW_POLICIES)}, got {self.overflow!r}")
        if self.packed_attention not in ("auto", "segments", "position_ids"):
            raise ValueError(f"packed_attention must be auto, segments or position_ids, got {self.packed_attention!r}")
        if self.max_tokens_per_batch < 1:
            raise ValueError(f"max_tokens_per_batch must be positive, got {self.max_tokens_per_batch}")
        if self.row_tokens is not None and self.row_tokens < 1:
            raise ValueError(f"row_tokens must be positive, got {self.row_tokens}")


def plan_packed(lengths: list[int], row_capacity: int, max_tokens: int) -> list[list[list[int]]]:
    """Pack sequences into rows (best-fit decreasing) and rows into batches.

    Args:
        lengths: (N,) sequence lengths, each <= ``row_capacity``.
        row_capacity: tokens per row.
        max_tokens: budget of one batch: rows x (fullest row's fill) <= max_tokens (at least one row).
    Returns:
        batches, each a list of rows, each a list of sequence indices.
    """
    too_long = [n for n in lengths if n > row_capacity]
    if too_long:
        raise ValueError(f"a sequence of {max(too_long)} tokens does not fit a packed row of {row_capacity}")
    rows: list[list[int]] = []
    fill: list[int] = []
    free: list[tuple[int, int]] = []  # (free tokens, row index), sorted
    for i in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        n = lengths[i]
        k = bisect.bisect_left(free, (n, -1))
        if k < len(free):
            room, r = free.pop(k)
            rows[r].append(i)
            fill[r] += n
            bisect.insort(free, (room - n, r))
        else:
            rows.append([i])
            fill.append(n)
            bisect.insort(free, (row_capacity - n, len(rows) - 1))
    order = sorted(range(len(rows)), key=lambda r: -fill[r])
    batches, current, width = [], [], 0
    for r in order:
        if current and (len(current) + 1) * max(width, fill[r]) > max_tokens:
            batches.append(current)
            current, width = [], 0
        current.append(rows[r])
        width = max(width, fill[r])
    if current:
        batches.append(current)
    return batches


def plan_padded(lengths: list[int], max_tokens: int) -> list[list[list[int]]]:
    """One sequence per row, in arrival order; rows x longest <= max_tokens. Same shape as :func:`plan_packed`."""
    batches, current, width = [], [], 0
    for i, n in enumerate(lengths):
        if current and (len(current) + 1) * max(width, n) > max_tokens:
            batches.append(current)
            current, width = [], 0
        current.append([i])
        width = max(width, n)
    if current:
        batches.append(current)
    return batches


def collate(inputs: list[PRMInput], rows: list[list[int]], device) -> dict[str, torch.Tensor]:
    """Lay out one batch.

    Args:
        inputs: all PRM inputs of the call.
        rows: the batch's rows, each a list of indices into ``inputs``.
    Returns:
        input_ids, position_ids: (R, W) long (right-padded with id 0);
        label_rows, label_cols: (N,) long, every label token of the batch, input by input in
        ``rows`` order;
        segments: (row, start, end) of every sequence (a list, on the CPU).
    """
    width = max(sum(len(inputs[i]) for i in row) for row in rows)
    input_ids = torch.zeros(len(rows), width, dtype=torch.long)
    position_ids = torch.zeros(len(rows), width, dtype=torch.long)
    label_rows, label_cols, segments = [], [], []
    for r, row in enumerate(rows):
        offset = 0
        for i in row:
            seq = inputs[i]
            n = len(seq)
            input_ids[r, offset : offset + n] = torch.tensor(seq.input_ids, dtype=torch.long)
            position_ids[r, offset : offset + n] = torch.arange(n)
            label_rows.extend([r] * len(seq.label_positions))
            label_cols.extend(offset + p for p in seq.label_positions)
            segments.append((r, offset, offset + n))
            offset += n
        position_ids[r, offset:] = torch.arange(width - offset)  # padding: a sequence of its own
    return {
        "input_ids": input_ids.to(device),
        "position_ids": position_ids.to(device),
        "label_rows": torch.tensor(label_rows, dtype=torch.long, device=device),
        "label_cols": torch.tensor(label_cols, dtype=torch.long, device=device),
        "segments": segments,
    }


class PRMScorer:
    """Scores the steps of many responses with a :class:`ProcessRewardModel`.

    Args:
        prm: the PRM (its device and dtype are used).
        policy_tokenizer: the policy's tokenizer; None means the PRM's own.
        config: batching options (:class:`ScorerConfig`).
    """

    def __init__(self, prm: ProcessRewardModel, policy_tokenizer=None, config: ScorerConfig | None = None):
        self.prm = prm.eval()
        self.config = config or ScorerConfig()
        self.policy_tokenizer = policy_tokenizer if policy_tokenizer is not None else prm.tokenizer
        self.aligner = StepAligner(self.policy_tokenizer, prm.tokenizer, prm.step_format, self.config.fast_path)
        self.truncated = 0  # inputs cut at max_length so far (overflow "truncate")

    @torch.inference_mode()
    def score_inputs(self, inputs: list[PRMInput | None]) -> list[torch.Tensor | None]:
        """Score encoded PRM inputs: (N,) inputs -> (N,) float32 CPU tensors of (n_i,) step scores (None stays None)."""
        present = [i for i, x in enumerate(inputs) if x is not None]
        seqs = [inputs[i] for i in present]
        limit, steps = self.config.max_length, [len(s.label_positions) for s in seqs]
        for k, (i, seq) in enumerate(zip(present, seqs)):
            if limit is None or len(seq) <= limit:
                continue
            if self.config.overflow == "error":
                raise ValueError(
                    f"PRM input {i} has {len(seq)} tokens (prompt, response and step endings), more than "
                    f"max_length={limit} (the PRM's context)"
                )
            seqs[k], _ = truncate_input(seq, limit)
            self.truncated += 1
        lengths = [len(s) for s in seqs]
        results: list[torch.Tensor | None] = [None] * len(inputs)
        if not seqs:
            return results
        budget, route = self.config.max_tokens_per_batch, self._packed_attention()
        flash = "flash" in str(self.prm.model.config._attn_implementation or "")
        if not self.config.pack:
            plan = plan_padded(lengths, budget)
        elif flash and route == "position_ids":
            # transformers reads packed position ids as flash-attention varlen bounds only in a
            # batch of one row (else it would attend across sequences): one long row per batch
            capacity = max(self.config.row_tokens or budget, max(lengths))
            plan = [[row] for batch in plan_packed(lengths, capacity, budget) for row in batch]
        else:
            plan = plan_packed(lengths, max(self.config.row_tokens or 0, max(lengths)), budget)
        device, segments = self.prm.device, self.config.pack and route == "segments"
        for rows in plan:
            batch = collate(seqs, rows, device)
            kwargs = {}  # padded rows: plain causal attention, the padding comes after every real token
            if self.config.pack:
                kwargs["position_ids"] = batch["position_ids"]
            if segments:
                kwargs["packed_segments"] = batch["segments"]
            scores = self.prm(batch["input_ids"], batch["label_rows"], batch["label_cols"], **kwargs).cpu()
            start = 0
            for row in rows:
                for k in row:
                    n = len(seqs[k].label_positions)
                    results[present[k]] = scores[start : start + n]
                    start += n
        for k, i in enumerate(present):  # steps cut off by truncation (none otherwise)
            if results[i].numel() < steps[k]:
                results[i] = extend_scores(results[i], steps[k])
        return results

    def _packed_attention(self) -> str:
        if self.config.packed_attention != "auto":
            return self.config.packed_attention
        implementation = str(self.prm.model.config._attn_implementation or "")
        return "position_ids" if "flash" in implementation else "segments"

    def score_steps(self, prompts: list[str], steps: list[list[str]]) -> list[torch.Tensor | None]:
        """Score solutions given as text steps (ProcessBench, best-of-N).

        Args:
            prompts: (B,) prompt texts.
            steps: (B,) lists of step texts.
        Returns:
            (B,) float32 tensors of shape (len(steps[b]),); None for a solution with no steps.
        """
        return self.score_inputs(encode_steps(self.prm.step_format, self.prm.tokenizer, prompts, steps))

    def score_policy_tokens(self, prompts: list[str], response_ids: torch.Tensor, layout: StepLayout) -> torch.Tensor:
        """Score the policy's responses step by step.

        Args:
            prompts: (B,) prompt texts.
            response_ids: (B, T) long, the policy's response tokens.
            layout: their :class:`StepLayout` (from ``core.steps.split_steps``).
        Returns:
            (B, S) float32 step scores aligned to ``layout.step_mask`` (0 where masked).
        """
        inputs = self.aligner.prm_inputs(prompts, response_ids, layout)
        return scatter_step_scores(self.score_inputs(inputs), layout)

    def score_responses(
        self, prompts: list[str], responses: list[str], separator: str = "\n\n"
    ) -> tuple[torch.Tensor, StepLayout]:
        """Score text responses: encode with the policy tokenizer, split on ``separator``, score.

        Returns:
            (B, S) float32 step scores and the responses' :class:`StepLayout` (over (B, T) tokens).
        """
        if len(prompts) != len(responses):
            raise ValueError(f"got {len(prompts)} prompts but {len(responses)} responses")
        tok = self.policy_tokenizer
        encoded = tok(list(responses), add_special_tokens=False)["input_ids"]
        width = max([len(e) for e in encoded] + [1])
        ids = torch.zeros(len(encoded), width, dtype=torch.long)
        mask = torch.zeros(len(encoded), width, dtype=torch.bool)
        for b, e in enumerate(encoded):
            ids[b, : len(e)] = torch.tensor(e, dtype=torch.long)
            mask[b, : len(e)] = True
        layout = split_steps(ids, mask, step_separator(tok, separator))
        return self.score_policy_tokens(prompts, ids, layout), layout


class RolloutStepScorer:
    """The single-process trainer's step scorer: (prompts, rollout, layout) -> (B, S), from a :class:`PRMScorer`.

    :meth:`run_metrics` gives the PRM's score transform, which the trainer records each step.
    """

    def __init__(self, scorer: PRMScorer):
        self.scorer = scorer

    def __call__(self, prompts: list[str], rollout, layout: StepLayout) -> torch.Tensor:
        """(B,) prompts, a rollout with (B, T) ``response_ids``, its layout -> (B, S) step scores."""
        return self.scorer.score_policy_tokens(prompts, rollout.response_ids, layout)

    def run_metrics(self) -> dict[str, float]:
        """``prm/score_transform_slope`` and ``prm/score_transform_offset`` of the PRM."""
        return self.scorer.prm.transform.metrics()
