"""``pure-train-prm``: train a process reward model on stepwise rows (PURE.md section 3).

    python -m openrlhf_pure.cli.train_prm --model.name_or_path Qwen/Qwen2.5-Math-7B \\
        --data.train HuggingFaceH4/prm800k-trl-dedup --data.eval_fraction 0.01 \\
        --train.freeze_backbone --train.lr 1e-4 --train.epochs 3 --output_dir runs/prm/stage1

    deepspeed --num_gpus 8 --module openrlhf_pure.cli.train_prm ... \\
        --train.backend deepspeed --ds.zero_stage 2 --ds.bf16 --train.gradient_checkpointing

Flags are grouped by a dotted prefix as in OpenRLHF (``--model.*``, ``--prm.*``, ``--data.*``,
``--train.*``, ``--ds.*``, ``--log.*``). Everything is checked before any work starts (local
paths exist, numbers are in range, flags agree with each other) and every problem is reported
at once, exit status 2. ``--dry_run`` stops after that check and prints the settings as JSON.
A model or data name that is not on disk is taken for a hub name only when it has the hub's
shape and does not look like a path (``openrlhf_pure.data.sources``); with ``HF_HUB_OFFLINE``
set it must be in the local cache. ``--data.eval_fraction`` holds out whole prompts (every
solution of a problem lands on the same side), chosen with the run's seed. The run writes
``output_dir/metrics.jsonl``, ``checkpoints/`` and the trained PRM in ``final/``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import sys
from collections import Counter
from pathlib import Path

from openrlhf_pure.cli.errors import report_errors
from openrlhf_pure.cli.logs import quiet_libraries
from openrlhf_pure.cli.validation import clear_previous_run, output_dir_problem, resume_problem
from openrlhf_pure.data.sources import is_hub_name, source_problem
from openrlhf_pure.data.stepwise import STEPWISE_FORMATS, DataFormatError, load_stepwise
from openrlhf_pure.models.step_formats import STEP_FORMATS

# The names of openrlhf_pure.models.prm.SCORE_FUNCTIONS, kept here so that validation and
# --dry_run run without importing torch (a test checks that the two agree).
SCORE_NAMES = ("p_diff", "p_correct", "logit_diff", "sigmoid")
BACKEND_NAMES = ("torch", "deepspeed")
DATA_SUFFIXES = (".jsonl", ".json", ".parquet")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (dotted flag names; read them with ``vars(args)["train.lr"]``)."""
    p = argparse.ArgumentParser(prog="pure-train-prm", description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)  # fmt: skip
    p.add_argument("--model.name_or_path", required=True, help="causal LM or trained PRM: local folder or hub name")
    p.add_argument("--model.attn_implementation", default=None, help="sdpa, eager or flash_attention_2")
    p.add_argument("--prm.format", default=None, choices=STEP_FORMATS.names(), help="step format (default: saved/pure)")
    p.add_argument("--prm.score", default=None, choices=SCORE_NAMES, help="step score (default: saved/p_diff)")
    p.add_argument("--data.train", required=True, help="stepwise rows: .jsonl/.json/.parquet, folder or hub name")
    p.add_argument("--data.format", default="trl", choices=STEPWISE_FORMATS.names())
    p.add_argument("--data.split", default="train", help="split of a hub dataset")
    p.add_argument("--data.eval", default=None, help="held-out rows (same forms as --data.train)")
    p.add_argument("--data.eval_split", default="test", help="split of a hub eval dataset")
    p.add_argument("--data.eval_fraction", type=float, default=0.0, help="hold out this share of training prompts")
    p.add_argument("--data.skip_bad_rows", action="store_true", help="count and skip malformed rows")
    p.add_argument("--train.backend", default="torch", choices=BACKEND_NAMES)
    p.add_argument("--train.lr", type=float, default=1e-6)
    p.add_argument("--train.epochs", type=float, default=1.0)
    p.add_argument("--train.max_steps", type=int, default=None, help="stop after this many optimizer steps")
    p.add_argument("--train.rows_per_step", type=int, default=128, help="global batch, in rows")
    p.add_argument("--train.max_tokens_per_batch", type=int, default=8192, help="token budget of one forward pass")
    p.add_argument("--train.no_pack", action="store_true", help="one sequence per row (padding) instead of packing")
    p.add_argument("--train.weight_decay", type=float, default=0.1)
    p.add_argument("--train.adam_beta1", type=float, default=0.9)
    p.add_argument("--train.adam_beta2", type=float, default=0.95)
    p.add_argument("--train.warmup_ratio", type=float, default=0.0)
    p.add_argument("--train.max_grad_norm", type=float, default=1.0)
    p.add_argument("--train.freeze_backbone", action="store_true", help="train the head only (PURE stage 1)")
    p.add_argument("--train.gradient_checkpointing", action="store_true")
    p.add_argument("--train.threshold", type=float, default=None, help="held-out metrics threshold (default: natural)")
    p.add_argument("--train.eval_every", type=int, default=0, help="optimizer steps (0: at the end only)")
    p.add_argument("--train.save_every", type=int, default=0, help="optimizer steps (0: no checkpoints)")
    p.add_argument("--train.resume", action="store_true", help="continue from output_dir/checkpoints/latest")
    p.add_argument("--train.seed", type=int, default=42)
    p.add_argument("--ds.zero_stage", type=int, default=2, choices=(0, 1, 2, 3))
    p.add_argument("--ds.bf16", action="store_true", help="bf16 weights and compute (deepspeed backend)")
    p.add_argument("--ds.config", default=None, help="JSON file merged over the generated DeepSpeed config")
    p.add_argument("--log.tensorboard", action="store_true")
    p.add_argument("--log.wandb_project", default=None)
    p.add_argument("--log.no_progress", action="store_true", help="no progress bar")
    p.add_argument("--output_dir", required=True)
    p.add_argument("--overwrite_output_dir", action="store_true", help="replace a previous run in output_dir")
    p.add_argument("--dry_run", action="store_true", help="check the settings, print them, stop")
    p.add_argument("--local_rank", "--local-rank", type=int, default=None, help=argparse.SUPPRESS)  # deepspeed launcher
    return p


