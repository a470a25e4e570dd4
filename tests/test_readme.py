"""The README stays true: its two commands come first, and its Python API example runs."""

from __future__ import annotations

import re
from pathlib import Path

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
