"""The demo's warm-up (supervised fine-tuning) and the training-dynamics plots."""

from __future__ import annotations

import json

import pytest

from openrlhf_pure.cli.plot_metrics import main as plot_main
from openrlhf_pure.data.arithmetic import ArithmeticProblem, solution_steps
from openrlhf_pure.engines.local.sft import encode_examples, supervised_finetune


def test_sft_masks_the_prompt_and_lowers_the_loss(load_policy):
    model, tokenizer = load_policy()
    problems = [ArithmeticProblem(a, b, 2) for a in range(1, 5) for b in range(1, 5)]
    examples = [(p.prompt + "\n\n", "\n\n".join(solution_steps(p)[0])) for p in problems]
    ids, attention, loss_mask = encode_examples(tokenizer, examples)
    prompt_len = len(tokenizer(examples[0][0], add_special_tokens=False)["input_ids"])
    assert not loss_mask[0, :prompt_len].any() and loss_mask[0, prompt_len]
    assert ids[0, int(attention[0].sum()) - 1] == tokenizer.eos_token_id and loss_mask[0, int(attention[0].sum()) - 1]
    losses = supervised_finetune(model, tokenizer, examples, steps=30, batch_size=8, lr=3e-3)
    assert sum(losses[-5:]) / 5 < 0.5 * sum(losses[:5]) / 5


def test_plot_command_draws_runs_side_by_side(tmp_path):
    for name, slope in (("sum", 1.0), ("softmin", 0.1)):
        rows = [{"step": s, "steps/mean": 3 + slope * s, "accuracy/avg@n": 0.5} for s in range(1, 6)]
        (tmp_path / name).mkdir()
        (tmp_path / name / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "cmp.png"
    assert plot_main([str(tmp_path / "sum" / "metrics.jsonl"), str(tmp_path / "softmin" / "metrics.jsonl"),
                      "--out", str(out)]) == 0  # fmt: skip
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000


def test_plot_command_draws_a_prm_training_run(tmp_path):
    rows = [{"step": s, "train/loss": 0.7 / s, "train/step_accuracy": 0.5 + s / 20, "eval/error_f1": s / 10}
            for s in range(1, 6)]  # fmt: skip
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert plot_main([str(tmp_path / "metrics.jsonl"), "--out", str(tmp_path / "prm.png")]) == 0
    assert (tmp_path / "prm.png").stat().st_size > 10_000


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b'{"step": 1}\n{oops\n', "metrics.jsonl:2: not valid JSON"),
        (b"", "metrics.jsonl: no metrics rows (an empty file)"),
        (b'{"step": 1}\n[1, 2]\n', "metrics.jsonl:2: not a metrics row"),
        (b'{"step": 1, "x": "\xff"}\n', "metrics.jsonl:1: not UTF-8 text"),
    ],
)
def test_plot_command_names_a_bad_file_in_one_line(tmp_path, capsys, text, message):
    path = tmp_path / "metrics.jsonl"
    path.write_bytes(text)
    assert plot_main([str(path), "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "x.png").exists()


@pytest.fixture
def figures(monkeypatch):
    """The matplotlib figures the plots draw, kept open (their ``close`` is caught) to inspect them."""
    import matplotlib.pyplot as plt

    kept = []
    monkeypatch.setattr(plt, "close", kept.append)
    return kept


def test_plot_legend_names_every_run_and_hides_no_panel(tmp_path, figures):
    from openrlhf_pure.engines.plots import plot_runs

    runs = {f"run{k}": [{"step": s, "steps/mean": 3.0 + k} for s in (1, 2)] for k in range(8)}
    runs["vr"] = [{"step": s, "accuracy/avg@n": 0.5} for s in (1, 2)]  # only in a later panel
    plot_runs(runs, tmp_path / "p.png", title="PURE demo: " + ", ".join(runs) * 3)
    (fig,) = figures
    assert [t.get_text() for t in fig.legends[0].get_texts()] == list(runs)
    assert all(ax.get_legend() is None for ax in fig.axes)  # no legend drawn over a panel
    assert "\n" in fig._suptitle.get_text()  # a long title wraps instead of running off the figure


def test_plot_command_keeps_runs_whose_files_share_a_folder_name(tmp_path, figures, capsys):
    paths = []
    for name in ("softmin", "sum", "vr"):  # the demo's layout: runs/<run>/rl/metrics.jsonl
        (tmp_path / name / "rl").mkdir(parents=True)
        path = tmp_path / name / "rl" / "metrics.jsonl"
        path.write_text("".join(json.dumps({"step": s, "steps/mean": s}) + "\n" for s in (1, 2)))
        paths.append(str(path))
    assert plot_main([*paths, "--out", str(tmp_path / "p.png")]) == 0
    assert [t.get_text() for t in figures[0].legends[0].get_texts()] == ["softmin/rl", "sum/rl", "vr/rl"]
    assert plot_main([*paths[:2], "--labels", "a", "a", "--out", str(tmp_path / "q.png")]) == 2
    assert "--labels: each run needs its own label" in capsys.readouterr().err
    assert plot_main([paths[0], paths[0], "--out", str(tmp_path / "r.png")]) == 2
    assert "one is given twice" in capsys.readouterr().err
