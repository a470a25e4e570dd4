"""Turn metrics JSONL files into training-dynamics plots (PNG).

python -m openrlhf_pure.cli.plot_metrics runs/a/metrics.jsonl runs/b/metrics.jsonl --labels sum softmin --out cmp.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

from openrlhf_pure.engines.plots import plot_runs, read_metrics


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description="Plot training dynamics from metrics.jsonl files.")
    parser.add_argument("metrics", nargs="+", help="metrics.jsonl files (one per run)")
    parser.add_argument("--labels", nargs="*", help="a label per file (default: the file's folder name)")
    parser.add_argument("--out", default="training_dynamics.png", help="the PNG to write")
    parser.add_argument("--title", default=None)
    args = parser.parse_args(argv)
    labels = args.labels or [Path(p).resolve().parent.name for p in args.metrics]
    if len(labels) != len(args.metrics):
        parser.error(f"{len(args.metrics)} metrics files but {len(labels)} labels")
    for path in args.metrics:
        if not Path(path).is_file():
            parser.error(f"no such metrics file: {path}")
    out = plot_runs({label: read_metrics(p) for label, p in zip(labels, args.metrics)}, args.out, title=args.title)
    print(out)
    return out


if __name__ == "__main__":
    main()
