"""Several runs side by side: a markdown table and a grouped bar chart (PNG), plus PURE's Table 2.

Each run is a ``summary.json`` (or the output directory holding one). Columns are the union of
the runs' columns in PURE.md's order (MATH500, Minerva, Olympiad, AIME24, AMC23, user
datasets, Avg); a run without a column shows "-". Each run's Avg is its own mean over the
benchmarks it ran, so Avg compares like with like only when the runs cover the same ones. A run
that covered only part of a benchmark (``--limit``) is starred in the table, explained under it
and marked "(subset)" in the chart's legend.
Published rows of PURE's Table 2 (PURE.md section 7) can be added as references.

The chart is drawn with matplotlib's object API on an Agg canvas (no pyplot, no display) and
written atomically.
"""

from __future__ import annotations

from pathlib import Path

from openrlhf_pure.atomic import atomic_path, write_text_atomic
from openrlhf_pure.data.jsonl import JSONFileError, read_json_file
from openrlhf_pure.evaluation.benchmarks import BENCHMARKS, DataError
from openrlhf_pure.evaluation.summary import AVG, PURE_COLUMNS, markdown_table, run_label

# PURE Table 2 (PURE.md section 7): MATH500, Minerva, Olympiad, AIME24, AMC23, Avg, as published.
# The PURE-PRM row's Avg (49.3) is not the mean of its five scores (48.28): kept as published.
PUBLISHED_TABLE2: dict[str, tuple[float, ...]] = {
    "Qwen2.5-Math-7B/base": (71.8, 29.8, 35.1, 13.3, 47.5, 39.5),
    "Qwen2.5-Math-7B/PURE-PRM": (81.8, 38.2, 44.7, 16.7, 60.0, 49.3),
    "Qwen2.5-Math-7B/PURE-VR": (79.4, 36.8, 41.8, 23.3, 60.0, 48.3),
    "Qwen2.5-Math-7B/PURE-PRM+VR": (82.6, 37.1, 44.1, 20.0, 82.5, 53.3),
    "Qwen2.5-Math-1.5B/base": (61.4, 23.5, 29.3, 13.3, 40.0, 33.5),
    "Qwen2.5-Math-1.5B/PURE-PRM+VR": (76.0, 31.6, 37.2, 16.7, 55.0, 43.3),
    "Qwen2.5-7B/base": (71.4, 23.9, 35.3, 10.0, 52.5, 38.6),
    "Qwen2.5-7B/PURE-PRM+VR": (80.4, 37.9, 43.0, 16.7, 60.0, 47.6),
    "Llama-3.1-8B/base": (13.6, 4.8, 3.1, 0.0, 2.5, 4.8),
    "Llama-3.1-8B/PURE-PRM+VR": (26.0, 10.3, 5.5, 3.3, 15.0, 12.0),
}


def published_summary(key: str) -> dict:
    """A Table 2 row as a summary (``scores`` only), labelled "<key> (paper)"."""
    if key not in PUBLISHED_TABLE2:
        raise DataError(f"unknown published row {key!r}; known: {', '.join(PUBLISHED_TABLE2)}")
    columns = [*PURE_COLUMNS, AVG]
    return {"run": {"label": f"{key} (paper)"}, "columns": columns, "scores": dict(zip(columns, PUBLISHED_TABLE2[key]))}


def load_summary(path: str | Path) -> dict:
    """A run's summary from ``summary.json`` or from the output directory holding it."""
    path = Path(path)
    file = path / "summary.json" if path.is_dir() else path
    if not file.is_file():
        raise DataError(f"no summary at {file} (pass a summary.json or a run's output directory)")
    try:
        summary = read_json_file(file)
    except JSONFileError as error:
        raise DataError(str(error)) from None
    if not isinstance(summary, dict) or not isinstance(summary.get("scores"), dict):
        raise DataError(f"{file}: not a summary (no 'scores')")
    return summary


def comparison_columns(summaries: list[dict]) -> list[str]:
    """The union of the runs' columns: PURE's five first, then others in first-seen order, Avg last."""
    seen = [c for s in summaries for c in s.get("columns", s["scores"]) if c != AVG]
    seen = list(dict.fromkeys(seen))
    columns = [c for c in PURE_COLUMNS if c in seen] + [c for c in seen if c not in PURE_COLUMNS]
    return columns + ([AVG] if any(AVG in s["scores"] for s in summaries) else [])


