"""Model and data names in every CLI: a path that is not there, or a hub name while the hub is offline,
is one line before any work, and nothing is written (``openrlhf_pure.data.sources``)."""

from __future__ import annotations

import pytest

from openrlhf_pure.cli import eval as eval_cli
from openrlhf_pure.cli import eval_prm, serve_prm, train_local, train_prm, train_pure_ray

HUB = "Qwen/Qwen2.5-Math-7B"


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """An empty folder as the working directory, the hub off, an empty hub cache."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub_cache"))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "datasets_cache"))
    return tmp_path


def test_path_like_names_are_paths_and_hub_names_need_the_hub(offline, monkeypatch):
    from openrlhf_pure.data.sources import looks_like_path, source_problem

    assert [looks_like_path(v) for v in ("runs/tiny", "../m", "a/b/c", "x.parquet", "models\\m", HUB)] == [
        True, True, True, True, True, False,
    ]  # fmt: skip
    (offline / "ckpt").mkdir()
    assert looks_like_path("ckpt/step_1")  # its first part is a folder here
    assert "a path that does not exist" in source_problem("--model", "runs/tiny")
    assert "not a hub name" in source_problem("--model", "tiny")
    assert "the hub is offline (HF_HUB_OFFLINE=1) with no cached copy" in source_problem("--model", HUB)
    (offline / "hub_cache" / "models--Qwen--Qwen2.5-Math-7B" / "snapshots" / "abc123").mkdir(parents=True)
    assert source_problem("--model", HUB) is None  # a cached copy is fine offline
    assert "offline" in source_problem("--data", "Qwen/ProcessBench", "data")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    assert source_problem("--data", "Qwen/ProcessBench", "data") is None  # online: left to the hub
    assert "no such file" in source_problem("--data", "Qwen/ProcessBench", "file")  # a local file only


CLIS = {
    "pure-eval run": (eval_cli.main, ["run", "--benchmarks", "amc23", "--limit", "1", "--quiet", "--model"]),
    "pure-eval-prm best-of-n": (eval_prm.main, ["best-of-n", "--data", "rows.jsonl", "--prm"]),
    "pure-eval-prm processbench": (eval_prm.main, ["processbench", "--data", "pb", "--prm"]),
    "pure-train --dry_run": (
        train_local.main,
        ["--data.prompt_dataset", "rows.jsonl", "--pure.reward_mode", "vr", "--dry_run", "--actor.model_name_or_path"],
    ),  # fmt: skip
    "pure-train": (
        train_local.main,
        ["--data.prompt_dataset", "rows.jsonl", "--pure.reward_mode", "vr", "--actor.model_name_or_path"],
    ),  # fmt: skip
    "pure-train-prm": (train_prm.main, ["--data.train", "rows.jsonl", "--model.name_or_path"]),
    "train_pure_ray --dry_run": (
        train_pure_ray.main,
        [
            "--data.prompt_dataset",
            "rows.jsonl",
            "--data.input_key",
            "prompt",
            "--data.label_key",
            "label",
            "--vllm.num_engines",
            "1",
            "--pure.reward_mode",
            "vr",
            "--dry_run",
            "--actor.model_name_or_path",
        ],
    ),  # fmt: skip
    "serve_prm": (serve_prm.main, ["--model"]),
}


@pytest.mark.parametrize("name", ["runs/tiny", HUB])
@pytest.mark.parametrize("cli", list(CLIS))
def test_every_cli_stops_in_one_line_and_writes_nothing(offline, capsys, cli, name):
    (offline / "rows.jsonl").write_text('{"question": "1 + 1?", "prompt": "1 + 1?", "label": "2", "gt_answer": "2"}\n')
    main, argv = CLIS[cli]
    argv = [*argv, name]
    if cli not in ("serve_prm", "train_pure_ray --dry_run"):
        argv = [*argv, "--output_dir", str(offline / "out")]
    before = sorted(p.name for p in offline.iterdir())
    assert main(argv) == 2
    err = capsys.readouterr().err
    expected = "a path that does not exist" if name == "runs/tiny" else "the hub is offline (HF_HUB_OFFLINE=1)"
    if cli == "serve_prm":  # it serves local folders only
        expected = "no such folder"
    lines = [line for line in err.splitlines() if name in line]
    assert len(lines) == 1 and expected in lines[0], err
    assert "Traceback" not in err
    assert sorted(p.name for p in offline.iterdir()) == before  # no run.json, no output folder
