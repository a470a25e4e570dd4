"""Training-dynamics plots from metrics JSONL files, like the paper's figures (PNG).

One figure, a grid of panels, one panel per metric; several runs (e.g. sum-form against
softmin) are drawn as several lines on the same panels, so the comparison is side by side.
RL runs (``pure-train``, the demo) get the RL panels; ``pure-train-prm``'s metrics get the PRM
training panels (loss, step accuracy, held-out F1).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from openrlhf_pure.data.jsonl import iter_jsonl

DEFAULT_PANELS = (
    ("accuracy/avg@n", "verifiable accuracy (avg@n)"),
    ("reward/process", "process reward (sum of r*)"),
    ("steps/mean", "steps per response"),
    ("length/mean", "response length (tokens)"),
    ("length/clip_ratio", "clip ratio"),
    ("repetition/high_ratio", "high-repetition ratio"),
    ("agreement/prm_vr", "PRM-verifier agreement"),
    ("policy/kl", "KL to reference"),
    ("policy/grad_norm", "grad norm"),
)
PRM_PANELS = (  # pure-train-prm's metrics.jsonl
    ("train/loss", "PRM training loss (step CE)"),
    ("train/step_accuracy", "step accuracy (training batch)"),
    ("eval/step_accuracy", "held-out step accuracy"),
    ("eval/error_f1", "held-out wrong-step F1"),
    ("train/grad_norm", "grad norm"),
    ("train/lr", "learning rate"),
)


class MetricsFileError(ValueError):
    """A metrics file that cannot be plotted: the message names the file (and line)."""


def read_metrics(path: str | Path) -> list[dict]:
    """Rows of a metrics JSONL file (each an object with a numeric ``step``).

    Raises:
        MetricsFileError: naming the file and line of a row that is not such an object (or not
            UTF-8, not JSON), or the file when it holds no rows.
    """
    rows = []
    for line_no, row, error in iter_jsonl(path):
        if error is None and not (isinstance(row, dict) and isinstance(row.get("step"), int | float)):
            error = "not a metrics row (an object with a numeric 'step')"
        if error is not None:
            raise MetricsFileError(f"{path}:{line_no}: {error}")
        rows.append(row)
    if not rows:
        raise MetricsFileError(f"{path}: no metrics rows (an empty file)")
    return rows


def panels_for(runs: dict[str, list[dict]]) -> tuple:
    """The panels to draw: the RL panels, and the PRM training panels for PRM metrics files."""
    keys = {key for rows in runs.values() for row in rows for key in row}
    return DEFAULT_PANELS + (PRM_PANELS if keys & {key for key, _ in PRM_PANELS} else ())


def plot_runs(runs: dict[str, list[dict]], out: str | Path, panels=None, title: str | None = None) -> Path:
    """Draw each run's metrics over steps into one PNG.

    Args:
        runs: label -> metric rows (each with a "step").
        out: the PNG path (parent folders are created).
        panels: (metric key, panel title) pairs; panels no run has data for are skipped
            (default: :func:`panels_for` the runs).
        title: the figure title.
    Returns:
        the PNG path.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = panels_for(runs) if panels is None else panels
    shown = [(key, name) for key, name in panels if any(key in row for rows in runs.values() for row in rows)]
    if not shown:
        raise MetricsFileError("none of the plotted metrics appear in the files (not metrics.jsonl of a run?)")
    cols = 3
    rows_n = (len(shown) + cols - 1) // cols
    fig, axes = plt.subplots(rows_n, cols, figsize=(4.2 * cols, 3.0 * rows_n), squeeze=False)
    for ax, (key, name) in zip(axes.flat, shown):
        for label, rows in runs.items():
            points = [(row["step"], row[key]) for row in rows if key in row]
            if points:
                ax.plot(*zip(*points), label=label, linewidth=1.4)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("RL step", fontsize=8)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(shown) :]:
        ax.axis("off")
    # One legend under the panels, so that no curve is hidden by it, whatever the number of runs.
    legend = {}  # label -> line, across panels (a run may lack some panels' metrics)
    for ax in axes.flat:
        for line in ax.get_lines():
            legend.setdefault(line.get_label(), line)
    labels = [label for label in runs if label in legend]
    handles = [legend[label] for label in labels]
    ncol = min(len(labels), cols * 2) or 1
    legend_rows = (len(labels) + ncol - 1) // ncol
    height = 3.0 * rows_n  # inches, as in figsize
    bottom = (0.1 + 0.2 * legend_rows) / height
    fig.legend(handles, labels, loc="lower center", ncol=ncol, fontsize=8, frameon=False)
    top = 1.0
    if title:
        text = textwrap.fill(title, width=45 * cols)
        fig.suptitle(text)
        top = 1.0 - (0.1 + 0.25 * (text.count("\n") + 1)) / height
    fig.tight_layout(rect=(0, bottom, 1, top))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(out)
    return out
