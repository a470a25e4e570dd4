"""``run_real_loop.py``'s argument checks: each bad argument stops it, naming the flag, before Ray starts."""

from __future__ import annotations

import pytest
from run_real_loop import parse


def model_folder(path):
    path.mkdir()
    (path / "config.json").write_text("{}")
    return str(path)


def error_of(capsys, argv: list[str]) -> str:
    with pytest.raises(SystemExit) as stopped:
        parse(argv)
    assert stopped.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


def test_a_folder_without_config_json_is_named(tmp_path, capsys):
    prm = model_folder(tmp_path / "prm")
    message = error_of(capsys, ["--model", str(tmp_path / "absent"), "--prm", prm, "--out", str(tmp_path / "out")])
    assert "--model" in message and "absent" in message and "config.json" in message
    policy = model_folder(tmp_path / "policy")
    message = error_of(capsys, ["--model", policy, "--prm", str(tmp_path), "--out", str(tmp_path / "out")])
    assert "--prm" in message and "config.json" in message


def test_a_used_output_folder_is_refused_and_an_empty_one_accepted(tmp_path, capsys):
    models = ["--model", model_folder(tmp_path / "policy"), "--prm", model_folder(tmp_path / "prm")]
    (tmp_path / "out").mkdir()
    assert parse([*models, "--out", str(tmp_path / "out")]).out == str(tmp_path / "out")
    (tmp_path / "out" / "left.txt").write_text("x")
    assert "--out" in error_of(capsys, [*models, "--out", str(tmp_path / "out")])
    assert "--out" in error_of(capsys, [*models, "--out", str(tmp_path / "out" / "left.txt")])
