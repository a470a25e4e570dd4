"""PRM families: which head, step format and score a published PRM needs, and how to tell (issue 11).

A family is a head (``prm_heads.HEADS``), a step format (``step_formats.STEP_FORMATS``) and a
native score (``prm_scores.SCORE_FUNCTIONS``); registry ``PRM_FAMILIES`` (a new family is one
:class:`PRMFamily` plus, if new, a head and a format); (head, format, native score):

- ``pure`` (classifier, pure, p_diff): jinachris/PURE-PRM-7B,
  HuggingFaceH4/Qwen2.5-Math-{1.5B,7B}-Instruct-PRM-0.2, and the PRMs trained here;
- ``qwen_prm`` (two_layer, qwen_prm, p_correct): Qwen/Qwen2.5-Math-PRM-7B, -72B,
  Qwen/Qwen2.5-Math-7B-PRM800K;
- ``math_shepherd`` (lm_candidates, math_shepherd, p_correct):
  peiyi9979/math-shepherd-mistral-7b-prm, OpenRLHF/Mistral-7b-PRM-Math-Shepherd;
- ``rlhflow`` (lm_candidates, rlhflow, p_correct): RLHFlow/Llama3.1-8B-PRM-{Mistral,Deepseek}-Data;
- ``skywork`` (value, skywork, sigmoid): Skywork/Skywork-o1-Open-PRM-Qwen-2.5-{1.5B,7B}.

Detection (:func:`detect_family`) reads the checkpoint's ``config.json``; the first rule of
``DETECTORS`` that places it wins:

1. the project's own ``pure_prm`` key (written by ``ProcessRewardModel.save_pretrained``);
2. ``architectures``: ``...ForTokenClassification`` -> pure, ``Qwen2ForProcessRewardModel`` ->
   qwen_prm, ``Qwen2ForPrmModel`` / ``Qwen2ForRewardModel`` -> skywork. Where the checkpoint's
   tensor headers are readable, the family's head keys must be among them (so Qwen's outcome
   RM, also a ``Qwen2ForRewardModel``, is not taken for Skywork's PRM);
3. ``auto_map``: the same class names in the remote-code references;
4. the published name (the path's last ``org/name``, or the config's ``_name_or_path``; or the
   folder name alone when only one family publishes it): Math-Shepherd and RLHFlow are plain
   causal LMs, which only their names place.

Otherwise :class:`PRMFamilyError` names what was found and the flag to set.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from openrlhf_pure.core.registry import Registry
from openrlhf_pure.models.prm_heads import HEADS, checkpoint_shapes

FAMILY_FLAG = "--pure.prm.family (pure-eval-prm, pure-serve-prm: --prm.family)"


class PRMFamilyError(ValueError):
    """A checkpoint that no family rule places, or a family that does not fit it."""


@dataclass(frozen=True)
class PRMFamily:
    """A family of published PRMs.

    Args:
        name: registry name (the value of the family flag).
        head, step_format, score: names in the head, format and score registries.
        architectures: ``config.json`` class names that place a checkpoint here.
        checkpoints: published checkpoint names (also placed by name).
    """

    name: str
    head: str
    step_format: str
    score: str
    architectures: tuple[str, ...] = ()
    checkpoints: tuple[str, ...] = ()


PRM_FAMILIES: Registry = Registry("PRM family")
for _family in (
    PRMFamily("pure", "classifier", "pure", "p_diff", ("*ForTokenClassification",),
              ("jinachris/PURE-PRM-7B", "jinachris/Qwen2.5-Math-7B-PRM800K",
               "HuggingFaceH4/Qwen2.5-Math-1.5B-Instruct-PRM-0.2", "HuggingFaceH4/Qwen2.5-Math-7B-Instruct-PRM-0.2")),
    PRMFamily("qwen_prm", "two_layer", "qwen_prm", "p_correct", ("Qwen2ForProcessRewardModel",),
              ("Qwen/Qwen2.5-Math-PRM-7B", "Qwen/Qwen2.5-Math-PRM-72B", "Qwen/Qwen2.5-Math-7B-PRM800K")),
    PRMFamily("math_shepherd", "lm_candidates", "math_shepherd", "p_correct", (),
              ("peiyi9979/math-shepherd-mistral-7b-prm", "OpenRLHF/Mistral-7b-PRM-Math-Shepherd")),
    PRMFamily("rlhflow", "lm_candidates", "rlhflow", "p_correct", (),
              ("RLHFlow/Llama3.1-8B-PRM-Mistral-Data", "RLHFlow/Llama3.1-8B-PRM-Deepseek-Data")),
    PRMFamily("skywork", "value", "skywork", "sigmoid", ("Qwen2ForPrmModel", "Qwen2ForRewardModel"),
              ("Skywork/Skywork-o1-Open-PRM-Qwen-2.5-1.5B", "Skywork/Skywork-o1-Open-PRM-Qwen-2.5-7B")),
):  # fmt: skip
    PRM_FAMILIES.register(_family.name)(_family)


def families() -> list[PRMFamily]:
    """Every registered family, in registration order."""
    return [PRM_FAMILIES.get(name) for name in PRM_FAMILIES.names()]


def _matches(pattern: str, name: str) -> bool:
    return name.endswith(pattern[1:]) if pattern.startswith("*") else name == pattern


# ---------------------------------------------------------------------------------------------
# Detection rules: (config dict, checkpoint path) -> family name or None


DETECTORS: Registry = Registry("PRM family detector")


def saved_family(saved: dict) -> str:
    """The family of a ``pure_prm`` config entry (entries written before families name none)."""
    if saved.get("family"):
        return saved["family"]
    head, fmt = saved.get("head"), saved.get("step_format")
    by_format = [f.name for f in families() if f.head == head and f.step_format == fmt]
    by_head = [f.name for f in families() if f.head == head]
    return (by_format or by_head or ["pure"])[0]


@DETECTORS.register("pure_prm key")
def detect_saved(config: dict, path: str) -> str | None:
    """A PRM saved by this project names its settings under ``pure_prm``."""
    saved = config.get("pure_prm")
    return saved_family(saved) if isinstance(saved, dict) else None


def _by_class_names(names: list[str], path: str) -> str | None:
    matched = [f for f in families() for n in names for p in f.architectures if _matches(p, n)]
    if not matched:
        return None
    shapes = checkpoint_shapes(path)
    if shapes is None:
        return matched[0].name
    for family in matched:
        if set(HEADS.get(family.head).shapes(SimpleNamespace(hidden_size=0))) <= set(shapes):  # key names only
            return family.name
    head_like = sorted(k for k in shapes if not k.startswith(("model.", "transformer.")))
    raise PRMFamilyError(
        f"{path}: {names} names the {', '.join(f.name for f in matched)} family, but the checkpoint lacks "
        f"that head's weights (non-backbone keys found: {head_like or 'none'}); if it is a PRM of another "
        f"family, set {FAMILY_FLAG}"
    )


@DETECTORS.register("architectures")
def detect_architectures(config: dict, path: str) -> str | None:
    """Published class names in ``architectures``."""
    return _by_class_names(list(config.get("architectures") or []), path)


@DETECTORS.register("auto_map")
def detect_auto_map(config: dict, path: str) -> str | None:
    """Published class names in the remote-code references of ``auto_map``."""
    refs = [str(v).rsplit(".", 1)[-1] for v in (config.get("auto_map") or {}).values()]
    return _by_class_names(refs, path)


@DETECTORS.register("published name")
def detect_name(config: dict, path: str) -> str | None:
    """A published checkpoint name: the path's last ``org/name`` or the config's ``_name_or_path``, else
    the folder name alone when it belongs to one family only (a local copy such as ``/models/NAME``)."""
    tails = [Path(str(path)).parts[-2:], Path(str(config.get("_name_or_path", ""))).parts[-2:]]
    names = {"/".join(t).lower() for t in tails if t}
    for family in families():
        if names & {c.lower() for c in family.checkpoints}:
            return family.name
    folders = {t[-1].lower() for t in tails if t}
    owners = {f.name for f in families() for c in f.checkpoints if c.rsplit("/", 1)[-1].lower() in folders}
    return owners.pop() if len(owners) == 1 else None


def read_config(path: str) -> dict:
    """The checkpoint's ``config.json`` as a dict (a local folder or a hub name)."""
    folder = Path(path).expanduser()
    if folder.is_dir():
        file = folder / "config.json"
        if not file.is_file():
            raise PRMFamilyError(f"{path}: no config.json, not a model folder")
    else:
        from transformers.utils import cached_file

        file = Path(cached_file(str(path), "config.json"))
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except ValueError as err:
        raise PRMFamilyError(f"{file}: not valid JSON ({err})") from None


