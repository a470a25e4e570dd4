"""The demo's RL runs: ``credit[/mode][@preset]`` specs and the advantage configuration of each."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from openrlhf_pure.core.advantages import AdvantageConfig
from openrlhf_pure.core.credit import CREDIT_MODES
from openrlhf_pure.core.presets import PRESETS
from openrlhf_pure.engines.local.trainer import MODES

if TYPE_CHECKING:
    from openrlhf_pure.engines.local.demo import DemoConfig


@dataclass(frozen=True)
class RunSpec:
    """One RL run of the demo: its name (the JSON key), mode, credit mode and preset."""

    name: str
    mode: str
    credit: str
    preset: str | None


def parse_run(spec: str, mode: str, preset: str | None) -> RunSpec:
    """``credit[/mode][@preset]`` or ``vr[@preset]`` -> a :class:`RunSpec` (``mode``/``preset``: defaults).

    Examples: "softmin" (PURE-PRM+VR by default), "sum/prm", "sum/prm_vr@authors_verl", "vr" (PURE-VR).
    Raises ValueError naming the bad part.
    """
    head, _, run_preset = spec.strip().partition("@")
    credit, _, run_mode = head.partition("/")
    if credit == "vr":
        credit, run_mode = "softmin", run_mode or "vr"
    run_mode, run_preset = run_mode or mode, run_preset or preset
    if credit not in CREDIT_MODES.names():
        raise ValueError(f"run {spec!r}: unknown credit mode {credit!r}; known: vr, {', '.join(CREDIT_MODES.names())}")
    if run_mode not in MODES:
        raise ValueError(f"run {spec!r}: unknown mode {run_mode!r}; known: {', '.join(MODES)}")
    if run_preset is not None and run_preset not in PRESETS.names():
        raise ValueError(f"run {spec!r}: unknown preset {run_preset!r}; known: {', '.join(PRESETS.names())}")
    return RunSpec(spec.strip(), run_mode, credit, run_preset)


def parse_runs(config: DemoConfig) -> list[RunSpec]:
    """The config's runs, in order; ValueError on a bad or repeated one."""
    specs = [parse_run(s, config.mode, config.preset) for s in config.runs.split(",") if s.strip()]
    names = [s.name for s in specs]
    if not specs or len(set(names)) != len(names):
        raise ValueError(f"--runs must name at least one run, each once; got {config.runs!r}")
    return specs


def run_advantage(run: RunSpec, temperature: float) -> AdvantageConfig:
    """The run's preset (or the default) with its credit mode and the demo's softmin temperature."""
    overrides = {"credit.mode": run.credit, "credit.temperature": temperature}
    return AdvantageConfig.preset(run.preset or "default").with_overrides(overrides)


def demo_advantage(config: DemoConfig) -> AdvantageConfig:
    """The advantage configuration of the config's first (default) run."""
    return run_advantage(parse_runs(config)[0], config.temperature)
