"""The demo's comparison of RL runs: per-run figures, one side-by-side table, mean +- sd over seeds.

Per run (:func:`summarize_runs`), from its RL metrics history and held-out accuracies:

- held-out greedy accuracy after RL and its standard error sqrt(p (1 - p) / n);
- steps per response, length, process reward, PRM-verifier agreement and the three hack
  shares (``core.hacking.hack_shares``), each as [mean of the first 10 RL steps, mean of the last 10];
- the detectors' alarms (steps with a warning) and their kinds;
- the paper's efficiency claim: ``reaches_vr_at``, the first RL step at which the run's
  training accuracy (avg@n, mean of the 10 steps up to it) reaches PURE-VR's final accuracy
  (mean of its last 10 steps); None when it never does or there is no PURE-VR run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

EDGE = 10  # RL steps averaged at the start and at the end of a run
HACK_PANELS = (
    ("hacking/filler_steps", "filler or repeated steps (share of steps)"),
    ("hacking/one_step", "one-step answers (share)"),
    ("hacking/trivial", "zero-step / trivial answers (share)"),
)
FIGURES = (  # (summary key, metric)
    ("steps_per_response", "steps/mean"),
    ("length", "length/mean"),
    ("process_reward", "reward/process"),
    ("agreement", "agreement/prm_vr"),
    ("filler_steps", "hacking/filler_steps"),
    ("one_step", "hacking/one_step"),
    ("trivial", "hacking/trivial"),
    ("train_accuracy", "accuracy/avg@n"),
)


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def edges(history: Sequence[dict], key: str, edge: int = EDGE) -> list[float | None]:
    """[mean of the first ``edge`` steps, mean of the last ``edge``] of a metric (None where absent)."""
    values = [row[key] for row in history if key in row]
    return [_round(_mean(values[:edge])), _round(_mean(values[-edge:]))]


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def standard_error(p: float, n: int) -> float:
    """The standard error sqrt(p (1 - p) / n) of an accuracy ``p`` measured on ``n`` problems."""
    return math.sqrt(max(p * (1 - p), 0.0) / n) if n > 0 else math.nan


def first_step_reaching(history: Sequence[dict], target: float, key: str = "accuracy/avg@n", edge: int = EDGE):
    """The first RL step whose trailing ``edge``-step mean of ``key`` is >= ``target`` (None if never)."""
    values = [(row["step"], row[key]) for row in history if key in row]
    for i in range(edge - 1, len(values)):
        if _mean([v for _, v in values[i - edge + 1 : i + 1]]) >= target:
            return int(values[i][0])
    return None


def summarize_runs(runs, results: Sequence[dict], accuracy_before: float, held_out: int) -> dict:
    """Each run's figures (module docstring), keyed by run name, in the runs' order.

    Args:
        runs: the :class:`openrlhf_pure.engines.local.demo_runs.RunSpec` of each result.
        results: :func:`openrlhf_pure.engines.local.demo.train_run`'s results.
        accuracy_before: the warm-up policy's held-out accuracy.
        held_out: n, the held-out problems.
    """
    summary = {}
    for run, result in zip(runs, results):
        history = result["history"]
        entry = {"mode": run.mode, "credit": run.credit if run.mode != "vr" else None, "preset": run.preset,
                 "accuracy_before": round(accuracy_before, 4), "accuracy_after": round(result["accuracy_after"], 4),
                 "accuracy_se": round(standard_error(result["accuracy_after"], held_out), 4),
                 "held_out": held_out}  # fmt: skip
        entry.update({name: edges(history, key) for name, key in FIGURES})
        entry["alarms"] = len({step for step, _, _ in result["alarms"]})
        entry["alarm_kinds"] = sorted({kind for _, kind, _ in result["alarms"]})
        entry["first_alarm"] = min((step for step, _, _ in result["alarms"]), default=None)
        entry["rl_steps"] = len(history)
        entry["seconds"] = round(result["seconds"], 1)
        summary[run.name] = entry
    vr = [name for name, e in summary.items() if e["mode"] == "vr"]
    target = summary[vr[0]]["train_accuracy"][1] if vr else None
    for name, entry in summary.items():
        history = next(r["history"] for r in results if r["name"] == name)
        reaches = first_step_reaching(history, target) if target is not None and entry["mode"] != "vr" else None
        entry["reaches_vr_at"] = reaches
    return summary


def _pair(values, digits: int = 2) -> str:
    first, last = values
    if first is None and last is None:
        return "-"
    return f"{first:.{digits}f} -> {last:.{digits}f}"


ROWS = (  # (label, formatter of one run's summary entry)
    ("mode / preset", lambda e: f"{e['mode']}/{e['preset'] or 'default'}"),
    ("held-out acc before", lambda e: f"{e['accuracy_before']:.3f}"),
    ("held-out acc after (+- SE)", lambda e: f"{e['accuracy_after']:.3f} +- {e['accuracy_se']:.3f}"),
    ("train acc avg@n (first->last 10)", lambda e: _pair(e["train_accuracy"], 3)),
    ("steps per response", lambda e: _pair(e["steps_per_response"])),
    ("length (tokens)", lambda e: _pair(e["length"], 1)),
    ("process reward", lambda e: _pair(e["process_reward"])),
    ("PRM-verifier agreement", lambda e: _pair(e["agreement"])),
    ("filler/repeated steps", lambda e: _pair(e["filler_steps"], 3)),
    ("one-step answers", lambda e: _pair(e["one_step"], 3)),
    ("zero-step/trivial answers", lambda e: _pair(e["trivial"], 3)),
    ("alarms (steps; kinds)", lambda e: f"{e['alarms']}; {','.join(e['alarm_kinds']) or '-'}"),
    ("reaches VR's final acc at step", lambda e: "-" if e["reaches_vr_at"] is None else str(e["reaches_vr_at"])),
)


def render_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned text columns, one line per row, the header first."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)).rstrip() for row in [header, *rows]]
    return "\n".join([lines[0], "-" * len(lines[0]), *lines[1:]])


def comparison_table(summary: dict, held_out: int) -> str:
    """One column per run, one row per figure (first -> last 10 RL steps where it is a pair)."""
    names = list(summary)
    rows = [[label, *(fmt(summary[n]) for n in names)] for label, fmt in ROWS]
    return render_table([f"(held-out n = {held_out})", *names], rows)


AGGREGATED = (  # (label, function of one run's summary entry -> number or None)
    ("held-out acc after", lambda e: e["accuracy_after"]),
    ("acc gain", lambda e: e["accuracy_after"] - e["accuracy_before"]),
    ("steps, last 10", lambda e: e["steps_per_response"][1]),
    ("steps change", lambda e: _diff(e["steps_per_response"])),
    ("length, last 10", lambda e: e["length"][1]),
    ("process reward, last 10", lambda e: e["process_reward"][1]),
    ("agreement, last 10", lambda e: e["agreement"][1]),
    ("filler steps, last 10", lambda e: e["filler_steps"][1]),
    ("one-step, last 10", lambda e: e["one_step"][1]),
    ("trivial, last 10", lambda e: e["trivial"][1]),
    ("alarm steps", lambda e: e["alarms"]),
    ("reaches VR at step", lambda e: e.get("reaches_vr_at")),
)


def _diff(pair) -> float | None:
    return None if None in pair else pair[1] - pair[0]


def mean_sd(values: Sequence[float]) -> tuple[float, float | None, int] | None:
    """(mean, sample sd, count) of the values that are not None; None if none are.

    The sd is None for a single value: one seed says nothing about the spread over seeds.
    """
    present = [v for v in values if v is not None]
    if not present:
        return None
    mean = sum(present) / len(present)
    sd = math.sqrt(sum((v - mean) ** 2 for v in present) / (len(present) - 1)) if len(present) > 1 else None
    return mean, sd, len(present)


def aggregate_table(results: Sequence[dict]) -> str:
    """Mean +- sd over seeds of each run's figures; ``results`` are demo JSON results with the same runs.

    A cell shows "(k/n)" when only k of the n seeds have the figure (e.g. a run that never reaches VR),
    and "+- -" where only one seed has it (no sd).
    """
    names = list(results[0]["runs"])
    rows = []
    for label, get in AGGREGATED:
        row = [label]
        for name in names:
            stats = mean_sd([get(r["runs"][name]) if name in r["runs"] else None for r in results])
            if stats is None:
                row.append("-")
                continue
            mean, sd, count = stats
            spread = f" +- {sd:.3f}" if sd is not None else " +- -"
            row.append(f"{mean:.3f}{spread}" + (f" ({count}/{len(results)})" if count < len(results) else ""))
        rows.append(row)
    return render_table([f"mean +- sd over {len(results)} seeds", *names], rows)