def detect_family(path: str, config: dict | None = None) -> tuple[str, str]:
    """(family name, the rule that placed it) for the checkpoint at ``path``.

    Raises:
        PRMFamilyError naming the architectures, auto_map and key found, and the flag to set.
    """
    config = read_config(path) if config is None else config
    for rule in DETECTORS.names():
        family = DETECTORS.get(rule)(config, path)
        if family is not None:
            PRM_FAMILIES.get(family)
            return family, rule
    raise PRMFamilyError(
        f"{path}: cannot tell which PRM family this checkpoint is: architectures "
        f"{config.get('architectures')}, auto_map {config.get('auto_map')}, no 'pure_prm' key, not a published "
        f"name. Set {FAMILY_FLAG} to one of: {', '.join(PRM_FAMILIES.names())} (math_shepherd and rlhflow "
        f"are plain causal LMs: their checkpoints need the flag unless loaded by their published names)"
    )


def family_problem(flag: str, path: str, family: str | None) -> str | None:
    """Why the family of a local PRM folder cannot be detected, as a message naming ``flag``; None when
    it can, when ``family`` is given, or when ``path`` is not a local model folder (checked at load time)."""
    if family is not None or not (Path(path).expanduser() / "config.json").is_file():
        return None
    try:
        detect_family(path)
    except PRMFamilyError as err:
        return f"{flag}: {err}"
    return None
