"""Print the flags of the installed OpenRLHF ``train_ppo_ray`` as JSON, extracted independently of
``openrlhf_pure``: the module runs as ``__main__`` (its imports included) and ``parse_args`` is
trapped, so the parser is the one OpenRLHF itself would parse with.

    PYTHONPATH=tests/openrlhf/stubs python tests/openrlhf/dump_openrlhf_flags.py
"""

from __future__ import annotations

import argparse
import json
import runpy


class Trapped(Exception):
    """Carries the parser out of OpenRLHF's main block."""


def describe(action: argparse.Action) -> dict:
    """Everything that defines a flag's name and meaning, JSON-comparable."""
    kind = action.type
    return {
        "options": list(action.option_strings),
        "dest": action.dest,
        "action": type(action).__name__,
        "default": repr(action.default),
        "type": getattr(kind, "__name__", repr(kind)) if kind is not None else None,
        "choices": list(action.choices) if action.choices is not None else None,
        "nargs": action.nargs,
        "const": repr(action.const),
        "required": action.required,
        "help": action.help,
    }


def openrlhf_flags() -> list[dict]:
    def trap(self, *args, **kwargs):
        raise Trapped(self)

    argparse.ArgumentParser.parse_args = trap
    try:
        runpy.run_module("openrlhf.cli.train_ppo_ray", run_name="__main__")
    except Trapped as trapped:
        return [describe(a) for a in trapped.args[0]._actions]
    raise RuntimeError("OpenRLHF's main block never called parse_args")


if __name__ == "__main__":
    print(json.dumps(openrlhf_flags()))