def subset_note(summary: dict) -> str | None:
    """What part of the five benchmarks a run covered, when it is not all of each (``--limit``), else None."""
    short = []
    for name, stats in summary.get("benchmarks", {}).items():
        if name in BENCHMARKS and stats.get("problems", 0) < BENCHMARKS[name].rows:
            short.append(f"{BENCHMARKS[name].label} {stats['problems']}/{BENCHMARKS[name].rows}")
    limit = summary.get("run", {}).get("limit")
    if not short and limit is None:
        return None
    parts = [", ".join(short) + " problems"] if short else []
    return ", ".join(parts + ([f"--limit {limit}"] if limit is not None else []))


def comparison_markdown(runs: list[tuple[str, dict]]) -> str:
    """The runs' scores side by side, one row per run; a subset run is starred and explained below."""
    columns = comparison_columns([summary for _, summary in runs])
    notes = [(label, subset_note(summary)) for label, summary in runs]
    rows = [[f"{label} *" if note else label, *(summary["scores"].get(c) for c in columns)]
            for (label, summary), (_, note) in zip(runs, notes)]  # fmt: skip
    text = markdown_table(["run", *columns], rows)
    for label, note in notes:
        if note:
            text += (f"\n\\* {label}: a subset of the benchmarks ({note}); its scores and Avg are not "
                     "comparable with full-benchmark figures such as the paper's.\n")  # fmt: skip
    return text


def plot_comparison(runs: list[tuple[str, dict]], out: str | Path, title: str | None = None) -> Path:
    """A grouped bar chart (one group per column, one bar per run), written atomically as PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    columns = comparison_columns([summary for _, summary in runs])
    width_in = min(14.0, max(6.0, 0.9 * len(columns) * max(1, len(runs)) ** 0.5 + 2))
    figure = Figure(figsize=(width_in, 4.5), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    width = 0.8 / len(runs)
    for r, (label, summary) in enumerate(runs):
        positions = [c + (r - (len(runs) - 1) / 2) * width for c in range(len(columns))]
        values = [summary["scores"].get(column) for column in columns]
        label = f"{label} (subset)" if subset_note(summary) else label
        bars = axes.bar(positions, [v if v is not None else 0.0 for v in values], width, label=label)
        axes.bar_label(bars, labels=["" if v is None else f"{v:.1f}" for v in values], fontsize=7, padding=1)
    axes.set_xticks(range(len(columns)), columns)
    axes.set_ylabel("accuracy (%)")
    axes.set_ylim(0, max(100.0, *(v or 0 for _, s in runs for v in s["scores"].values())) * 1.05)
    axes.set_title(title or "accuracy by benchmark (avg@n; greedy pass@1 when n = 1)")
    axes.legend(fontsize=8)
    with atomic_path(out) as tmp:
        figure.savefig(tmp, format="png", dpi=120)
    return Path(out)


def compare_runs(
    paths: list[str | Path],
    labels: list[str] | None = None,
    published: list[str] | None = None,
    out: str | Path = "compare",
    title: str | None = None,
) -> tuple[str, Path, Path]:
    """Compare runs: write ``<out>.md`` and ``<out>.png`` and return (markdown, md path, png path).

    Args:
        paths: ``summary.json`` files or run output directories.
        labels: a label per path (default: each run's label or model name).
        published: Table 2 rows to add as references (keys of :data:`PUBLISHED_TABLE2`).
        out: output path; its ``.md`` or ``.png`` suffix, if any, is dropped.
        title: chart title.
    """
    if labels is not None and len(labels) != len(paths):
        raise DataError(f"{len(paths)} runs but {len(labels)} labels")
    summaries = [load_summary(path) for path in paths]
    runs = [(labels[i] if labels else run_label(s, str(paths[i])), s) for i, s in enumerate(summaries)]
    runs += [(f"{key} (paper)", published_summary(key)) for key in published or []]
    if not runs:
        raise DataError("nothing to compare: give run summaries or --published rows")
    markdown = comparison_markdown(runs)
    out = Path(out)
    if out.suffix in (".md", ".png"):
        out = out.with_suffix("")
    md_path = write_text_atomic(out.with_name(out.name + ".md"), markdown)
    png_path = plot_comparison(runs, out.with_name(out.name + ".png"), title)
    return markdown, md_path, png_path
