"""Run summaries: per-benchmark scores as JSON and as a markdown table, in PURE.md's column order.

Score = accuracy x 100, rounded half up to one decimal (accuracy is avg@n: greedy pass@1 when
n = 1). Columns follow PURE.md section 7: MATH500, Minerva, Olympiad, AIME24, AMC23, then any
user dataset (by name), then Avg, the unweighted mean of the benchmarks in the run, taken on
the unrounded accuracies. Diagnostics per benchmark: pass@k for each requested k <= n, the
share of samples cut at ``max_new_tokens`` (``truncated``; high values mean the token budget,
not the model, sets the score), the share with no final answer, the mean response length.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from openrlhf_pure.evaluation.benchmarks import BENCHMARKS
from openrlhf_pure.evaluation.passk import benchmark_accuracy

AVG = "Avg"
PURE_COLUMNS = tuple(spec.label for spec in BENCHMARKS.values())  # MATH500, Minerva, Olympiad, AIME24, AMC23


def score(fraction: float) -> float:
    """A fraction as a percentage with one decimal, rounded half up (0.2925 -> 29.3)."""
    return float(Decimal(f"{fraction * 100:.9f}").quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def label_of(benchmark: str) -> str:
    """The column label of a benchmark: PURE.md's name for the five, the name itself otherwise."""
    return BENCHMARKS[benchmark].label if benchmark in BENCHMARKS else benchmark


def ordered_benchmarks(names: Iterable[str]) -> list[str]:
    """Registered benchmarks in PURE.md's order, then the others in first-seen order."""
    names = list(dict.fromkeys(names))
    return [b for b in BENCHMARKS if b in names] + [b for b in names if b not in BENCHMARKS]


def summarize(records: Iterable[dict], ks: Iterable[int] = (1,), run: dict | None = None) -> dict:
    """The summary of a run's sample records (see the module docstring).

    Args:
        records: records with at least benchmark, index, correct (None counts as wrong),
            and optionally reason, finish_reason and response_tokens.
        ks: the k of pass@k to report.
        run: settings of the run, copied into the summary.
    Returns:
        ``{"run", "columns", "scores": {label: score, ..., "Avg": score}, "benchmarks": {name: stats}}``.
    """
    grouped: dict[str, dict[int, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for record in records:
        grouped[record["benchmark"]][int(record["index"])].append(record)
    benchmarks, scores, fractions = {}, {}, []
    for name in ordered_benchmarks(grouped):
        problems = [sorted(rows, key=lambda r: int(r.get("sample", 0))) for _, rows in sorted(grouped[name].items())]
        samples = [row for rows in problems for row in rows]
        result = benchmark_accuracy([[row.get("correct") is True for row in rows] for rows in problems], list(ks))
        fractions.append(result["accuracy"])
        tokens = [row["response_tokens"] for row in samples if isinstance(row.get("response_tokens"), int)]
        benchmarks[name] = {
            "label": label_of(name),
            "problems": len(problems),
            "samples": len(samples),
            "accuracy": score(result["accuracy"]),
            "pass@k": {str(k): score(value) for k, value in result["pass@k"].items()},
            "truncated_pct": score(sum(row.get("finish_reason") == "length" for row in samples) / len(samples)),
            "no_answer_pct": score(sum(row.get("reason") == "no_answer" for row in samples) / len(samples)),
            "mean_response_tokens": round(sum(tokens) / len(tokens), 1) if tokens else None,
        }
        scores[label_of(name)] = benchmarks[name]["accuracy"]
    if fractions:
        scores[AVG] = score(sum(fractions) / len(fractions))
    return {"run": dict(run or {}), "columns": list(scores), "scores": scores, "benchmarks": benchmarks}


def markdown_table(header: list[str], rows: list[list]) -> str:
    """A GitHub markdown table; None cells print as "-"."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        lines.append("| " + " | ".join("-" if cell is None else str(cell) for cell in row) + " |")
    return "\n".join(lines) + "\n"


def run_label(summary: dict, fallback: str = "run") -> str:
    """A short name for a run: its ``label`` setting, else the model's last path part."""
    run = summary.get("run", {})
    model = str(run.get("model") or "").rstrip("/")
    return run.get("label") or (Path(model).name if model else fallback)


def summary_markdown(summary: dict) -> str:
    """The summary as markdown: the settings, the score table, the per-benchmark diagnostics."""
    run = summary.get("run", {})
    settings = ", ".join(f"{key}={value}" for key, value in run.items() if key not in ("label",))
    parts = ["# Evaluation summary\n\n", f"{settings}\n\n" if settings else ""]
    columns = summary["columns"]
    parts.append(markdown_table(["model", *columns], [[run_label(summary), *(summary["scores"][c] for c in columns)]]))
    ks = sorted({int(k) for stats in summary["benchmarks"].values() for k in stats["pass@k"]})
    header = ["benchmark", "problems", "samples", "accuracy", *(f"pass@{k}" for k in ks)]
    header += ["truncated %", "no answer %", "mean tokens"]
    rows = [
        [
            name,
            stats["problems"],
            stats["samples"],
            stats["accuracy"],
            *(stats["pass@k"].get(str(k)) for k in ks),
            stats["truncated_pct"],
            stats["no_answer_pct"],
            stats["mean_response_tokens"],
        ]
        for name, stats in summary["benchmarks"].items()
    ]
    parts.append("\n" + markdown_table(header, rows))
    return "".join(parts)
