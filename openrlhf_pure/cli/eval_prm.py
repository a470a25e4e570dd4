"""``pure-eval-prm``: evaluate a process reward model on ProcessBench and by Best-of-N selection.

    python -m openrlhf_pure.cli.eval_prm processbench --prm runs/prm/stage2/final \\
        --data Qwen/ProcessBench --sweep 41 --output_dir runs/prm/eval
    python -m openrlhf_pure.cli.eval_prm best-of-n --prm runs/prm/stage2/final \\
        --data rollouts.jsonl --aggregation all --output_dir runs/prm/eval

``processbench`` reads the four subsets (gsm8k, math, olympiadbench, omnimath) from a folder of
the benchmark's ``<subset>.json`` files or from a hub name, predicts each case's first error as
the first step scoring below ``--threshold`` (default: the natural threshold of the score after
``--prm.score_transform``: 0 on [-1, 1], which every family's score is mapped to by default,
0.5 for an untransformed probability), and prints accuracy on erroneous and on correct cases,
their F1 per subset and the average, next to PURE's published F1 (average 57.5). The PRM's
family is detected from its config.json (``--prm.family`` overrides: see prm/README.md).
``--sweep N`` adds the average F1 at N thresholds over the score's range (tuned on the test
set, so report it beside, not instead of, the natural threshold's figure).

``best-of-n`` reads JSONL rows ``{"problem": str, "answer": gold, "responses": [str, ...]}``
(optional ``"id"``), splits each response into steps on ``--separator`` ("\\n\\n"), scores
them, aggregates (``--aggregation``: min, softmin, last, product, mean, a comma list, or all),
grades every candidate with the project's grader and reports the picked candidate's accuracy,
the oracle (pass@N) and the mean (random pick).

Both write ``<output_dir>/<task>_records.jsonl`` (per case / per problem),
``<task>_summary.json`` and ``<task>_summary.md``. Exit status 2 on bad arguments or data.
"""

from __future__ import annotations

import argparse
import sys

from openrlhf_pure.cli.errors import report_errors
from openrlhf_pure.cli.logs import quiet_libraries
from openrlhf_pure.cli.train_prm import SCORE_NAMES
from openrlhf_pure.cli.validation import device_problem
from openrlhf_pure.core.prm_metrics import AGGREGATIONS
from openrlhf_pure.data.processbench import PROCESSBENCH_HUB, PROCESSBENCH_SUBSETS
from openrlhf_pure.data.sources import source_problem
from openrlhf_pure.data.stepwise import DataFormatError
from openrlhf_pure.models.prm_families import PRM_FAMILIES, family_problem
from openrlhf_pure.models.prm_scores import TRANSFORM_NAMES
from openrlhf_pure.models.step_formats import STEP_FORMATS


