"""PRM data tools.

    python -m openrlhf_pure.cli.prm_data convert-prm800k phase2_train.jsonl [...] --out prm800k_trl.jsonl

``convert-prm800k`` turns PRM800K raw label files into TRL-format stepwise JSONL (prompt,
completions, labels), written atomically, under the rules of :mod:`openrlhf_pure.data.prm800k`,
and prints the report: lines read, rows written, lines excluded per reason, notes on kept lines.
The last line printed is the report as one JSON object. Exit status 2 on a malformed line
(the message names file and line; ``--skip-bad-rows`` counts such lines instead).
"""

from __future__ import annotations

import argparse
import json
import sys

from openrlhf_pure.data.prm800k import Prm800kOptions, convert_prm800k
from openrlhf_pure.data.stepwise import DataFormatError


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (one sub-command per tool)."""
    parser = argparse.ArgumentParser(prog="python -m openrlhf_pure.cli.prm_data", description=__doc__.split("\n")[0])
    tools = parser.add_subparsers(dest="command", required=True)
    convert = tools.add_parser("convert-prm800k", help="PRM800K raw JSONL -> TRL stepwise JSONL")
    convert.add_argument("inputs", nargs="+", metavar="IN", help="PRM800K phase1/phase2 JSONL files")
    convert.add_argument("--out", required=True, help="output JSONL (TRL format)")
    flag = convert.add_argument
    flag("--include-quality-control", action="store_true", help="keep quality-control lines")
    flag("--include-screening", action="store_true", help="keep initial-screening lines")
    flag("--include-bad-problem", action="store_true", help="keep lines finished as bad_problem")
    flag("--include-give-up", action="store_true", help="keep lines finished as give_up (their rated prefix)")
    flag("--drop-unrated", action="store_true", help="exclude lines with an unrated chosen step (default: keep prefix)")
    flag("--neutral-is-incorrect", action="store_true", help="rating 0 counts as incorrect (default: correct)")
    flag("--follow-human-completion", action="store_true", help="continue through phase-1 human steps")
    flag("--branch-alternatives", action="store_true", help="also emit a row per rated completion not taken")
    flag("--keep-duplicates", action="store_true", help="write identical rows every time (default: once)")
    flag("--skip-bad-rows", action="store_true", help="count malformed lines instead of stopping")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse, convert, print the report; returns the exit status."""
    args = build_parser().parse_args(argv)
    options = Prm800kOptions(
        include_quality_control=args.include_quality_control,
        include_screening=args.include_screening,
        include_bad_problem=args.include_bad_problem,
        include_give_up=args.include_give_up,
        keep_unrated_prefix=not args.drop_unrated,
        neutral_is_correct=not args.neutral_is_incorrect,
        follow_human_completion=args.follow_human_completion,
        branch_alternatives=args.branch_alternatives,
        deduplicate=not args.keep_duplicates,
        on_bad_row="skip" if args.skip_bad_rows else "raise",
    )
    try:
        report = convert_prm800k(args.inputs, args.out, options)
    except (DataFormatError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(report.summary())
    print(f"wrote {args.out}")
    print(json.dumps(report.to_dict(), sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
