"""User mistakes every CLI answers in one line before any work: ``--device cuda`` on a machine
without CUDA, and files of earlier runs that are not what they should be."""

from __future__ import annotations

import pytest
import torch

from openrlhf_pure.cli import eval as eval_cli
from openrlhf_pure.cli import eval_prm, serve_prm
from openrlhf_pure.models.tiny import tiny_causal_lm


@pytest.fixture
def no_cuda(monkeypatch, tmp_path):
    """torch sees no GPU; a folder that passes for a model (nothing is loaded before the error)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    (tmp_path / "model").mkdir()
    config = '{"architectures": ["Qwen2ForTokenClassification"], "pure_prm": {"step_format": "pure"}}'
    (tmp_path / "model" / "config.json").write_text(config)
    return tmp_path / "model"


@pytest.mark.parametrize(
    "cli, argv",
    [
        (eval_cli.main, ["run", "--benchmarks", "amc23", "--model", "{model}", "--output_dir", "{out}"]),
        (serve_prm.main, ["--model", "{model}"]),
        (eval_prm.main, ["best-of-n", "--prm", "{model}", "--data", "{model}/config.json", "--output_dir", "{out}"]),
    ],
)
def test_cuda_without_a_gpu_is_one_line(no_cuda, tmp_path, capsys, cli, argv):
    argv = [a.format(model=no_cuda, out=tmp_path / "out") for a in argv]
    assert cli([*argv, "--device", "cuda"]) == 2
    err = capsys.readouterr().err
    assert err == f"error: --device cuda: torch sees no CUDA GPU here (torch {torch.__version__}); use --device cpu\n"
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory, tokenizer):
    """A tiny random policy and its tokenizer, saved."""
    path = tmp_path_factory.mktemp("tiny")
    tiny_causal_lm(len(tokenizer)).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


@pytest.mark.parametrize("content", [b"{not json", b'{"model": "caf\xe9"}', b"[1, 2]"])
def test_a_broken_run_json_is_named_before_the_model_loads(tiny_dir, tmp_path, capsys, monkeypatch, content):
    out = tmp_path / "out"
    out.mkdir()
    (out / "run.json").write_bytes(content)
    (out / "samples.jsonl").write_text("")
    monkeypatch.setattr("openrlhf_pure.evaluation.runner.make_backend", lambda *a: pytest.fail("no model may load"))
    argv = ["run", "--benchmarks", "amc23", "--limit", "1", "--model", tiny_dir, "--output_dir", str(out)]
    assert eval_cli.main(argv) == 2
    err = capsys.readouterr().err
    assert f"{out / 'run.json'}" in err and len(err.splitlines()) == 1


def test_compare_names_a_summary_that_is_not_utf8(tmp_path, capsys):
    (tmp_path / "summary.json").write_bytes(b'{"scores": {"caf\xe9": 1}}')
    assert eval_cli.main(["compare", str(tmp_path), "--out", str(tmp_path / "cmp")]) == 2
    assert "summary.json:1: not UTF-8 text" in capsys.readouterr().err