def build_parser() -> argparse.ArgumentParser:
    """The argument parser: one sub-command per evaluation, shared model flags."""
    parser = argparse.ArgumentParser(prog="pure-eval-prm", description=__doc__.split("\n")[0])
    tasks = parser.add_subparsers(dest="task", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--prm", required=True, help="trained PRM folder (or a causal LM) or hub name")
    common.add_argument("--prm.format", default=None, choices=STEP_FORMATS.names(), help="default: saved with the PRM")
    common.add_argument("--prm.score", default=None, choices=SCORE_NAMES, help="default: saved with the PRM")
    common.add_argument("--prm.family", default=None, choices=PRM_FAMILIES.names(), help="default: detected")
    common.add_argument("--prm.score_transform", default="auto", choices=TRANSFORM_NAMES,
                        help="native score -> common scale: auto (2p-1 for probabilities), 2p-1, none")  # fmt: skip
    common.add_argument("--dtype", default=None, help="bf16 / float32 (default: bf16 on GPU, float32 on CPU)")
    common.add_argument("--device", default=None, help="default: cuda if available, else cpu")
    common.add_argument("--max_tokens_per_batch", type=int, default=16384, help="token budget of one forward pass")
    common.add_argument("--chunk", type=int, default=128, help="solutions per scorer call")
    common.add_argument("--output_dir", default="runs/eval_prm")
    common.add_argument("--no_progress", action="store_true", help="no progress bars")
    bench = tasks.add_parser("processbench", parents=[common], help="first-error F1 on ProcessBench")
    bench.add_argument("--data", default=PROCESSBENCH_HUB, help="folder of <subset>.json files, or a hub name")
    bench.add_argument("--subsets", default=",".join(PROCESSBENCH_SUBSETS), help="comma-separated subset names")
    bench.add_argument("--threshold", type=float, default=None, help="default: the score's natural threshold")
    bench.add_argument("--sweep", type=int, nargs="?", const=41, default=0, metavar="POINTS", help="threshold sweep")
    bench.add_argument("--limit", type=int, default=None, help="first N cases of each subset (a quick look)")
    bon = tasks.add_parser("best-of-n", parents=[common], help="Best-of-N accuracy with PRM ranking")
    bon.add_argument("--data", required=True, help="JSONL: problem, answer, responses")
    bon.add_argument("--aggregation", default="all", help=f"{', '.join(AGGREGATIONS.names())}, a comma list or all")
    bon.add_argument("--temperature", type=float, default=0.1, help="softmin temperature T")
    bon.add_argument("--n", type=int, default=None, help="use the first N candidates of each problem")
    bon.add_argument("--separator", default="\n\n", help="step separator (escapes such as \\n are understood)")
    return parser


def aggregations(value: str) -> list[str]:
    """The aggregation names of ``--aggregation`` (``all``: every registered one)."""
    names = AGGREGATIONS.names() if value == "all" else [v.strip() for v in value.split(",") if v.strip()]
    for name in names:
        AGGREGATIONS.get(name)
    return names


def validate(args: argparse.Namespace) -> list[str]:
    """Every problem with the arguments, before anything is loaded."""
    sources = (("--prm", args.prm, "model"), ("--data", args.data, "file" if args.task == "best-of-n" else "data"))
    errors = [p for p in (source_problem(*source) for source in sources) if p]
    if not errors[:1] or not errors[0].startswith("--prm"):
        errors += filter(None, [family_problem("--prm", args.prm, vars(args)["prm.family"])])
    errors += filter(None, [device_problem("--device", args.device)])
    if args.task == "processbench":
        if args.limit is not None and args.limit < 1:
            errors.append(f"--limit must be positive, got {args.limit}")
        if args.sweep and args.sweep < 2:
            errors.append(f"--sweep needs at least 2 points, got {args.sweep}")
    else:
        try:
            aggregations(args.aggregation)
        except ValueError as err:
            errors.append(f"--aggregation: {err}")
        if not args.temperature > 0:
            errors.append(f"--temperature must be positive, got {args.temperature}")
        if args.n is not None and args.n < 1:
            errors.append(f"--n must be positive, got {args.n}")
        if not args.separator:
            errors.append("--separator must not be empty")
    for key in ("max_tokens_per_batch", "chunk"):
        if getattr(args, key) < 1:
            errors.append(f"--{key} must be positive, got {getattr(args, key)}")
    return errors


def load_scorer(args: argparse.Namespace):
    """The PRM and its batch scorer, as the flags ask."""
    import torch

    from openrlhf_pure.engines.prm_scorer import PRMScorer, ScorerConfig
    from openrlhf_pure.models.prm import ProcessRewardModel

    a = vars(args)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    prm = ProcessRewardModel.from_pretrained(
        args.prm, step_format=a["prm.format"], score=a["prm.score"], dtype=args.dtype, device=device,
        family=a["prm.family"], score_transform=a["prm.score_transform"],
    )  # fmt: skip
    return PRMScorer(prm, config=ScorerConfig(max_tokens_per_batch=args.max_tokens_per_batch))


def processbench(args: argparse.Namespace) -> tuple[list[dict], dict, str]:
    """Load the benchmark and the PRM, score, report."""
    from openrlhf_pure.data.processbench import count_mismatches, load_processbench
    from openrlhf_pure.engines.prm_evaluation import (
        NATURAL_THRESHOLDS,
        processbench_markdown,
        run_processbench,
    )

    subsets = [s.strip() for s in args.subsets.split(",") if s.strip()]
    bench = load_processbench(args.data, subsets)
    if args.limit is not None:
        bench = {name: cases[: args.limit] for name, cases in bench.items()}
    else:
        for message in count_mismatches(bench):
            print(f"note: not the published benchmark: {message}")
    scorer = load_scorer(args)
    threshold = args.threshold
    if threshold is None:
        threshold = NATURAL_THRESHOLDS[scorer.prm.scale]
    records, summary = run_processbench(scorer, bench, threshold, args.sweep, args.chunk, not args.no_progress)
    return records, summary, processbench_markdown(summary)


def best_of_n_task(args: argparse.Namespace) -> tuple[list[dict], dict, str]:
    """Load the candidates and the PRM, score, grade, report."""
    from openrlhf_pure.engines.prm_evaluation import best_of_n_markdown, load_best_of_n, run_best_of_n

    problems = load_best_of_n(args.data)
    separator = args.separator.encode().decode("unicode_escape") if "\\" in args.separator else args.separator
    scorer = load_scorer(args)
    records, summary = run_best_of_n(scorer, problems, aggregations(args.aggregation), args.temperature, args.n,
                                     separator, args.chunk, not args.no_progress)  # fmt: skip
    return records, summary, best_of_n_markdown(summary)


def main(argv: list[str] | None = None) -> int:
    """Parse, validate, evaluate, write and print the report; returns the exit status."""
    from openrlhf_pure.engines.prm_evaluation import write_outputs

    args = build_parser().parse_args(argv)
    errors = validate(args)
    if errors:
        return report_errors(errors)
    quiet_libraries(progress=not args.no_progress)
    task = {"processbench": processbench, "best-of-n": best_of_n_task}[args.task]
    try:
        records, summary, markdown = task(args)
    except (DataFormatError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    paths = write_outputs(args.output_dir, args.task.replace("-", "_"), records, summary, markdown)
    print(markdown)
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
