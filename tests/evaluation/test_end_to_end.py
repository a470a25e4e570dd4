"""End to end on CPU: a tiny model saved and loaded back, the hf backend, two benchmarks cut to a
few problems: records, summary, resume after a crash, settings checks, bad input, CLI."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from openrlhf_pure.cli.eval import main
from openrlhf_pure.data.prompts import pure_prompt
from openrlhf_pure.evaluation import runner
from openrlhf_pure.evaluation.backend import BackendOptions, make_backend
from openrlhf_pure.evaluation.benchmarks import load_benchmark
from openrlhf_pure.evaluation.records import RECORD_FIELDS, load_records
from openrlhf_pure.evaluation.runner import ConfigError, EvalConfig, check_model_path, run_evaluation


def read_rows(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def counting_hf(tiny_model_dir, tokenizer):
    """The real hf backend, counting the prompts it is asked to generate for."""
    backend = make_backend("hf", BackendOptions(model=str(tiny_model_dir), device="cpu", batch_size=4), tokenizer)
    backend.prompts_seen = 0
    generate = backend.generate

    def counted(prompts, sampling):
        backend.prompts_seen += len(prompts)
        return generate(prompts, sampling)

    backend.generate = counted
    return backend


def test_cli_run_writes_records_and_summary(tiny_model_dir, tokenizer, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["run", "--model", str(tiny_model_dir), "--benchmarks", "math500,amc23", "--limit", "2"]
    argv += ["--max_new_tokens", "8", "--output_dir", str(out), "--grader.workers", "1", "--quiet"]
    assert main(argv) == 0
    rows = read_rows(out / "samples.jsonl")
    assert [(r["benchmark"], r["index"], r["sample"]) for r in rows] == [
        ("math500", 0, 0),
        ("math500", 1, 0),
        ("amc23", 0, 0),
        ("amc23", 1, 0),
    ]
    problems = load_benchmark("math500", limit=2) + load_benchmark("amc23", limit=2)
    for row, problem in zip(rows, problems):
        assert set(RECORD_FIELDS) <= set(row)
        assert row["prompt"] == pure_prompt(problem.question) and row["gold"] == problem.gold
        assert row["prompt_tokens"] == len(tokenizer(row["prompt"])["input_ids"])
        assert 1 <= row["response_tokens"] <= 8 and row["finish_reason"] in ("stop", "length")
        assert isinstance(row["correct"], bool) and row["reason"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["columns"] == ["MATH500", "AMC23", "Avg"]
    assert summary["run"]["max_new_tokens"] == 8 and summary["run"]["template"] == "pure"
    assert summary["benchmarks"]["amc23"]["problems"] == 2
    assert "| model |" in (out / "summary.md").read_text()
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert last["scores"] == summary["scores"]


def test_resume_after_a_crash_generates_only_the_missing_samples(tiny_model_dir, tmp_path, counting_hf, eval_grader):
    config = EvalConfig(model=str(tiny_model_dir), output_dir=str(tmp_path), benchmarks=("math500", "amc23"))
    config = replace(config, limit=3, max_new_tokens=6)
    run_evaluation(config, backend=counting_hf, grader=eval_grader, progress=False)
    assert counting_hf.prompts_seen == 6
    samples = tmp_path / "samples.jsonl"
    lines = samples.read_text(encoding="utf-8").splitlines(keepends=True)
    # A crash while writing the 5th record: four whole lines and half of the fifth survive.
    samples.write_text("".join(lines[:4]) + lines[4][: len(lines[4]) // 2], encoding="utf-8")
    summary = run_evaluation(config, backend=counting_hf, grader=eval_grader, progress=False)
    assert counting_hf.prompts_seen == 6 + 2
    after = samples.read_text(encoding="utf-8").splitlines(keepends=True)
    assert after[:4] == lines[:4] and len(after) == 6  # finished rows untouched, the torn line rewritten
    assert sorted(load_records(samples)) == sorted((b, i, 0) for b in ("math500", "amc23") for i in range(3))
    assert summary["benchmarks"]["math500"]["problems"] == 3
    run_evaluation(config, backend=counting_hf, grader=eval_grader, progress=False)
    assert counting_hf.prompts_seen == 8  # nothing left to generate


def test_finished_run_loads_no_model(tiny_model_dir, tmp_path, monkeypatch, scripted_backend, eval_grader):
    config = EvalConfig(model=str(tiny_model_dir), output_dir=str(tmp_path), benchmarks=("aime24",), limit=2)
    run_evaluation(config, backend=scripted_backend(lambda text, s: "x"), grader=eval_grader, progress=False)

    def no_backend(*args, **kwargs):
        raise AssertionError("a finished run must not load a model")

    monkeypatch.setattr(runner, "make_backend", no_backend)
    assert run_evaluation(config, grader=eval_grader, progress=False)["scores"]["AIME24"] == 0.0


def test_interrupted_run_resumes_where_it_stopped(tiny_model_dir, tmp_path, scripted_backend, eval_grader):
    golds = {pure_prompt(p.question): p.gold for p in load_benchmark("amc23", limit=5)}
    respond = lambda text, sample: f"so the answer is $\\boxed{{{golds[text]}}}$"  # noqa: E731
    config = EvalConfig(model=str(tiny_model_dir), output_dir=str(tmp_path), benchmarks=("amc23",), limit=5)
    killed = scripted_backend(respond, chunk_size=2, fail_on_call=2)
    with pytest.raises(KeyboardInterrupt):
        run_evaluation(config, backend=killed, grader=eval_grader, progress=False)
    assert len(load_records(tmp_path / "samples.jsonl")) == 2  # the first chunk was written
    resumed = scripted_backend(respond, chunk_size=2)
    summary = run_evaluation(config, backend=resumed, grader=eval_grader, progress=False)
    assert resumed.generated_prompts == 3
    assert summary["scores"] == {"AMC23": 100.0, "Avg": 100.0}


def test_scores_and_pass_at_k_with_samples(tiny_model_dir, tmp_path, scripted_backend, eval_grader):
    problems = load_benchmark("math500", limit=4) + load_benchmark("amc23", limit=4)
    by_prompt = {pure_prompt(p.question): p for p in problems}

    def respond(text, sample):  # math500: problem i right on its first i samples; amc23: always right
        problem = by_prompt[text]
        right = problem.benchmark == "amc23" or sample < problem.index
        return f"\\boxed{{{problem.gold if right else 'nonsense'}}}"

    config = EvalConfig(model=str(tiny_model_dir), output_dir=str(tmp_path), benchmarks=("math500", "amc23"))
    config = replace(config, limit=4, n=4, k=(1, 2, 4), temperature=1.0)
    summary = run_evaluation(config, backend=scripted_backend(respond), grader=eval_grader, progress=False)
    stats = summary["benchmarks"]["math500"]
    assert (stats["problems"], stats["samples"]) == (4, 16)
    assert stats["accuracy"] == 37.5  # avg@4 = (0 + 1 + 2 + 3) / 16
    assert stats["pass@k"] == {"1": 37.5, "2": 58.3, "4": 75.0}  # pass@2 = (0 + 1/2 + 5/6 + 1) / 4
    assert summary["scores"] == {"MATH500": 37.5, "AMC23": 100.0, "Avg": 68.8}


def test_hf_sampling_with_n_samples(tiny_model_dir, tmp_path, counting_hf, eval_grader):
    config = EvalConfig(
        model=str(tiny_model_dir), output_dir=str(tmp_path), benchmarks=("aime24",), limit=2, n=2, k=(1, 2)
    )
    config = replace(config, temperature=1.0, max_new_tokens=4)
    summary = run_evaluation(config, backend=counting_hf, grader=eval_grader, progress=False)
    assert sorted(load_records(tmp_path / "samples.jsonl")) == [("aime24", i, s) for i in range(2) for s in range(2)]
    assert set(summary["benchmarks"]["aime24"]["pass@k"]) == {"1", "2"}


def test_rerun_with_other_generation_settings_is_refused(tiny_model_dir, tmp_path, scripted_backend, eval_grader):
    config = EvalConfig(model=str(tiny_model_dir), output_dir=str(tmp_path), benchmarks=("aime24",), limit=1)
    run_evaluation(config, backend=scripted_backend(lambda t, s: "x"), grader=eval_grader, progress=False)
    other = replace(config, max_new_tokens=100)
    with pytest.raises(ConfigError, match="max_new_tokens: 3000 -> 100"):
        run_evaluation(other, backend=scripted_backend(lambda t, s: "x"), grader=eval_grader, progress=False)
    fresh = scripted_backend(lambda t, s: "x")
    run_evaluation(replace(other, overwrite=True), backend=fresh, grader=eval_grader, progress=False)
    assert fresh.generated_prompts == 1


def test_model_path_that_does_not_exist_fails_before_any_work(tmp_path, capsys, monkeypatch):
    def no_work(*args, **kwargs):
        raise AssertionError("no benchmark may load before the model path is checked")

    monkeypatch.setattr(runner, "load_benchmark", no_work)
    out = tmp_path / "out"
    assert main(["run", "--model", str(tmp_path / "missing"), "--output_dir", str(out), "--quiet"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not out.exists()


def test_check_model_path_rules(tmp_path, monkeypatch):
    check_model_path("Qwen/Qwen2.5-Math-7B")  # a hub name: left to the backend
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="holds no config.json"):
        check_model_path(str(tmp_path / "empty"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="does not exist"):
        check_model_path("empty/ckpt")  # hub-shaped, but its first part is a local directory


def test_unknown_benchmark_fails_with_the_known_ones(tiny_model_dir, tmp_path, capsys):
    assert (
        main(
            [
                "run",
                "--model",
                str(tiny_model_dir),
                "--benchmarks",
                "math500,gsm8k",
                "--output_dir",
                str(tmp_path / "o"),
            ]
        )
        == 2
    )
    assert (
        "unknown benchmark(s) 'gsm8k'; known: math500, minerva_math, olympiadbench, aime24, amc23"
        in capsys.readouterr().err
    )
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--n", "2"], "identical greedy samples"),
        (["--n", "2", "--temperature", "1", "--k", "3"], "each --k must be in 1..n=2"),
        (["--dataset", "x.jsonl"], "--dataset needs --problem_key and --answer_key"),
        (["--template", "nope"], "unknown template 'nope'"),
    ],
)
def test_bad_settings_fail_with_a_message(tiny_model_dir, tmp_path, capsys, flags, message):
    assert main(["run", "--model", str(tiny_model_dir), "--output_dir", str(tmp_path / "o"), *flags]) == 2
    assert message in capsys.readouterr().err


def test_user_dataset_runs_alongside_a_benchmark(tiny_model_dir, tmp_path, scripted_backend, eval_grader):
    data = tmp_path / "mine.jsonl"
    data.write_text('{"q": "What is 6*7?", "a": 42}\n{"q": "What is 1+1?", "a": "2"}\n')
    config = EvalConfig(
        model=str(tiny_model_dir),
        output_dir=str(tmp_path / "out"),
        benchmarks=("amc23",),
        limit=2,  # applies to the user dataset too
        dataset=str(data),
        problem_key="q",
        answer_key="a",
    )
    summary = run_evaluation(
        config, backend=scripted_backend(lambda t, s: "\\boxed{42}"), grader=eval_grader, progress=False
    )
    assert summary["columns"] == ["AMC23", "mine", "Avg"]
    assert summary["scores"]["mine"] == 50.0


def test_quiet_run_shows_no_weight_loading_bars(tiny_model_dir, tmp_path, capfd):
    from transformers.utils import logging as hf_logging

    hf_logging.enable_progress_bar()  # as in a fresh process
    argv = ["run", "--model", str(tiny_model_dir), "--benchmarks", "amc23", "--limit", "1", "--max_new_tokens", "2",
            "--grader.workers", "1", "--output_dir", str(tmp_path / "q"), "--quiet"]  # fmt: skip
    assert main(argv) == 0
    err = capfd.readouterr().err
    assert "Loading weights" not in err and "it/s]" not in err, err[-1000:]
