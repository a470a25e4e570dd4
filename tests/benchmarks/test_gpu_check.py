"""``benchmarks/gpu_check.py`` runs where a lent GPU machine would run it: PyTorch and transformers
only (vLLM, Ray, DeepSpeed, OpenRLHF and math-verify made unimportable), here on the CPU and small
(``--device cpu --tiny``). On CUDA it has not run yet: no GPU machine was at hand."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ABSENT = ["ray", "deepspeed", "vllm", "openrlhf", "flash_attn", "math_verify"]


@pytest.mark.slow
def test_gpu_check_runs_with_torch_and_transformers_only():
    launcher = (
        "import runpy, sys\n"
        f"sys.modules.update(dict.fromkeys({ABSENT!r}))  # import of any of these now fails\n"
        "sys.argv = ['benchmarks/gpu_check.py', '--device', 'cpu', '--tiny']\n"
        "runpy.run_path('benchmarks/gpu_check.py', run_name='__main__')\n"
    )
    done = subprocess.run([sys.executable, "-c", launcher], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["ok"] is True and report["device"] == "cpu"
    scoring = report["prm_scoring"]
    assert scoring["packed_tok_per_s"] > 0 and scoring["padded_tok_per_s"] > 0 and scoring["max_score_diff"] <= 0.05
    assert report["trainer"]["steps"] == 2 and all(n > 0 for n in report["trainer"]["grad_norms"])
    checks = report["bf16_vs_fp32"]
    assert checks["max_score_diff"] <= checks["tolerance"]["scores"] and checks["max_advantage_diff"] <= 1e-4


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="CUDA is here")
def test_gpu_check_says_when_cuda_is_missing():
    done = subprocess.run([sys.executable, "benchmarks/gpu_check.py"], cwd=REPO, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == 1 and json.loads(done.stdout.strip().splitlines()[-1])["error"] == "CUDA is not available"
