"""pure-eval: evaluate a model on PURE's math benchmarks, re-grade outputs, compare runs.

    pure-eval run --model PATH [--benchmarks math500,aime24] [--backend hf|vllm] [--limit 5] ...
    pure-eval regrade IN.jsonl --out OUT.jsonl
    pure-eval compare runs/eval/a runs/eval/b [--published Qwen2.5-Math-7B/base] --out compare

(or ``python -m openrlhf_pure.cli.eval ...``). ``run`` defaults are PURE's protocol (PURE.md
section 7): the five benchmarks (none when ``--dataset`` is given without ``--benchmarks``), the
prompt template saved with the model or else PURE's prompt, greedy, 3,000 new tokens, seed 42,
stop at the model's EOS ids. It writes ``samples.jsonl``, ``run.json``, ``summary.json`` and
``summary.md`` under ``--output_dir`` and resumes an interrupted run there. Bad input (an unknown
benchmark, a missing field, a model path that does not exist, ``--device cuda`` without a GPU)
stops with exit status 2 before any work and before anything is written; the last line
printed by each command is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from openrlhf_pure.cli.logs import quiet_libraries
from openrlhf_pure.cli.validation import device_problem
from openrlhf_pure.evaluation.backend import BackendError
from openrlhf_pure.evaluation.benchmarks import BENCHMARKS, DataError
from openrlhf_pure.evaluation.runner import ConfigError, EvalConfig
from openrlhf_pure.evaluation.templates import TEMPLATES, TemplateError

USER_ERRORS = (ConfigError, DataError, TemplateError, BackendError)


def _int_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (sub-commands ``run``, ``regrade``, ``compare``)."""
    parser = argparse.ArgumentParser(prog="pure-eval", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="generate, grade and summarise")
    flag = run.add_argument
    flag("--model", required=True, help="model directory or hub name")
    flag("--tokenizer", default=None, help="tokenizer (default: the model's)")
    known = ", ".join(BENCHMARKS)
    flag("--benchmarks", default=None, help=f"comma list or 'all' (default: all; none with --dataset; known: {known})")
    flag("--data_dir", default=None, help="directory holding <benchmark>/test.jsonl (default: the repo's eval/data)")
    flag("--dataset", default=None, help="a user dataset: .jsonl/.parquet file or hub name (replaces the benchmarks)")
    flag("--dataset_name", default=None, help="its name in outputs (default: file stem)")
    flag("--dataset_split", default="test", help="hub split")
    flag("--problem_key", default=None, help="the user dataset's problem field (dotted keys reach into lists)")
    flag("--answer_key", default=None, help="the user dataset's gold-answer field")
    flag(
        "--template",
        default="auto",
        help=f"auto (saved with the model, else pure), {', '.join(TEMPLATES)}, or a format string with {{question}}",
    )
    flag("--backend", default="hf", choices=("hf", "vllm"))
    flag("--n", type=int, default=1, help="samples per problem")
    flag("--k", type=_int_list, default=None, help="pass@k values, comma list (default: 1 and n)")
    flag("--temperature", type=float, default=0.0, help="0 = greedy")
    flag("--top_p", type=float, default=1.0)
    flag("--max_new_tokens", type=int, default=3000)
    flag("--seed", type=int, default=42)
    flag("--batch_size", type=int, default=None, help="prompts per generation call (hf: 16, vllm: 512 x dp)")
    flag("--tp", type=int, default=1, help="vllm tensor-parallel size")
    flag("--dp", type=int, default=1, help="vllm data-parallel engines")
    flag("--dtype", default="auto", help="auto, float32, bfloat16, float16")
    flag("--device", default="auto", help="hf: auto, cpu, cuda, cuda:N")
    flag("--vllm.gpu_memory_utilization", dest="gpu_memory_utilization", type=float, default=0.9)
    flag("--vllm.max_model_len", dest="max_model_len", type=int, default=None)
    flag("--vllm.enforce_eager", dest="enforce_eager", action="store_true")
    flag("--limit", type=int, default=None, help="first N problems of each benchmark (smoke tests)")
    flag("--output_dir", default=None, help="default: runs/eval/<label or model name>")
    flag("--overwrite", action="store_true", help="discard the output directory's previous samples")
    flag("--label", default=None, help="the run's name in tables")
    _grader_flags(run)
    run.add_argument("--quiet", action="store_true", help="no progress bars")

    regrade = commands.add_parser("regrade", help="grade an existing outputs JSONL with no model")
    regrade.add_argument("input", metavar="IN.jsonl")
    regrade.add_argument("--out", required=True, metavar="OUT.jsonl", help="may equal IN (written atomically)")
    regrade.add_argument("--response_key", default="response")
    regrade.add_argument("--gold_key", default="gold")
    _grader_flags(regrade)
    regrade.add_argument("--quiet", action="store_true", help="no progress bar")

    compare = commands.add_parser("compare", help="several runs side by side (markdown and PNG)")
    compare.add_argument("runs", nargs="*", metavar="RUN", help="summary.json files or run output directories")
    compare.add_argument("--labels", default=None, help="comma list, one label per run")
    compare.add_argument(
        "--published", action="append", default=[], help="add a PURE Table 2 row, e.g. 'Qwen2.5-Math-7B/base'"
    )
    compare.add_argument("--out", default="compare", help="writes <out>.md and <out>.png")
    compare.add_argument("--title", default=None)
    return parser


