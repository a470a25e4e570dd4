"""Tables of the demo's runs over seeds: each seed's side-by-side table, then mean +- sd.

    python -m openrlhf_pure.cli.compare_runs runs/hack/seed*/result.json
    python -m openrlhf_pure.cli.compare_runs runs/hack/seed*/result.json --runs softmin/prm,sum/prm,vr

Reads the demo's ``result.json`` files (``python -m openrlhf_pure.cli.demo``); ``--runs`` keeps
those columns, in that order. Ends with one JSON line: {"seeds": n, "runs": {name: {figure:
[mean, sd, count]}}} (sd null where one seed has the figure). Exit status 2, one line per
problem, for a missing or malformed file or a run that a file lacks.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from openrlhf_pure.cli.errors import report_errors
from openrlhf_pure.engines.local.comparison import AGGREGATED, aggregate_table, comparison_table, mean_sd


def read_result(path: str, keep: list[str] | None) -> tuple[dict | None, str | None]:
    """(the demo result with only the kept runs, None) or (None, a one-line error naming the file)."""
    try:
        result = json.loads(Path(path).read_text())
    except FileNotFoundError:
        return None, f"{path}: no such file"
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        return None, f"{path}: not a demo result ({err})"
    if not isinstance(result, dict) or not isinstance(result.get("runs"), dict):
        return None, f"{path}: not a demo result (no 'runs' object)"
    if keep:
        missing = [name for name in keep if name not in result["runs"]]
        if missing:
            return None, f"{path}: no run {', '.join(missing)} (it has {', '.join(result['runs'])})"
        result = {**result, "runs": {name: result["runs"][name] for name in keep}}
    return result, None


def main(argv: list[str] | None = None) -> int:
    """Parse, read every file, print the tables and the JSON line; returns the exit status."""
    parser = argparse.ArgumentParser(description="Per-seed and mean +- sd tables of the demo's runs.")
    parser.add_argument("results", nargs="+", help="the demo's result.json files, one per seed")
    parser.add_argument("--runs", default=None, help="comma-separated run names to show (default: all)")
    args = parser.parse_args(argv)
    keep = [name.strip() for name in args.runs.split(",") if name.strip()] if args.runs else None
    results, errors = [], []
    for path in args.results:
        result, error = read_result(path, keep)
        if error:
            errors.append(error)
        else:
            results.append((path, result))
    if errors:
        return report_errors(errors)
    for path, result in results:
        held_out = next(iter(result["runs"].values()), {}).get("held_out", "?")
        print(f"== {path} ({result.get('seconds', 0):.0f} s)")
        print(comparison_table(result["runs"], held_out))
        print()
    print(aggregate_table([r for _, r in results]))
    names = list(results[0][1]["runs"])
    figures = {
        name: {label: mean_sd([get(r["runs"][name]) for _, r in results]) for label, get in AGGREGATED}
        for name in names
    }
    print(json.dumps({"seeds": len(results), "runs": figures}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
