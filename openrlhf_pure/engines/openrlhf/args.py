"""The command line of ``train_pure_ray``: OpenRLHF 0.11.2's PPO flags, unchanged, plus PURE's.

OpenRLHF builds its parser inline under ``if __name__ == "__main__":`` in
``openrlhf/cli/train_ppo_ray.py``, followed by a block that normalises and checks the parsed
arguments, then ``train(args)``. Neither is importable, and importing that module pulls in Ray,
vLLM and DeepSpeed. So we read the installed file's syntax tree and execute only its own
statements, never a copy of them:

- the parser: the main block's statements before ``args = parser.parse_args()``, after the
  module's standard-library imports (``argparse``, ``datetime``, ...; its Ray, vLLM and
  DeepSpeed imports are skipped), which yields OpenRLHF's exact parser, loops included;
- the normalisation: the statements after ``args = hierarchize(args)`` and before the final
  ``train(args)`` (defaults filled in, warnings printed, OpenRLHF's own assertions).

``hierarchize`` (dotted names -> nested namespaces) is loaded from its file so that a dry run
does not import ``openrlhf.utils``, whose package imports transformers. If a future OpenRLHF
reshapes its main block, :func:`openrlhf_main_block` fails with a message naming what it did
not find, and the parity test (``tests/openrlhf/test_openrlhf_args.py``) compares every flag
against an independent extraction (the module run as ``__main__`` with ``parse_args`` trapped).

PURE's flags use OpenRLHF's dotted style under ``--pure.*`` (see :func:`add_pure_arguments`).
"""

from __future__ import annotations

import argparse
import ast
import codecs
import importlib.util
import sys
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace

OPENRLHF_CLI = "openrlhf.cli.train_ppo_ray"
REWARD_MODES = ("prm", "vr", "prm_vr")
PRM_OVERFLOW = ("truncate", "error")  # engines.prm_scorer.OVERFLOW_POLICIES, without importing the PRM code


class OpenRLHFLayoutError(RuntimeError):
    """The installed OpenRLHF's ``train_ppo_ray`` main block is not shaped as expected."""


def _module_file(name: str) -> Path:
    spec = importlib.util.find_spec(name.rpartition(".")[0])  # the package, not the module: no import
    if spec is None or not spec.submodule_search_locations:
        raise OpenRLHFLayoutError(f"cannot find the installed package of {name}; is OpenRLHF 0.11.2 installed?")
    return Path(next(iter(spec.submodule_search_locations))) / (name.rpartition(".")[2] + ".py")


def _is_main_guard(node: ast.stmt) -> bool:
    return isinstance(node, ast.If) and ast.unparse(node.test).replace("'", '"') == '__name__ == "__main__"'


def _assigns_args(node: ast.stmt, call: str) -> bool:
    return (
        isinstance(node, ast.Assign)
        and [ast.unparse(t) for t in node.targets] == ["args"]
        and isinstance(node.value, ast.Call)
        and ast.unparse(node.value.func) == call
    )


def _stdlib_import(node: ast.stmt) -> bool:
    if isinstance(node, ast.Import):
        return all(alias.name.split(".")[0] in sys.stdlib_module_names for alias in node.names)
    return isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in sys.stdlib_module_names


@lru_cache(maxsize=1)
def openrlhf_main_block() -> tuple[list[ast.stmt], list[ast.stmt]]:
    """The statements of OpenRLHF's ``train_ppo_ray`` that we execute.

    Returns:
        (parser statements, normalisation statements), each a list of AST statements; the
        parser statements start with the module's top-level standard-library imports.
    Raises:
        OpenRLHFLayoutError naming the landmark that is missing.
    """
    path = _module_file(OPENRLHF_CLI)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    guards = [node for node in tree.body if _is_main_guard(node)]
    if len(guards) != 1:
        raise OpenRLHFLayoutError(f"{path}: expected one `if __name__ == '__main__':` block, found {len(guards)}")
    body = guards[0].body
    parse_at = next((i for i, n in enumerate(body) if _assigns_args(n, "parser.parse_args")), None)
    hier_at = next((i for i, n in enumerate(body) if _assigns_args(n, "hierarchize")), None)
    if parse_at is None or hier_at is None or hier_at < parse_at:
        raise OpenRLHFLayoutError(f"{path}: main block lacks `args = parser.parse_args()` then `hierarchize(args)`")
    tail = body[hier_at + 1 :]
    if not tail or ast.unparse(tail[-1]) != "train(args)":
        raise OpenRLHFLayoutError(f"{path}: main block does not end with `train(args)`")
    imports = [node for node in tree.body if _stdlib_import(node)]
    return imports + body[:parse_at], tail[:-1]


