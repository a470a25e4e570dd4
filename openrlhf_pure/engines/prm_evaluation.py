"""PRM evaluation runs: ProcessBench first-error F1 and Best-of-N selection (PURE.md section 3).

This module scores solutions with a :class:`~openrlhf_pure.engines.prm_scorer.PRMScorer` (in
chunks, with a progress bar), calls the metrics of :mod:`openrlhf_pure.core.prm_metrics`, and
lays the results out as per-case records and a summary with PURE's published figures next to
them. No metric is computed here.

- ProcessBench: each case's steps are scored as given; the predicted first error is the first
  step scoring strictly below the threshold. The natural threshold is the score's point
  p(correct) = 0.5: 0 for ``p_diff`` and ``logit_diff``, 0.5 for ``p_correct``.
- Best-of-N: rows of (problem, gold answer, candidate responses). Each response is split into
  steps on a separator ("\\n\\n", PURE's step boundary; blank pieces dropped), scored, and
  aggregated (min, softmin at T, last, product, mean); the picked candidate is graded with the
  project's grader (``core.grading.reward.verifiable_rewards``), which also grades every other
  candidate for the oracle (pass@N) and mean (random pick) figures.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm.auto import tqdm

from openrlhf_pure.core.prm_metrics import (
    BestOfNConfig,
    aggregate_step_scores,
    best_of_n,
    predict_first_errors,
    processbench_report,
    threshold_grid,
    threshold_sweep,
)
from openrlhf_pure.data.stepwise import DataFormatError, iter_records

NATURAL_THRESHOLDS = {"signed": 0.0, "prob": 0.5, "logit": 0.0}
LOGIT_SWEEP = (-6.0, 6.0)  # the logit scale is unbounded: sweep this range
# PURE's PRM (Cheng et al., 2025; PURE.md section 3).
PURE_PROCESSBENCH_F1 = {"gsm8k": 69.0, "math": 66.5, "olympiadbench": 48.4, "omnimath": 45.9}
PURE_PROCESSBENCH_AVERAGE = 57.5
PURE_BEST_OF_1024 = {"gsm8k": 91.6, "math": 62.6}  # DeepSeek-7B rollouts


def score_solutions(
    scorer, prompts: list[str], steps: list[list[str]], chunk: int = 128, desc: str = "scoring", progress: bool = True
) -> list[list[float]]:
    """Step scores of many solutions, ``chunk`` solutions per scorer call; a solution with no steps gets [].

    ``prompts`` are bare problems: each is given to the PRM as its training rows' prompts were
    (``ProcessRewardModel.render_prompt``: the prompt template saved with the PRM, if any).
    """
    render = getattr(getattr(scorer, "prm", None), "render_prompt", None)
    prompts = [render(p) for p in prompts] if render is not None else list(prompts)
    out: list[list[float]] = []
    with tqdm(total=len(prompts), desc=desc, unit="solution", disable=not progress) as bar:
        for start in range(0, len(prompts), chunk):
            for result in scorer.score_steps(prompts[start : start + chunk], steps[start : start + chunk]):
                out.append([] if result is None else [float(x) for x in result])
            bar.update(min(chunk, len(prompts) - start))
    return out


def sweep_grid(scale: str, points: int) -> list[float]:
    """Thresholds to sweep: the scale's range, or ``LOGIT_SWEEP`` for logits."""
    if scale != "logit":
        return threshold_grid(scale, points)
    low, high = LOGIT_SWEEP
    return [round(low + (high - low) * i / (points - 1), 12) for i in range(points)]


# ---------------------------------------------------------------------------------------------
# ProcessBench


