"""The READMEs stay true: the two opening commands, the Python API example, and every documented command."""

from __future__ import annotations

import importlib
import os
import re
import shlex
import shutil
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
import torch

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_opens_with_the_demo_and_test_commands():
    first_block = re.search(r"```bash\n(.*?)```", README.read_text(), re.S).group(1)
    commands = [line.split("#")[0].strip() for line in first_block.strip().splitlines()]
    assert commands == ["make demo", "make test"]


def test_readme_python_api_example_runs(tokenizer):
    code = re.search(r"```python\n(.*?)```", README.read_text(), re.S).group(1)
    texts = ["First:\n\n1 + 2 = 3.\n\nSo 3.", "It is 3."]
    rows = [tokenizer(t)["input_ids"] + [tokenizer.eos_token_id] for t in texts]
    width = max(map(len, rows))
    response_ids = torch.tensor([r + [tokenizer.pad_token_id] * (width - len(r)) for r in rows]).repeat(2, 1)
    action_mask = response_ids != tokenizer.pad_token_id
    namespace = {
        "tokenizer": tokenizer,
        "response_ids": response_ids,
        "action_mask": action_mask,
        "prm_scores": torch.tensor([[0.9, -0.5, 0.7], [0.4, 0.0, 0.0]]).repeat(2, 1),
        "vr": torch.tensor([1.0, 0.0, 0.0, 1.0]),
        "log_probs": -torch.rand(4, width),
        "ref_log_probs": -torch.rand(4, width),
    }
    exec(compile(code, str(README), "exec"), namespace)  # noqa: S102 - the project's own README
    assert namespace["result"].advantages.shape == (4, width)
    assert torch.allclose(namespace["returns"][0, :2], torch.tensor([-0.5, -0.5]))


# --- every documented command ----------------------------------------------------------------

REPO = README.parent
DOCS = ("README.md", "examples/README.md", "eval/README.md", "prm/README.md", "dockerfile/README.md",
        "data/train/README.md")  # fmt: skip
# Commands that cannot run on a CPU machine without network, by prefix, with the reason.
NOT_HERE = {
    "make demo": "the main job, minutes of CPU: tests/engines/test_demo.py runs it shortened",
    "make test": "this test suite itself",
    "make real-model": "installs and converts a 135M model (tests/real_model run on its folder)",
    "N=10 bash examples/scripts/real_model_smoke.sh": "minutes of CPU on the converted 135M model (tests/real_model)",
    "docker ": "no Docker engine on these machines (the Dockerfile is linted by tests/openrlhf)",
    "MODEL=Qwen/Qwen2.5-Math-7B bash examples/scripts/eval.sh": "downloads a 7B model (tests/evaluation runs eval.sh)",
    "MODEL=runs/pure/actor BACKEND=vllm": "vLLM on 8 GPUs",
    "pure-eval run --model Qwen/Qwen2.5-Math-7B --backend vllm": "vLLM on 8 GPUs",
    "bash prm/stage1_head.sh": "DeepSpeed on 8 GPUs (its DRY_RUN=1 form runs below)",
    "bash prm/stage2_full.sh": "DeepSpeed on 8 GPUs after stage 1",
    "DATA=data/prm800k_trl.jsonl bash prm/stage1_head.sh": "DeepSpeed on 8 GPUs",
    "python -m openrlhf_pure.cli.prm_data convert-prm800k prm800k/": "needs the raw PRM800K files (openai/prm800k)",
    "pure-eval-prm processbench --prm runs/prm/stage2/final": "a trained 7B PRM and ProcessBench from the hub",
    "pure-eval-prm best-of-n --prm runs/prm/stage2/final": "a trained 7B PRM and your rollouts",
}
INLINE_COMMAND = re.compile(r"^(?:[A-Z_]+=\S+ )*(?:python -m openrlhf_pure|pure-|bash |make )\S*( \S+)+$")


