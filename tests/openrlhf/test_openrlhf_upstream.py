"""OpenRLHF's own unit tests (shipped in its wheel as the top-level ``tests`` package) still pass in
this project's environment, with the test stand-ins for flash-attn and vLLM on PYTHONPATH."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

STUBS = Path(__file__).resolve().parent / "stubs"


@pytest.mark.slow
def test_openrlhf_shipped_unit_tests_pass():
    site = Path(importlib.util.find_spec("openrlhf").origin).parents[1]
    assert (site / "tests" / "test_experience.py").exists(), "OpenRLHF's wheel no longer ships its tests"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(STUBS), os.environ.get("PYTHONPATH", "")]),
               DS_ACCELERATOR="cpu")  # fmt: skip
    command = [sys.executable, "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider", "-c", os.devnull,
               "--rootdir", str(site)]  # fmt: skip
    done = subprocess.run(command, cwd=site, env=env, capture_output=True, text=True, timeout=600)
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-2000:]
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    passed = int(re.search(r"(\d+) passed", summary).group(1))
    assert passed >= 200 and "failed" not in summary and "error" not in summary, summary
