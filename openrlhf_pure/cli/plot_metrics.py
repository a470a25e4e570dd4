"""Turn metrics JSONL files into training-dynamics plots (PNG): RL runs and PRM training runs.

python -m openrlhf_pure.cli.plot_metrics runs/a/metrics.jsonl runs/b/metrics.jsonl --labels sum softmin --out cmp.png

Exit status 2, with one line per problem, for a missing, empty or malformed file (file and line).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from openrlhf_pure.cli.errors import report_errors
from openrlhf_pure.engines.plots import MetricsFileError, plot_runs, read_metrics


def default_labels(paths: list[str]) -> list[str]:
    """A label per file: its folder's name, with as many folders above it as make the labels distinct.

    runs/demo/runs/sum/rl/metrics.jsonl and runs/demo/runs/vr/rl/metrics.jsonl -> "sum/rl", "vr/rl".
    """
    parts = [Path(p).resolve().parent.parts for p in paths]
    for depth in range(1, max(len(q) for q in parts) + 1):
        labels = ["/".join(q[-depth:]) for q in parts]
        if len(set(labels)) == len(labels):
            return labels
    return [str(Path(p)) for p in paths]  # the same file twice: main refuses the repeated label


def main(argv: list[str] | None = None) -> int:
    """Parse, read every file, draw; prints the PNG's path; returns the exit status."""
    parser = argparse.ArgumentParser(description="Plot training dynamics from metrics.jsonl files.")
    parser.add_argument("metrics", nargs="+", help="metrics.jsonl files (one per run; RL or PRM training)")
    parser.add_argument("--labels", nargs="*", help="a label per file (default: folder names that tell them apart)")
    parser.add_argument("--out", default="training_dynamics.png", help="the PNG to write")
    parser.add_argument("--title", default=None)
    args = parser.parse_args(argv)
    labels = args.labels or default_labels(args.metrics)
    if len(labels) != len(args.metrics):
        return report_errors([f"{len(args.metrics)} metrics files but {len(labels)} labels"])
    if len(set(labels)) != len(labels):
        where = "--labels" if args.labels else "the files (one is given twice)"
        return report_errors([f"{where}: each run needs its own label, got {' '.join(labels)}"])
    runs, errors = {}, []
    for label, path in zip(labels, args.metrics):
        try:
            if not Path(path).is_file():
                raise MetricsFileError(f"no such metrics file: {path}")
            runs[label] = read_metrics(path)
        except MetricsFileError as err:
            errors.append(str(err))
    if errors:
        return report_errors(errors)
    try:
        out = plot_runs(runs, args.out, title=args.title)
    except MetricsFileError as err:
        return report_errors([str(err)])
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