def run_processbench(
    scorer, bench: dict, threshold: float, sweep_points: int = 0, chunk: int = 128, progress: bool = True
) -> tuple[list[dict], dict]:
    """Score every case of every subset; returns (per-case records, summary).

    Args:
        scorer: a ``PRMScorer``.
        bench: ``{subset: [ProcessBenchCase, ...]}`` (``data.processbench.load_processbench``).
        threshold: a step scoring strictly below it is predicted wrong.
        sweep_points: also sweep this many thresholds over the score's range (0: no sweep).
    """
    scale = scorer.prm.scale  # after the PRM's score transform
    records, cases = [], {}
    for name, subset in bench.items():
        prompts, steps = [c.problem for c in subset], [list(c.steps) for c in subset]
        scores = score_solutions(scorer, prompts, steps, chunk, f"ProcessBench {name}", progress)
        labels = [c.label for c in subset]
        cases[name] = (scores, labels)
        for case, case_scores, prediction in zip(subset, scores, predict_first_errors(scores, threshold=threshold)):
            records.append(
                {
                    "subset": name,
                    "id": case.id,
                    "generator": case.generator,
                    "label": case.label,
                    "prediction": prediction,
                    "scores": case_scores,
                }
            )
    report = processbench_report(cases, threshold=threshold)
    summary = {
        "threshold": threshold,
        "score": scorer.prm.score_name,
        "score_transform": scorer.prm.transform.name,
        "family": scorer.prm.family,
        "subsets": {name: asdict(result) for name, result in report.subsets.items()},
        "average_f1": report.average_f1,
        "reference": {
            "name": "PURE PRM (PURE.md section 3)",
            "f1": PURE_PROCESSBENCH_F1,
            "average_f1": PURE_PROCESSBENCH_AVERAGE,
        },
    }
    if sweep_points:
        sweep = threshold_sweep(cases, sweep_grid(scale, sweep_points))
        summary["sweep"] = {
            "thresholds": list(sweep.thresholds),
            "average_f1": list(sweep.average_f1),
            "best_threshold": sweep.best_threshold,
            "best_average_f1": sweep.best_average_f1,
        }
    return records, summary


def _cell(value: float | None) -> str:
    return "" if value is None else ("n/a" if math.isnan(value) else f"{value:.1f}")


