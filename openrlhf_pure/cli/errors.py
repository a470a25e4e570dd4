"""How the CLIs report invalid input: every problem on its own line, then exit status 2."""

from __future__ import annotations

import sys


def report_errors(errors: list[str]) -> int:
    """Print each error as ``error: ...`` on stderr; returns the exit status 2."""
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    return 2
