"""``--pure.preset`` and the flags that override it, shared by the entry points.

A preset (``core.presets``) fixes the whole rewards-to-advantages configuration; a flag given on
the command line overrides its field; a flag left at its default does not. Without a preset,
every flag keeps its meaning and default as before. ``FLAG_FIELDS`` maps each flag (its argparse
destination, in OpenRLHF's dotted style) to the :class:`AdvantageConfig` field it sets; the
same names are used by ``train_pure_ray`` and ``pure-train``.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping

from openrlhf_pure.core.advantages import AdvantageConfig

FLAG_FIELDS = {
    "pure.credit.mode": "credit.mode",
    "pure.credit.temperature": "credit.temperature",
    "pure.credit.gamma": "credit.gamma",
    "pure.pr_coef": "pr_coef",
    "pure.pr_baseline": "pr_baseline",
    "pure.step_token_count": "step_token_count",
    "pure.vr_coef": "vr_coef",
    "pure.vr.estimator": "vr_estimator",
    "algo.kl.init_coef": "kl_coef",
    "algo.kl.estimator": "kl_estimator",
    "pure.kl.clamp": "kl_clamp",
    "pure.token_returns": "token_returns",
    "pure.return_baseline": "return_baseline",
    "pure.mask_reward_tokens": "mask_reward_tokens",
    "pure.mask_tokens": "mask_tokens",
    "pure.whiten": "whiten",
    "pure.whitening": "whitening",
}


def explicit_dests(parser: argparse.ArgumentParser, argv: list[str] | None) -> set[str]:
    """Destinations of the options given on the command line ``argv`` (not left at their defaults).

    Parses ``argv`` a second time with every default suppressed, so that only what the user
    typed lands in the namespace (abbreviations and ``--flag=value`` included).
    """
    saved = [(action, action.default) for action in parser._actions]
    try:
        for action, _ in saved:
            action.default = argparse.SUPPRESS
        given, _ = parser.parse_known_args(argv)
    finally:
        for action, default in saved:
            action.default = default
    return set(vars(given))


def flat_fields(config: AdvantageConfig) -> dict:
    """Every field by its dotted name ("credit.mode", ..., "whitening")."""
    values = config.to_dict()
    credit = values.pop("credit")
    return {**{f"credit.{k}": v for k, v in credit.items()}, **values}


def resolve_advantage(preset: str | None, flag_values: Mapping[str, object], given: Iterable[str]) -> AdvantageConfig:
    """The configuration of a run.

    Args:
        preset: a ``core.presets`` name, or None (no preset: every flag value applies).
        flag_values: flag destination -> value, for destinations in ``FLAG_FIELDS``.
        given: the destinations given on the command line (see :func:`explicit_dests`).
    Raises:
        ValueError on an unknown preset or an invalid value, naming it.
    """
    given = set(given)
    chosen = {dest: v for dest, v in flag_values.items() if preset is None or dest in given}
    config = AdvantageConfig.preset(preset or "default")
    return config.with_overrides({FLAG_FIELDS[dest]: value for dest, value in chosen.items()})


def preset_values(preset: str, given: Iterable[str]) -> dict:
    """Flag destination -> the preset's value, for every flag of ``FLAG_FIELDS`` not in ``given``."""
    fields, given = flat_fields(AdvantageConfig.preset(preset)), set(given)
    return {dest: fields[field] for dest, field in FLAG_FIELDS.items() if dest not in given}