def processbench_markdown(summary: dict) -> str:
    """The summary as a markdown table with PURE's figures in the last column."""
    ref = summary["reference"]["f1"]
    lines = [
        f"ProcessBench, score {summary['score']}, threshold {summary['threshold']:g}",
        "",
        "| subset | error acc | correct acc | F1 | PURE F1 |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, r in summary["subsets"].items():
        lines.append(
            f"| {name} | {_cell(r['error_acc'])} | {_cell(r['correct_acc'])} | {_cell(r['f1'])} "
            f"| {_cell(ref.get(name))} |"
        )
    average = summary["reference"]["average_f1"] if set(summary["subsets"]) == set(ref) else None
    lines.append(f"| average | | | {_cell(summary['average_f1'])} | {_cell(average)} |")
    if "sweep" in summary:
        sweep = summary["sweep"]
        lines += [
            "",
            f"Threshold sweep ({len(sweep['thresholds'])} points; tuned on the benchmark itself, so "
            f"optimistic): best average F1 {_cell(sweep['best_average_f1'])} at {sweep['best_threshold']:g}",
        ]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# Best-of-N


@dataclass(frozen=True)
class BestOfNProblem:
    """One problem: its text, gold answer and candidate responses."""

    id: str
    problem: str
    answer: str
    responses: tuple[str, ...]


def load_best_of_n(path: str | Path) -> list[BestOfNProblem]:
    """Rows of a Best-of-N JSONL file: ``problem`` (str), ``answer`` (str or number), ``responses``
    (non-empty list of str), optional ``id``. A bad row raises :class:`DataFormatError` naming file and line."""
    problems = []
    for where, record, error in iter_records(path):
        if error is not None:
            raise DataFormatError(where, "invalid_json", error)
        if not isinstance(record, dict):
            raise DataFormatError(where, "not_an_object", f"expected a JSON object, got {type(record).__name__}")
        problem, answer, responses = record.get("problem"), record.get("answer"), record.get("responses")
        if not isinstance(problem, str) or not problem.strip():
            raise DataFormatError(where, "bad_field", "field 'problem' must be a non-empty string")
        if isinstance(answer, bool) or not isinstance(answer, str | int | float) or not str(answer).strip():
            raise DataFormatError(where, "bad_field", "field 'answer' (the gold answer) must be a non-empty string")
        if not isinstance(responses, list) or not responses or not all(isinstance(r, str) for r in responses):
            raise DataFormatError(where, "bad_field", "field 'responses' must be a non-empty list of strings")
        problems.append(BestOfNProblem(str(record.get("id", where)), problem, str(answer), tuple(responses)))
    if not problems:
        raise DataFormatError(str(path), "empty", "no rows")
    return problems


def split_response(response: str, separator: str = "\n\n") -> list[str]:
    """A response's steps: the pieces between separators, blank ones dropped.

    >>> split_response("a = 1.\\n\\nb = 2.\\n\\n\\n\\nSo 3.")
    ['a = 1.', 'b = 2.', 'So 3.']
    """
    return [piece.strip("\n") for piece in response.split(separator) if piece.strip()]


def grade_all(responses: list[str], golds: list[str], chunk: int = 256, progress: bool = True) -> list[bool]:
    """Grade every response against its gold with the project's grader (chunked, with a progress bar)."""
    from openrlhf_pure.core.grading.reward import verifiable_rewards

    verdicts: list[bool] = []
    with tqdm(total=len(responses), desc="grading", unit="response", disable=not progress) as bar:
        for start in range(0, len(responses), chunk):
            rewards = verifiable_rewards(responses[start : start + chunk], golds[start : start + chunk])
            if any(r is None for r in rewards):
                raise ValueError("the grader found no gold answer for some response")
            verdicts.extend(r == 1.0 for r in rewards)
            bar.update(len(rewards))
    return verdicts


def run_best_of_n(
    scorer,
    problems: Sequence[BestOfNProblem],
    aggregations: Sequence[str],
    temperature: float = 0.1,
    n: int | None = None,
    separator: str = "\n\n",
    chunk: int = 128,
    progress: bool = True,
) -> tuple[list[dict], dict]:
    """Rank each problem's first ``n`` candidates by every aggregation; returns (per-problem records, summary)."""
    width = n or len(problems[0].responses)
    short = [p.id for p in problems if len(p.responses) < width or (n is None and len(p.responses) != width)]
    if short:
        raise ValueError(
            f"{len(short)} problems (first: {short[0]}) do not have {width} candidates; "
            "set n (--n on the command line) to use the first n of each"
        )
    scale = scorer.prm.scale  # after the PRM's score transform
    configs = {name: BestOfNConfig(name, temperature, scale) for name in aggregations}
    flat = [(p, r) for p in problems for r in p.responses[:width]]
    steps = [split_response(r, separator) for _, r in flat]
    scores = score_solutions(scorer, [p.problem for p, _ in flat], steps, chunk, "scoring candidates", progress)
    verdicts = grade_all([r for _, r in flat], [p.answer for p, _ in flat], progress=progress)
    nested_scores = [scores[i * width : (i + 1) * width] for i in range(len(problems))]
    nested_correct = [verdicts[i * width : (i + 1) * width] for i in range(len(problems))]
    results = {name: best_of_n(nested_scores, nested_correct, config) for name, config in configs.items()}
    records = []
    for i, problem in enumerate(problems):
        records.append(
            {
                "id": problem.id,
                "answer": problem.answer,
                "correct": nested_correct[i],
                "steps": [len(s) for s in nested_scores[i]],
                "aggregate": {name: aggregate_step_scores(nested_scores[i], c).tolist() for name, c in configs.items()},
                "chosen": {name: r.chosen[i] for name, r in results.items()},
            }
        )
    first = next(iter(results.values()))
    summary = {
        "problems": len(problems),
        "n": width,
        "score": scorer.prm.score_name,
        "score_transform": scorer.prm.transform.name,
        "family": scorer.prm.family,
        "temperature": temperature,
        "accuracy": {name: r.accuracy for name, r in results.items()},
        "oracle_accuracy": first.oracle_accuracy,
        "mean_accuracy": first.mean_accuracy,
        "reference": {"name": "PURE PRM, Best-of-1024 on DeepSeek-7B rollouts", "accuracy": PURE_BEST_OF_1024},
    }
    return records, summary


def best_of_n_markdown(summary: dict) -> str:
    """The summary as a markdown table: accuracy per aggregation, then oracle and mean."""
    lines = [
        f"Best-of-{summary['n']} over {summary['problems']} problems, score {summary['score']}",
        "",
        "| selection | accuracy |",
        "|---|---:|",
    ]
    for name, accuracy in summary["accuracy"].items():
        label = f"softmin (T={summary['temperature']:g})" if name == "softmin" else name
        lines.append(f"| PRM {label} | {accuracy:.1f} |")
    lines.append(f"| oracle (pass@{summary['n']}) | {summary['oracle_accuracy']:.1f} |")
    lines.append(f"| mean (random pick) | {summary['mean_accuracy']:.1f} |")
    ref = ", ".join(f"{k} {v}" for k, v in summary["reference"]["accuracy"].items())
    lines += ["", f"Reference: {summary['reference']['name']}: {ref}."]
    return "\n".join(lines) + "\n"


def write_outputs(folder: str | Path, stem: str, records: list[dict], summary: dict, markdown: str) -> list[Path]:
    """``<stem>_records.jsonl``, ``<stem>_summary.json`` and ``<stem>_summary.md`` in ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{stem}_records.jsonl", folder / f"{stem}_summary.json", folder / f"{stem}_summary.md"]
    paths[0].write_text("".join(json.dumps(r) + "\n" for r in records))
    paths[1].write_text(json.dumps(summary, indent=1) + "\n")
    paths[2].write_text(markdown)
    return paths
