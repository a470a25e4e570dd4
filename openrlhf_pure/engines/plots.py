"""Training-dynamics plots from metrics JSONL files, like the paper's figures (PNG).

One figure, a grid of panels, one panel per metric; several runs (e.g. sum-form against
softmin) are drawn as several lines on the same panels, so the comparison is side by side.
"""

from __future__ import annotations

import json
from pathlib import Path

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


def read_metrics(path: str | Path) -> list[dict]:
    """Rows of a metrics JSONL file; a malformed line is reported with the file and line."""
    rows = []
    for line_no, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}:{line_no}: not valid JSON ({err.msg})") from None
    return rows


def plot_runs(runs: dict[str, list[dict]], out: str | Path, panels=DEFAULT_PANELS, title: str | None = None) -> Path:
    """Draw each run's metrics over steps into one PNG.

    Args:
        runs: label -> metric rows (each with a "step").
        out: the PNG path (parent folders are created).
        panels: (metric key, panel title) pairs; panels no run has data for are skipped.
        title: the figure title.
    Returns:
        the PNG path.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [(key, name) for key, name in panels if any(key in row for rows in runs.values() for row in rows)]
    if not shown:
        raise ValueError("none of the panels' metrics appear in the runs")
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
    axes.flat[0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(out)
    return out
