"""What a finished ``train_pure_ray`` run should have left, checked from its output folder.

The layout is the launch scripts' (``examples/scripts/train_pure_ray.sh``): ``OUTPUT/tensorboard``
(``--logger.tensorboard_dir``), ``OUTPUT/ckpt`` (``--ckpt.path``, with ``--ckpt.save_hf``),
``OUTPUT/final`` (``--ckpt.output_dir``) and, when given, ``OUTPUT/rollouts``
(``--pure.dump_rollouts``). Used by ``examples/scripts/gpu_smoke.sh`` after a first GPU run.
"""

from __future__ import annotations

from pathlib import Path


def read_scalars(folder: Path) -> dict[str, dict[int, float]]:
    """Every TensorBoard scalar under ``folder``: tag -> {step: value}."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    found: dict[str, dict[int, float]] = {}
    for run in sorted({p.parent for p in Path(folder).rglob("events.out.tfevents.*")}):
        events = EventAccumulator(str(run), size_guidance={"scalars": 0})
        events.Reload()
        for tag in events.Tags()["scalars"]:
            found.setdefault(tag, {}).update({e.step: e.value for e in events.Scalars(tag)})
    return found


def read_dumps(folder: Path) -> list[dict]:
    """The ``--pure.dump_rollouts`` files of a run, in step order."""
    import torch

    return [torch.load(p, weights_only=False) for p in sorted(Path(folder).glob("rollouts_*.pt"))]


def check_run(output: Path, steps: int, prm_device: str = "cuda") -> tuple[list[tuple[bool, str]], dict]:
    """(checks as (passed, what), figures) for a run that should have done ``steps`` PPO steps, its PRM
    replicas on ``prm_device`` ("cuda" or "cpu")."""
    output = Path(output)
    scalars = read_scalars(output / "tensorboard")
    norms = scalars.get("train/actor_grad_norm", {})
    pure = sorted(tag for tag in scalars if tag.startswith("train/pure/"))
    truncated = max(scalars.get("train/pure/prm/truncated_ratio", {0: 0.0}).values())
    ckpt = output / "ckpt"
    tags = [f"global_step{k}" for k in range(1, steps + 1)]
    missing = [tag for tag in tags if not ((ckpt / "_actor" / tag).is_dir() and (ckpt / f"{tag}_hf").is_dir())]
    checks = [
        (sorted(norms) == list(range(1, steps + 1)), f"steps 1..{steps} logged (got {sorted(norms)})"),
        (bool(norms) and all(v > 0 for v in norms.values()), "actor gradient norm > 0 at every step"),
        (len(pure) > 10, f"PURE's metrics reached TensorBoard ({len(pure)} train/pure/* scalars)"),
        (truncated == 0, f"no PRM input cut at the PRM's context (largest pure/prm/truncated_ratio {truncated:g})"),
        (not missing, f"a DeepSpeed and a Hugging Face checkpoint per step (missing: {missing or 'none'})"),
        ((output / "final" / "config.json").exists(), "the final model saved"),
    ]
    dumps = read_dumps(output / "rollouts") if (output / "rollouts").is_dir() else []
    if dumps:
        checks.append((len(dumps) == steps, f"one rollout dump per step ({len(dumps)})"))
        if dumps[0]["prm_status"] is not None:
            counts = [[s["batches"] for s in d["prm_status"]] for d in dumps]
            each = all(c == [k] * len(c) for k, c in enumerate(counts, start=1))
            checks.append((each, f"each PRM replica scored once per step (batches per replica: {counts})"))
            devices = sorted({s["device"] for s in dumps[-1]["prm_status"]})
            on = all(d.startswith(prm_device) for d in devices)
            checks.append((on, f"PRM replicas computed on {prm_device} ({', '.join(devices)})"))
    figures = {
        "steps": len(norms),
        "seconds_per_step": {k: round(v, 2) for k, v in sorted(scalars.get("train/timing/step_total", {}).items())},
        "reward_mean": {k: round(v, 4) for k, v in sorted(scalars.get("train/reward", {}).items())},
        "prm_truncated_ratio": truncated,
    }
    return checks, figures