def _grader_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--grader.workers", dest="grader_workers", type=int, default=None, help="grading processes")
    parser.add_argument("--grader.timeout_s", dest="grader_timeout_s", type=float, default=5.0, help="per-item limit")


def run_command(args: argparse.Namespace) -> int:
    """``run``: check everything, evaluate, print the summary."""
    from openrlhf_pure.core.grading import Grader
    from openrlhf_pure.evaluation.runner import run_evaluation
    from openrlhf_pure.evaluation.summary import run_label, summary_markdown

    problem = device_problem("--device", args.device) if args.backend == "hf" else None
    if problem is not None:
        raise ConfigError(problem)
    quiet_libraries(progress=not args.quiet)
    benchmarks = args.benchmarks
    if benchmarks is None:
        benchmarks = "" if args.dataset else "all"
        if args.dataset:
            print("note: --dataset without --benchmarks runs the dataset only (add --benchmarks all for the five)")
    names = tuple(BENCHMARKS) if benchmarks == "all" else tuple(b.strip() for b in benchmarks.split(",") if b.strip())
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        raise DataError(f"unknown benchmark(s) {', '.join(map(repr, unknown))}; known: {', '.join(BENCHMARKS)}")
    output_dir = args.output_dir or str(Path("runs/eval") / (args.label or Path(args.model.rstrip("/")).name))
    config = EvalConfig(
        model=args.model,
        output_dir=output_dir,
        benchmarks=names,
        tokenizer=args.tokenizer,
        template=args.template,
        backend=args.backend,
        n=args.n,
        k=args.k or tuple(sorted({1, args.n})),
        temperature=args.temperature,
        top_p=args.top_p,
        max_new_tokens=args.max_new_tokens,
        seed=args.seed,
        batch_size=args.batch_size,
        tp=args.tp,
        dp=args.dp,
        dtype=args.dtype,
        device=args.device,
        gpu_memory_utilization=args.gpu_memory_utilization,
        max_model_len=args.max_model_len,
        enforce_eager=args.enforce_eager,
        limit=args.limit,
        data_dir=args.data_dir,
        dataset=args.dataset,
        dataset_name=args.dataset_name,
        dataset_split=args.dataset_split,
        problem_key=args.problem_key,
        answer_key=args.answer_key,
        overwrite=args.overwrite,
        label=args.label,
    )
    with Grader(workers=args.grader_workers, timeout_s=args.grader_timeout_s) as grader:
        summary = run_evaluation(config, grader=grader, progress=not args.quiet)
    print(summary_markdown(summary))
    print(f"wrote {output_dir}/summary.md, summary.json, samples.jsonl")
    print(json.dumps({"run": run_label(summary), "scores": summary["scores"]}))
    return 0


def regrade_command(args: argparse.Namespace) -> int:
    """``regrade``: grade IN, write OUT, print the accuracy."""
    from openrlhf_pure.core.grading import Grader
    from openrlhf_pure.evaluation.regrade import regrade_file

    quiet_libraries(progress=not args.quiet)
    with Grader(workers=args.grader_workers, timeout_s=args.grader_timeout_s) as grader:
        result = regrade_file(args.input, args.out, grader, args.response_key, args.gold_key, progress=not args.quiet)
    for name, (correct, graded) in sorted(result.per_benchmark.items()):
        print(f"{name}: {100 * correct / graded:.1f}% ({correct}/{graded})")
    print(f"accuracy: {100 * result.accuracy:.1f}% ({result.correct}/{result.graded} graded, {result.rows} rows)")
    print(f"wrote {args.out}")
    report = {"accuracy": round(100 * result.accuracy, 1), "correct": result.correct, "graded": result.graded}
    print(json.dumps({**report, "rows": result.rows}))
    return 0


def compare_command(args: argparse.Namespace) -> int:
    """``compare``: write <out>.md and <out>.png, print the table."""
    from openrlhf_pure.evaluation.compare import compare_runs

    labels = [label.strip() for label in args.labels.split(",")] if args.labels else None
    published = [key.strip() for keys in args.published for key in keys.split(",") if key.strip()]
    markdown, md_path, png_path = compare_runs(args.runs, labels, published, args.out, args.title)
    print(markdown)
    print(f"wrote {md_path} and {png_path}")
    print(json.dumps({"markdown": str(md_path), "chart": str(png_path)}))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse and dispatch; returns the exit status (2 on bad input, with the reason on stderr)."""
    args = build_parser().parse_args(argv)
    command = {"run": run_command, "regrade": regrade_command, "compare": compare_command}[args.command]
    try:
        return command(args)
    except USER_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