def _check_source(name: str, value: str | None, errors: list[str], notes: list[str], model: bool = False) -> None:
    """A model/data argument must be an existing local path or a hub name (``data.sources``' rule)."""
    problem = source_problem(f"--{name}", value, "model" if model else "data")
    path = Path(value).expanduser() if value else None
    if (
        problem is None
        and path is not None
        and not model
        and path.is_file()
        and path.suffix.lower() not in DATA_SUFFIXES
    ):
        problem = f"--{name} {value}: expected a {', '.join(DATA_SUFFIXES)} file"
    if problem is not None:
        errors.append(problem)
    elif value and is_hub_name(value):
        notes.append(f"--{name} {value} is not a local path: it will be read from the Hugging Face hub")


def validate(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    """Every problem with the arguments (errors) and things worth saying (notes); touches nothing."""
    a, errors, notes = vars(args), [], []
    _check_source("model.name_or_path", a["model.name_or_path"], errors, notes, model=True)
    _check_source("data.train", a["data.train"], errors, notes)
    _check_source("data.eval", a["data.eval"], errors, notes)
    if a["data.eval"] and a["data.eval_fraction"]:
        errors.append("give --data.eval or --data.eval_fraction, not both")
    if not 0.0 <= a["data.eval_fraction"] < 1.0:
        errors.append(f"--data.eval_fraction must be in [0, 1), got {a['data.eval_fraction']}")
    positive = ("train.lr", "train.epochs", "train.rows_per_step", "train.max_tokens_per_batch")
    for key in positive + ("train.max_steps",):
        if a[key] is not None and not a[key] > 0:
            errors.append(f"--{key} must be positive, got {a[key]}")
    for key in ("train.weight_decay", "train.warmup_ratio", "train.eval_every", "train.save_every"):
        if a[key] < 0:
            errors.append(f"--{key} must be >= 0, got {a[key]}")
    for key in ("train.adam_beta1", "train.adam_beta2", "train.warmup_ratio"):
        if not 0.0 <= a[key] <= 1.0 or (key != "train.warmup_ratio" and a[key] == 1.0):
            errors.append(f"--{key} is outside its range, got {a[key]}")
    if a["train.max_grad_norm"] <= 0:
        errors.append(f"--train.max_grad_norm must be positive, got {a['train.max_grad_norm']}")
    deepspeed = a["train.backend"] == "deepspeed"
    if a["ds.bf16"] and not deepspeed:
        errors.append("--ds.bf16 needs --train.backend deepspeed (the torch backend trains in float32)")
    if a["ds.config"] is not None:
        if not deepspeed:
            errors.append("--ds.config needs --train.backend deepspeed")
        try:
            if not isinstance(json.loads(Path(a["ds.config"]).read_text()), dict):
                errors.append(f"--ds.config {a['ds.config']}: expected a JSON object")
        except (OSError, ValueError) as err:
            errors.append(f"--ds.config {a['ds.config']}: {err}")
    if deepspeed and importlib.util.find_spec("deepspeed") is None:
        errors.append("--train.backend deepspeed: the deepspeed package is not installed")
    if not deepspeed and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        errors.append("several processes were launched: use --train.backend deepspeed")
    if a["log.wandb_project"] and importlib.util.find_spec("wandb") is None:
        errors.append("--log.wandb_project: the wandb package is not installed")
    if a["log.tensorboard"] and importlib.util.find_spec("tensorboard") is None:
        errors.append("--log.tensorboard: the tensorboard package is not installed")
    _check_output(args, errors, notes)
    return errors, notes


def _check_output(args: argparse.Namespace, errors: list[str], notes: list[str]) -> None:
    a = vars(args)
    problem = output_dir_problem(a["output_dir"], a["train.resume"], a["overwrite_output_dir"])
    if problem is not None:
        errors.append(problem)
    out = Path(a["output_dir"]).expanduser()
    if a["train.resume"] and out.is_dir() and not (out / "checkpoints" / "latest").is_file():
        notes.append(f"--train.resume: {out / 'checkpoints'} holds no checkpoint yet; starting from step 0")
    elif a["train.resume"] and (problem := resume_problem(a["output_dir"])):
        errors.append(problem)


def split_by_prompt(rows: list, fraction: float, seed: int) -> tuple[list, list]:
    """(train, held-out) rows; whole prompts are held out until ``fraction`` of the rows is reached."""
    counts = Counter(row.prompt for row in rows)
    prompts = sorted(counts)
    random.Random(seed).shuffle(prompts)
    held, count = set(), 0
    for prompt in prompts:
        if count >= fraction * len(rows):
            break
        held.add(prompt)
        count += counts[prompt]
    return [r for r in rows if r.prompt not in held], [r for r in rows if r.prompt in held]


def train_config(args: argparse.Namespace):
    """The :class:`PRMTrainConfig` the arguments describe."""
    from openrlhf_pure.engines.prm_trainer import PRMTrainConfig

    a = vars(args)
    return PRMTrainConfig(
        output_dir=a["output_dir"], epochs=a["train.epochs"], max_steps=a["train.max_steps"],
        rows_per_step=a["train.rows_per_step"], max_tokens_per_batch=a["train.max_tokens_per_batch"],
        pack=not a["train.no_pack"], lr=a["train.lr"], weight_decay=a["train.weight_decay"],
        adam_betas=(a["train.adam_beta1"], a["train.adam_beta2"]), warmup_ratio=a["train.warmup_ratio"],
        max_grad_norm=a["train.max_grad_norm"], freeze_backbone=a["train.freeze_backbone"],
        gradient_checkpointing=a["train.gradient_checkpointing"], eval_every=a["train.eval_every"],
        save_every=a["train.save_every"], threshold=0.0 if a["train.threshold"] is None else a["train.threshold"],
        seed=a["train.seed"], tensorboard=a["log.tensorboard"], wandb_project=a["log.wandb_project"],
        progress=not a["log.no_progress"], backend=a["train.backend"], zero_stage=a["ds.zero_stage"],
        bf16=a["ds.bf16"], deepspeed_config=json.loads(Path(a["ds.config"]).read_text()) if a["ds.config"] else None,
    )  # fmt: skip


def load_rows(args: argparse.Namespace, say) -> tuple[list, list]:
    """Training and held-out rows, with each load's report printed."""
    a = vars(args)
    on_bad_row = "skip" if a["data.skip_bad_rows"] else "raise"
    train, report = load_stepwise(a["data.train"], a["data.format"], a["data.split"], on_bad_row)
    say(report.summary())
    for example in report.examples:
        say(f"  skipped: {example}")
    held = []
    if a["data.eval"]:
        held, report = load_stepwise(a["data.eval"], a["data.format"], a["data.eval_split"], on_bad_row)
        say(report.summary())
    elif a["data.eval_fraction"]:
        train, held = split_by_prompt(train, a["data.eval_fraction"], a["train.seed"])
        say(f"held out {len(held)} rows ({len({r.prompt for r in held})} prompts); {len(train)} rows to train on")
    if not train:
        raise ValueError("no training rows left")
    return train, held


def load(args: argparse.Namespace, say):
    """Rows and model: (config, train rows, held-out rows, PRM)."""
    import torch

    from openrlhf_pure.models.prm import ProcessRewardModel

    a = vars(args)
    config = train_config(args)
    train, held = load_rows(args, say)
    device = "cpu"
    if torch.cuda.is_available():
        local_rank = int(os.environ.get("LOCAL_RANK", a["local_rank"] or 0))
        device = f"cuda:{local_rank}" if config.backend == "deepspeed" else "cuda"
    torch.manual_seed(config.seed)  # a new head starts the same on every rank and in every run
    prm = ProcessRewardModel.from_pretrained(
        a["model.name_or_path"], step_format=a["prm.format"], score=a["prm.score"],
        dtype="bf16" if config.bf16 else "float32", device=device,
        attn_implementation=a["model.attn_implementation"], new_head=True,
    )  # fmt: skip
    if a["train.threshold"] is None:  # the natural threshold of the score: p(correct) = 0.5
        config.threshold = 0.5 if prm.score_name == "p_correct" else 0.0
    return config, train, held, prm


def main(argv: list[str] | None = None) -> int:
    """Parse, validate, train (or stop after validation with ``--dry_run``); returns the exit status."""
    args = build_parser().parse_args(argv)
    a = vars(args)
    main_rank = int(os.environ.get("RANK", "0")) == 0
    say = print if main_rank else (lambda *_: None)
    errors, notes = validate(args)
    for note in notes:
        say(f"note: {note}")
    if errors:
        return report_errors(errors)
    if args.dry_run:
        settings = {k: v for k, v in sorted(a.items()) if k not in ("dry_run", "local_rank")}
        say(json.dumps(settings, indent=1))
        say("dry run: the settings are valid; nothing was loaded or trained")
        return 0
    quiet_libraries(progress=not a["log.no_progress"])
    try:
        config, train, held, prm = load(args, say)
    except (DataFormatError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    from openrlhf_pure.engines.prm_trainer import PRMTrainer

    if a["overwrite_output_dir"] and not a["train.resume"] and main_rank:
        clear_previous_run(a["output_dir"])
    history = PRMTrainer(prm, train, held, config).train(resume=a["train.resume"])
    say(json.dumps({k: round(v, 6) for k, v in (history[-1] if history else {}).items()}, sort_keys=True))
    say(f"trained PRM: {Path(a['output_dir']) / 'final'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
