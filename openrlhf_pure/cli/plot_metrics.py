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


def main(argv: list[str] | None = None) -> int:
    """Parse, read every file, draw; prints the PNG's path; returns the exit status."""
    parser = argparse.ArgumentParser(description="Plot training dynamics from metrics.jsonl files.")
    parser.add_argument("metrics", nargs="+", help="metrics.jsonl files (one per run; RL or PRM training)")
    parser.add_argument("--labels", nargs="*", help="a label per file (default: the file's folder name)")
    parser.add_argument("--out", default="training_dynamics.png", help="the PNG to write")
    parser.add_argument("--title", default=None)
    args = parser.parse_args(argv)
    labels = args.labels or [Path(p).resolve().parent.name for p in args.metrics]
    if len(labels) != len(args.metrics):
        return report_errors([f"{len(args.metrics)} metrics files but {len(labels)} labels"])
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