def _run(statements: list[ast.stmt], namespace: dict, label: str) -> dict:
    module = ast.Module(body=statements, type_ignores=[])
    exec(
        compile(module, f"<{OPENRLHF_CLI} {label}>", "exec"), namespace
    )  # OpenRLHF's statements, from its installed file
    return namespace


def build_openrlhf_parser() -> argparse.ArgumentParser:
    """OpenRLHF 0.11.2's ``train_ppo_ray`` parser, built by its own statements."""
    namespace = _run(openrlhf_main_block()[0], {}, "parser")
    if not isinstance(namespace.get("parser"), argparse.ArgumentParser):
        raise OpenRLHFLayoutError("OpenRLHF's parser statements did not define `parser`")
    return namespace["parser"]


@lru_cache(maxsize=1)
def _hierarchize():
    path = _module_file("openrlhf.utils.config")
    spec = importlib.util.spec_from_file_location("_openrlhf_utils_config", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.hierarchize


def hierarchize(flat: argparse.Namespace) -> SimpleNamespace:
    """OpenRLHF's ``hierarchize``: ``{"actor.adam.lr": x}`` -> ``args.actor.adam.lr == x``."""
    return _hierarchize()(flat)


def normalize_openrlhf_args(args: SimpleNamespace) -> SimpleNamespace:
    """Run OpenRLHF's own post-parse block on ``args`` (in place; returns it).

    Raises:
        AssertionError with OpenRLHF's message when one of its checks fails.
    """
    _run(openrlhf_main_block()[1], {"args": args}, "normalisation")
    return args


# --- PURE's flags ---------------------------------------------------------------------------


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _separator(text: str) -> str:
    """Accept a real "\\n\\n" or its escaped spelling (shells make the latter easier to pass)."""
    return codecs.decode(text, "unicode_escape") if "\\" in text else text


parse_bool, parse_separator = _bool, _separator  # the same flag types in pure-train (cli/train_local.py)


def add_pure_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add PURE's ``--pure.*`` flags (and ``--dry_run``) to ``parser``; returns it.

    Registry-backed choices (credit modes, baselines, presets, ...) are read from the core's
    registries. With ``--pure.preset`` the rewards-to-advantages flags (``FLAG_FIELDS`` of
    ``engines.advantage_flags``, including ``--algo.kl.init_coef`` and ``--algo.kl.estimator``)
    take the preset's values unless given on the command line.
    """
    from openrlhf_pure.core.advantages import MASKED_TOKENS
    from openrlhf_pure.core.baselines import PR_BASELINES, RETURN_BASELINES, STEP_TOKEN_COUNTS
    from openrlhf_pure.core.credit import CREDIT_MODES
    from openrlhf_pure.core.presets import PRESETS
    from openrlhf_pure.core.returns import TOKEN_RETURNS
    from openrlhf_pure.core.verifiable import VR_ESTIMATORS
    from openrlhf_pure.core.whitening import WHITENING
    from openrlhf_pure.models.prm_families import PRM_FAMILIES
    from openrlhf_pure.models.prm_scores import TRANSFORM_NAMES

    group = parser.add_argument_group("PURE", "process rewards, min-form credit assignment, verifiable rewards")
    add = group.add_argument
    add("--pure.reward_mode", choices=REWARD_MODES, default="prm_vr", help="PURE-PRM, PURE-VR or PURE-PRM+VR")
    add("--pure.prm.model_name_or_path", default=None, help="PRM checkpoint (HF path or hub name); not used by vr")
    add(
        "--pure.prm.family",
        choices=PRM_FAMILIES.names(),
        default=None,
        help="PRM family (head, step format, score); default: detected from the PRM's config.json",
    )
    add("--pure.prm.format", default=None, help="PRM step format (default: saved with the PRM, or its family's)")
    add(
        "--pure.prm.score_transform",
        choices=TRANSFORM_NAMES,
        default="auto",
        help="map of the PRM's native score to credit assignment's scale: auto (2p-1 for probabilities), 2p-1, none",
    )
    add("--pure.prm.num_replicas", type=int, default=1, help="PRM replicas (data parallel, load balanced)")
    add("--pure.prm.num_gpus_per_replica", type=float, default=1.0, help="GPUs per PRM replica; <1 to share")
    add("--pure.prm.colocate", action="store_true", default=False, help="place PRM replicas on the actor/ref GPUs")
    add("--pure.prm.max_tokens_per_batch", type=int, default=32768, help="token budget of one PRM forward pass")
    add("--pure.prm.max_restarts", type=int, default=3, help="restarts of a dead PRM replica (its batch is retried)")
    add("--pure.prm.max_length", type=int, default=None, help="PRM context in tokens (default: its max positions)")
    add("--pure.prm.overflow", choices=PRM_OVERFLOW, default="truncate",
        help="a PRM input past the context: truncate (later steps get the last score; logged as "
             "pure/prm/truncated_ratio) or error")  # fmt: skip
    add("--pure.prm.offload", action="store_true", default=False, help="PRM on the CPU between scorings (colocated)")
    add(
        "--pure.prm.trust_remote_code",
        action="store_true",
        default=False,
        help="let the policy tokenizer run code shipped with its checkpoint (in the PRM replicas)",
    )
    add("--pure.preset", choices=PRESETS.names(), default=None,
        help="the whole advantage configuration: the project's default or an author implementation (docs/presets.md);"
        " the flags below override it only when given")  # fmt: skip
    add("--pure.credit.mode", choices=CREDIT_MODES.names(), default="softmin", help="credit assignment (Eq. 3/5)")
    add("--pure.credit.temperature", type=float, default=0.1, help="softmin temperature T (Eq. 5)")
    add("--pure.credit.gamma", type=float, default=1.0, help="step discount of the sum and softmin modes")
    add("--pure.pr_coef", type=float, default=1.0, help="coefficient of the process rewards")
    add("--pure.vr_coef", type=float, default=1.0, help="coefficient of the verifiable reward")
    add("--pure.pr_baseline", choices=PR_BASELINES.names(), default="token", help="process-reward baseline")
    add("--pure.step_token_count", choices=STEP_TOKEN_COUNTS.names(), default="with_closing",
        help="tokens the token baseline charges a step for")  # fmt: skip
    add("--pure.vr.estimator", choices=VR_ESTIMATORS.names(), default=None,
        help="VR baseline (default: from --algo.advantage.estimator, rloo -> rloo, group_norm -> grpo)")  # fmt: skip
    add("--pure.kl.clamp", type=float, default=None, help="clamp each KL estimate to [-c, c] (default: no clamp)")
    add("--pure.token_returns", choices=TOKEN_RETURNS.names(), default="sum", help="token returns: sum or running_min")
    add("--pure.return_baseline", choices=RETURN_BASELINES.names(), default="none",
        help="a baseline over the returns of all rewards (verl's max_len)")  # fmt: skip
    add("--pure.max_len", type=int, default=None, help="N of the max_len baseline (default: rollout.max_new_tokens)")
    add("--pure.mask_reward_tokens", type=_bool, default=True, help="zero advantages on reward tokens (true/false)")
    add("--pure.mask_tokens", choices=MASKED_TOKENS.names(), default="reward",
        help="which tokens: reward (those carrying rewards) or closing (every step-closing token)")  # fmt: skip
    add("--pure.whiten", type=_bool, default=True, help="whiten advantages over the batch (true/false)")
    add("--pure.whitening", choices=WHITENING.names(), default="masked", help="whitening variant")
    add("--pure.step_separator", type=_separator, default="\n\n", help='step separator; "\\n\\n" escapes accepted')
    add("--pure.vr.visible_fraction", type=float, default=None, help="draw visible answers (default: the data flag)")
    add("--pure.vr.visible_seed", type=int, default=0, help="seed of the visible-answer draw")
    add("--pure.data.answer_key", default="gt_answer", help="answer field of an object label")
    add("--pure.data.visible_key", default="pure_vr_answer_visible", help="visibility field of an object label")
    add("--pure.dump_rollouts", default=None, help="folder: each step's rollouts, rewards, advantages (.pt)")
    add("--pure.gpu_memory_gb", type=float, default=80.0, help="memory of one GPU, for --dry_run's estimate")
    parser.add_argument("--dry_run", action="store_true", default=False, help="validate, print the plan, exit")
    return parser


def build_parser() -> argparse.ArgumentParser:
    """OpenRLHF's PPO parser with PURE's flags added."""
    parser = build_openrlhf_parser()
    parser.prog = "python -m openrlhf_pure.cli.train_pure_ray"
    parser.description = "PURE (min-form credit assignment for PRMs) on OpenRLHF's Ray PPO"
    return add_pure_arguments(parser)


def namespace_to_dict(args) -> dict:
    """Nested ``SimpleNamespace`` -> nested dict (for printing and JSON)."""
    if isinstance(args, SimpleNamespace | argparse.Namespace):
        return {key: namespace_to_dict(value) for key, value in vars(args).items()}
    if isinstance(args, list | tuple):
        return [namespace_to_dict(v) for v in args]
    return args