def documented_commands(doc: str) -> list[tuple[str, bool]]:
    """(command, in a block that starts a background job) of a markdown file, in order: each line of
    its ``bash`` blocks (continuations joined, comments dropped) and each complete inline command."""
    text = (REPO / doc).read_text()
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        lines = [line.split(" #")[0].rstrip() for line in block.replace("\\\n", " ").splitlines()]
        lines = [" ".join(line.split()) for line in lines if line.strip() and not line.lstrip().startswith("#")]
        background = any(line.endswith("&") for line in lines)
        commands += [(line, background) for line in lines]
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    for span in re.findall(r"`([^`\n]+)`", prose):
        placeholder = re.search(r"\.\.\.|\||\[|\b[A-Z][A-Z_]{2,}\b(?!=)", span)
        if INLINE_COMMAND.match(span) and not placeholder and ("--" in span or "/" in span):
            commands.append((span, False))
    return commands


def reason_not_run(command: str) -> str | None:
    return next((why for prefix, why in NOT_HERE.items() if command.startswith(prefix)), None)


def test_every_documented_command_runs_here_or_says_why_not():
    commands = [c for doc in DOCS for c, _ in documented_commands(doc)]
    assert len(commands) > 20
    used = {prefix for prefix in NOT_HERE if any(c.startswith(prefix) for c in commands)}
    assert used == set(NOT_HERE)  # no stale reason
    runnable = [c for c in commands if reason_not_run(c) is None]
    assert "python -m openrlhf_pure.cli.tiny_models --out runs/tiny" in runnable  # what the docs' runs use
    assert any(c.startswith("pure-eval run --model runs/tiny") for c in runnable)


def fresh_copy(target: Path) -> Path:
    """The repository's files as a fresh clone has them (tracked and new, nothing ignored)."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, check=True,
                            capture_output=True).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        if (REPO / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, target / name)
    return target


def run_in_process(command: str) -> int | None:
    """Run a console script or ``python -m openrlhf_pure.cli.X`` command through its ``main``; None if it is neither."""
    words = shlex.split(command)
    if words[:2] == ["python", "-m"] and words[2].startswith("openrlhf_pure.cli."):
        main, argv = importlib.import_module(words[2]).main, words[3:]
    elif words[0] in CONSOLE_SCRIPTS:
        main, argv = CONSOLE_SCRIPTS[words[0]].load(), words[1:]
    else:
        return None
    try:
        return main(argv)
    except SystemExit as stop:  # --help
        return stop.code or 0


CONSOLE_SCRIPTS = {e.name: e for e in entry_points(group="console_scripts") if e.name.startswith("pure-")}


@pytest.mark.slow
def test_every_documented_command_runs_as_written_in_a_fresh_clone(tmp_path, monkeypatch, capsys):
    copy = fresh_copy(tmp_path / "clone")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    monkeypatch.chdir(copy)
    for doc in DOCS:
        background_blocks_run = set()
        for command, background in documented_commands(doc):
            if reason_not_run(command) or command == ". .venv/bin/activate":  # the test's PATH has .venv/bin
                continue
            if background:  # a block with a server in the background runs as one script
                block = "\n".join(c for c, b in documented_commands(doc) if b)
                if block not in background_blocks_run:
                    background_blocks_run.add(block)
                    done = subprocess.run(["bash", "-ec", block], cwd=copy, env=env, capture_output=True, text=True,
                                          timeout=300)  # fmt: skip
                    assert done.returncode == 0, (doc, block, done.stdout[-2000:], done.stderr[-2000:])
                continue
            status = run_in_process(command)
            if status is None:
                done = subprocess.run(["bash", "-ec", command], cwd=copy, env=env, capture_output=True, text=True,
                                      timeout=300)  # fmt: skip
                status, output = done.returncode, done.stdout[-2000:] + done.stderr[-2000:]
            else:
                output = capsys.readouterr()
            assert status == 0, (doc, command, output)
    assert (copy / "runs/first_hour/final/config.json").is_file() and (copy / "runs/eval/cmp.md").is_file()
