"""A group of PRM replicas on Ray, placed as OpenRLHF places its model actors.

Each replica (:class:`PRMActor`) holds a step scorer: a callable
``(prompts: list[str], response_ids: (B, T) long, action_mask: (B, T) bool) -> (B, S) float``
that returns one score per step of the policy's responses, S = ``split_steps(...).num_slots``
with the policy's separator (the default is :class:`PolicyStepScorer` around the project's
``PRMScorer``; tests plug in their own). Replicas are data parallel: no process group joins them.

Placement follows OpenRLHF's ``RayActorGroup`` (num_cpus = num_gpus = the replica's GPU share;
given the placement group that ``train_pure_ray`` builds for the actor and reference models,
replica i sits on bundle i, beside them: colocation; without one Ray places replicas freely),
written here so that this module imports nothing of OpenRLHF: the single-process trainer's Ray
PRM (``pure-train --pure.prm.engine ray``) runs on an install without vLLM.

Device: a replica computes on the GPU Ray granted it, found as OpenRLHF's own actors find theirs
(:func:`replica_device`): with no GPU granted it runs on the CPU and never touches CUDA; with
``RAY_EXPERIMENTAL_NOSET_CUDA_VISIBLE_DEVICES`` (every GPU visible to every actor) it takes
``cuda:<granted id>``, not ``cuda:0``. Memory: after each scoring the replica empties the CUDA
cache, and with ``offload`` (colocated replicas) it moves the PRM to the CPU between scorings,
so vLLM's wake-up and the DeepSpeed step find the GPU as OpenRLHF's sleep modes leave it.

Load balancing: the rows of a batch are split across the live replicas by longest-processing-
time on their token counts (prompt length estimated as characters / 4), so each replica gets
about the same number of tokens. :meth:`PRMGroup.submit` returns at once (the experience maker
overlaps PRM scoring with the policy and reference forward passes); :meth:`PRMGroup.collect`
waits.

Failures: replicas are Ray actors with ``max_restarts`` and ``max_task_retries``, so Ray restarts
a replica whose process dies (same placement; the scorer is reloaded on first use) and retries
its in-flight batch. If a chunk still fails (restarts exhausted), it is resubmitted to the next
live replica, up to ``max_retries`` times per chunk, and the dead replica is not used again.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import ray
import torch
from ray.exceptions import RayActorError
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

logger = logging.getLogger(__name__)

StepScorer = Callable[[list[str], torch.Tensor, torch.Tensor], torch.Tensor]
# Ray leaves every GPU visible to every actor when one of these is set (OpenRLHF supports it)
NOSET_VISIBLE_DEVICES = ("RAY_EXPERIMENTAL_NOSET_CUDA_VISIBLE_DEVICES", "RAY_EXPERIMENTAL_NOSET_ROCR_VISIBLE_DEVICES",
                         "RAY_EXPERIMENTAL_NOSET_HIP_VISIBLE_DEVICES")  # fmt: skip


def replica_device(gpu_ids: list, environ=os.environ) -> str:
    """The device of a replica that Ray granted ``gpu_ids`` (``ray.get_gpu_ids()``), in its environment.

    - no GPU: "cpu";
    - Ray set ``CUDA_VISIBLE_DEVICES`` to the granted GPUs (its default): "cuda:0";
    - ``RAY_EXPERIMENTAL_NOSET_CUDA_VISIBLE_DEVICES``: "cuda:<i>", i the first granted id's place
      among the visible devices (the id itself when ``CUDA_VISIBLE_DEVICES`` is unset), as
      OpenRLHF derives ``LOCAL_RANK`` for its actors.
    Nothing here touches CUDA.
    """
    if not gpu_ids:
        return "cpu"
    if not any(environ.get(name) for name in NOSET_VISIBLE_DEVICES):
        return "cuda:0"
    first = str(gpu_ids[0])
    visible = [v.strip() for v in environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if v.strip()]
    return f"cuda:{visible.index(first) if first in visible else int(first)}"


def release_device_memory(device: str) -> None:
    """Return cached CUDA blocks to the driver (OpenRLHF's ``empty_cache``); nothing on the CPU."""
    if device.startswith("cuda"):
        torch.cuda.empty_cache()


@dataclass(frozen=True)
class PRMSpec:
    """What a replica loads (picklable; sent to every replica).

    Args:
        model_name_or_path: the PRM checkpoint.
        policy_tokenizer: the policy's tokenizer path (steps are the policy's).
        step_format: PRM step format name (``openrlhf_pure.models.step_formats``); None: the family's.
        separator: the policy's step separator.
        max_tokens_per_batch: token budget of one PRM forward pass.
        dtype: None for bf16 on GPU, float32 on CPU.
        family: PRM family (``openrlhf_pure.models.prm_families``); None: detected from the checkpoint.
        score_transform: map of the family's native score to the common scale (``prm_scores``).
        max_length: the PRM's context; None reads ``max_position_embeddings`` from its config.
        overflow: longer PRM inputs: "error" or "truncate" (see ``ScorerConfig.overflow``).
        trust_remote_code: let the policy tokenizer run code shipped with its checkpoint.
    """

    model_name_or_path: str
    policy_tokenizer: str
    step_format: str | None = None
    separator: str = "\n\n"
    max_tokens_per_batch: int = 32768
    dtype: str | None = None
    family: str | None = None
    score_transform: str = "auto"
    max_length: int | None = None
    overflow: str = "error"
    trust_remote_code: bool = False


class PolicyStepScorer:
    """The default step scorer: the project's ``PRMScorer`` on the policy's steps, on ``device``."""

    def __init__(self, spec: PRMSpec, device: str = "cpu"):
        from transformers import AutoTokenizer

        from openrlhf_pure.core.steps import step_separator
        from openrlhf_pure.engines.prm_scorer import PRMScorer, ScorerConfig
        from openrlhf_pure.models.prm import ProcessRewardModel

        self.device = device
        prm = ProcessRewardModel.from_pretrained(
            spec.model_name_or_path, step_format=spec.step_format, dtype=spec.dtype, device=device,
            family=spec.family, score_transform=spec.score_transform,
        )  # fmt: skip
        self.description = prm.describe()
        try:
            policy_tokenizer = AutoTokenizer.from_pretrained(spec.policy_tokenizer,
                                                             trust_remote_code=spec.trust_remote_code)  # fmt: skip
        except ValueError as err:
            if "trust_remote_code" not in str(err):
                raise
            raise ValueError(
                f"the policy tokenizer {spec.policy_tokenizer} ships its own code, which PRM replicas do "
                f"not run unless asked: pass --pure.prm.trust_remote_code if you trust it"
            ) from err
        max_length = spec.max_length or getattr(prm.model.config, "max_position_embeddings", None)
        config = ScorerConfig(max_tokens_per_batch=spec.max_tokens_per_batch, max_length=max_length,
                              overflow=spec.overflow)  # fmt: skip
        self.scorer = PRMScorer(prm, policy_tokenizer, config)
        self.separator_ids = step_separator(policy_tokenizer, spec.separator)

    def __call__(self, prompts: list[str], response_ids: torch.Tensor, action_mask: torch.Tensor) -> torch.Tensor:
        """(B,) prompts, (B, T) ids, (B, T) mask -> (B, S) step scores."""
        from openrlhf_pure.core.steps import split_steps

        layout = split_steps(response_ids, action_mask, self.separator_ids)
        try:
            return self.scorer.score_policy_tokens(prompts, response_ids, layout)
        except ValueError as err:
            if "(the PRM's context)" not in str(err):
                raise
            raise ValueError(
                f"{err}: shorten the prompts or --rollout.max_new_tokens, raise --pure.prm.max_length "
                f"if the PRM allows it, or choose --pure.prm.overflow truncate"
            ) from err

    @property
    def truncated(self) -> int:
        """PRM inputs cut at the PRM's context so far."""
        return self.scorer.truncated

    def to(self, device: str) -> None:
        """Move the PRM (offload to "cpu", back to its device before scoring)."""
        self.scorer.prm.to(device)


def build_policy_step_scorer(spec: PRMSpec, device: str = "cpu") -> StepScorer:
    """Factory used by :func:`prm_group_from_args` (a module-level function: picklable)."""
    return PolicyStepScorer(spec, device)


class PRMActor:
    """One PRM replica. Subclassed per group with ``scorer_factory`` and ``offload`` set (see
    :func:`prm_actor_class`), so that a replica restarted by Ray can rebuild its scorer from its
    class alone. ``scorer_factory(device)`` builds the scorer on the replica's device."""

    scorer_factory: Callable[[str], StepScorer] | None = None
    offload: bool = False

    def __init__(self, rank: int = 0, gpu_ids: list | None = None):
        self._rank = rank
        if gpu_ids is None:  # what Ray granted this actor (none outside a Ray worker)
            gpu_ids = ray.get_gpu_ids() if ray.is_initialized() else []
        self.gpu_ids = [str(i) for i in gpu_ids]
        self.granted_device = replica_device(self.gpu_ids)
        self.device = self.granted_device
        if self.device != "cpu" and not torch.cuda.is_available():
            logger.warning("PRM replica %d was granted GPU %s but CUDA is unavailable: scoring on the CPU",
                           rank, ",".join(self.gpu_ids))  # fmt: skip
            self.device = "cpu"
        if self.device != "cpu":
            torch.cuda.set_device(self.device)
        self.scorer = None
        self.batches = 0
        self.resident = False

    def _ensure_scorer(self) -> StepScorer:
        if self.scorer is None:
            self.scorer = type(self).scorer_factory(self.device)
            self.resident = True
        if not self.resident:
            self.scorer.to(self.device)
            self.resident = True
        return self.scorer

    def _release(self) -> None:
        """After scoring: offload the PRM if asked, then empty the CUDA cache."""
        if type(self).offload and hasattr(self.scorer, "to"):
            self.scorer.to("cpu")
            self.resident = self.device == "cpu"
        release_device_memory(self.device)

    def ready(self) -> dict:
        """Load the scorer now (then offload it, if asked); returns :meth:`status` and, under "prm", what the
        scorer describes of itself."""
        scorer = self._ensure_scorer()
        self._release()
        return {**self.status(), "prm": getattr(scorer, "description", None)}

    def score(self, prompts: list[str], response_ids: torch.Tensor, action_mask: torch.Tensor):
        """(B,) prompts, (B, T) response ids, (B, T) mask -> ((B, S) float32 step scores on CPU,
        how many of the B PRM inputs were cut at the PRM's context)."""
        scorer = self._ensure_scorer()
        before = getattr(scorer, "truncated", 0)
        try:
            scores = scorer(prompts, response_ids, action_mask.bool()).float().cpu()
        finally:
            self._release()
        self.batches += 1
        return scores, getattr(scorer, "truncated", 0) - before

    def empty_cache(self) -> None:
        """OpenRLHF's memory call on its model actors."""
        release_device_memory(self.device)

    def status(self) -> dict:
        """Process id, rank, batches scored since this process started, granted GPUs and devices."""
        return {"pid": os.getpid(), "rank": self._rank, "batches": self.batches, "gpu_ids": self.gpu_ids,
                "granted_device": self.granted_device, "device": self.device, "resident": self.resident}  # fmt: skip


def prm_actor_class(scorer_factory: Callable[[str], StepScorer], max_restarts: int, offload: bool = False):
    """A Ray actor class of :class:`PRMActor` bound to ``scorer_factory`` (pickled by value)."""
    attributes = {"scorer_factory": staticmethod(scorer_factory), "offload": offload, "__module__": __name__}
    bound = type("PRMActor", (PRMActor,), attributes)
    return ray.remote(max_restarts=max_restarts, max_task_retries=max_restarts)(bound)


@dataclass
class _Chunk:
    replica: int
    rows: list[int]
    ref: ray.ObjectRef
    attempts: int = 1


@dataclass
class PendingScores:
    """Chunks in flight for one batch of B rows (from :meth:`PRMGroup.submit`)."""

    batch: int
    chunks: list[_Chunk]
    inputs: tuple
    started: float
    truncated: int = 0  # PRM inputs cut at the PRM's context (set by collect)


class PRMGroup:
    """N PRM replicas with load balancing and failure handling.

    Args:
        scorer_factory: picklable callable ``(device: str) -> step scorer``.
        num_replicas: replicas.
        num_gpus_per_replica: GPUs per replica (fractions share a GPU; 0 for CPU).
        pg: a placement group to colocate with (bundle i hosts replica i), or None.
        max_restarts: Ray restarts (and task retries) per replica.
        max_retries: resubmissions of a failed chunk to another replica.
        offload: move each replica's PRM to the CPU between scorings (colocated replicas).
    """

    def __init__(self, scorer_factory, num_replicas=1, num_gpus_per_replica=1.0, pg=None, max_restarts=3,
                 max_retries=3, offload=False):  # fmt: skip
        actor_class = prm_actor_class(scorer_factory, max_restarts, offload)
        self.replicas = []
        for rank in range(num_replicas):  # OpenRLHF's RayActorGroup placement, one actor per replica
            options = {"num_cpus": num_gpus_per_replica, "num_gpus": num_gpus_per_replica}
            if pg is not None:
                options["scheduling_strategy"] = PlacementGroupSchedulingStrategy(pg, placement_group_bundle_index=rank)
            self.replicas.append(actor_class.options(**options).remote(rank))
        self.alive = [True] * len(self.replicas)
        self.max_retries = max_retries
        self.description: dict | None = None  # family, format, score, transform: set by ready()

    def ready(self) -> list[dict]:
        """Load every replica's scorer (in parallel); returns their statuses (see :attr:`description`)."""
        statuses = ray.get([replica.ready.remote() for replica in self.replicas])
        self.description = next((s["prm"] for s in statuses if s.get("prm")), None)
        return statuses

    def run_metrics(self) -> dict[str, float]:
        """The PRM's score transform as run metrics (empty before :meth:`ready` or for a custom scorer)."""
        d = self.description or {}
        return {k: float(v) for k, v in d.items() if k.startswith("prm/")}

    def status(self) -> list[dict | None]:
        """Each replica's status, None for a replica given up on."""
        return [ray.get(r.status.remote()) if ok else None for r, ok in zip(self.replicas, self.alive)]

    def _live(self) -> list[int]:
        live = [i for i, ok in enumerate(self.alive) if ok]
        if not live:
            raise RuntimeError("every PRM replica has died and could not be restarted")
        return live

    @staticmethod
    def _costs(prompts: list[str], action_mask: torch.Tensor) -> list[int]:
        return [int(n) + len(p) // 4 + 1 for p, n in zip(prompts, action_mask.sum(dim=1).tolist())]

    def _assign(self, costs: list[int]) -> dict[int, list[int]]:
        """Longest-processing-time assignment of rows to live replicas -> {replica: sorted rows}."""
        live = self._live()
        load = {i: 0 for i in live}
        rows: dict[int, list[int]] = {i: [] for i in live}
        for row in sorted(range(len(costs)), key=lambda r: -costs[r]):
            target = min(live, key=lambda i: (load[i], i))
            load[target] += costs[row]
            rows[target].append(row)
        return {i: sorted(r) for i, r in rows.items() if r}

    def _send(self, replica: int, rows: list[int], inputs: tuple) -> ray.ObjectRef:
        prompts, response_ids, action_mask = inputs
        index = torch.tensor(rows)
        return self.replicas[replica].score.remote([prompts[r] for r in rows], response_ids[index], action_mask[index])

    def submit(self, prompts: list[str], response_ids: torch.Tensor, action_mask: torch.Tensor) -> PendingScores:
        """Start scoring (B,) prompts with (B, T) response ids and mask; returns at once."""
        inputs = (list(prompts), response_ids.cpu(), action_mask.bool().cpu())
        assignment = self._assign(self._costs(inputs[0], inputs[2]))
        chunks = [_Chunk(i, rows, self._send(i, rows, inputs)) for i, rows in assignment.items()]
        return PendingScores(len(prompts), chunks, inputs, time.perf_counter())

    def collect(self, pending: PendingScores) -> torch.Tensor:
        """Wait for a submitted batch; returns (B, S) float32 step scores (S: most steps in the batch)."""
        results: list[tuple[list[int], torch.Tensor]] = []
        for chunk in pending.chunks:
            while True:
                try:
                    scores, truncated = ray.get(chunk.ref)
                    results.append((chunk.rows, scores))
                    pending.truncated += truncated
                    break
                except RayActorError as err:
                    self.alive[chunk.replica] = False
                    if chunk.attempts > self.max_retries:
                        raise RuntimeError(f"PRM chunk failed {chunk.attempts} times; last error: {err}") from err
                    target = self._live()[chunk.attempts % len(self._live())]
                    logger.warning("PRM replica %d died (%s); retrying its %d rows on replica %d",
                                   chunk.replica, type(err).__name__, len(chunk.rows), target)  # fmt: skip
                    chunk.replica, chunk.ref = target, self._send(target, chunk.rows, pending.inputs)
                    chunk.attempts += 1
        width = max([scores.shape[1] for _, scores in results] + [1])
        out = torch.zeros(pending.batch, width, dtype=torch.float32)
        for rows, scores in results:
            out[torch.tensor(rows), : scores.shape[1]] = scores
        return out

    def score(self, prompts: list[str], response_ids: torch.Tensor, action_mask: torch.Tensor) -> torch.Tensor:
        """:meth:`submit` then :meth:`collect`: (B,) prompts, (B, T) ids and mask -> (B, S)."""
        return self.collect(self.submit(prompts, response_ids, action_mask))


def prm_group_from_args(args, pg=None) -> PRMGroup:
    """The PRM group of a ``train_pure_ray`` run (``args.pure.prm``), its scorers loaded."""
    prm = args.pure.prm
    spec = PRMSpec(
        model_name_or_path=prm.model_name_or_path,
        policy_tokenizer=args.actor.model_name_or_path,
        step_format=prm.format,
        separator=args.pure.step_separator,
        max_tokens_per_batch=prm.max_tokens_per_batch,
        max_length=prm.max_length,
        overflow=prm.overflow,
        trust_remote_code=prm.trust_remote_code,
        family=prm.family,
        score_transform=prm.score_transform,
    )
    group = PRMGroup(
        functools.partial(build_policy_step_scorer, spec),
        num_replicas=prm.num_replicas,
        num_gpus_per_replica=prm.num_gpus_per_replica,
        pg=pg if prm.colocate else None,
        max_restarts=prm.max_restarts,
        offload=prm.offload,
    )
    logger.info("PRM replicas ready: %s", group.ready())
    return group
