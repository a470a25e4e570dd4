"""Every launch script in ``examples/scripts`` passes ``--dry_run`` with the paper's hyperparameters.

Scripts run as users run them (bash, environment overrides), with MODEL and PRM pointing at tiny
local directories and DRY_RUN=1, so they validate and exit without Ray or GPUs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "examples" / "scripts"
RECIPES = sorted(SCRIPTS.glob("pure_*.sh"))
CLUSTER = [SCRIPTS / "multinode" / "submit_pure.sh", SCRIPTS / "slurm" / "pure_ray.slurm"]
MATH_MODELS = ("qwen2.5-math-1.5b", "qwen2.5-math-7b")


# What the checks read of a model folder: a config.json (a PRM's names its family); nothing is loaded.
MODEL_CONFIG = '{"architectures": ["Qwen2ForTokenClassification"], "pure_prm": {"step_format": "pure"}}'


@pytest.fixture(scope="module")
def dry_runs(tmp_path_factory):
    """stdout of every script's dry run, keyed by script name."""
    root = tmp_path_factory.mktemp("scripts")
    for name in ("policy", "prm"):  # model folders as the checks see them (a config.json; nothing is loaded)
        (root / name).mkdir()
        (root / name / "config.json").write_text(MODEL_CONFIG)
    env = dict(os.environ, DRY_RUN="1", PYTHON=sys.executable, MODEL=str(root / "policy"), PRM=str(root / "prm"),
               OUTPUT=str(root / "out"))  # fmt: skip
    env.pop("SUBMIT_ADDRESS", None)

    def run(script: Path):
        extra = ["qwen2.5-7b", "prm_vr"] if script.name == "submit_pure.sh" else []
        done = subprocess.run(["bash", str(script), *extra], capture_output=True, text=True, env=env, timeout=300)
        return script.name, done

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(run, RECIPES + CLUSTER))


def config_of(stdout: str) -> dict:
    start = stdout.index("{")
    return json.loads(stdout[start : stdout.rindex("}") + 1])


def test_there_is_a_script_per_model_and_mode():
    names = {p.name for p in RECIPES}
    for model in ("qwen2.5-math-1.5b", "qwen2.5-math-7b", "qwen2.5-7b", "llama3.1-8b"):
        for mode in ("prm", "vr", "prm_vr"):
            assert f"pure_{mode}_{model}.sh" in names


@pytest.mark.parametrize("script", [p.name for p in RECIPES + CLUSTER])
def test_script_passes_dry_run(dry_runs, script):
    done = dry_runs[script]
    assert done.returncode == 0, done.stderr[-2000:]
    assert "dry run: configuration is valid; nothing was started" in done.stdout


@pytest.mark.parametrize("script", [p.name for p in RECIPES])
def test_recipe_uses_the_papers_hyperparameters(dry_runs, script):
    stem = script[len("pure_") : -len(".sh")]
    mode = next(m for m in ("prm_vr", "prm", "vr") if stem.startswith(f"{m}_"))
    model = stem[len(mode) + 1 :]
    out = config_of(dry_runs[script].stdout)
    config, placement = out["config"], out["placement"]
    assert config["pure"]["reward_mode"] == mode
    assert (config["rollout"]["batch_size"], config["rollout"]["n_samples_per_prompt"]) == (64, 8)
    assert config["train"]["batch_size"] == 512  # one gradient step per rollout batch
    assert config["actor"]["adam"]["lr"] == (5e-7 if mode == "prm" else 1e-6)
    assert config["actor"]["lr_scheduler"] == "constant" and config["rollout"]["temperature"] == 1.0
    assert (config["algo"]["kl"]["init_coef"], config["algo"]["kl"]["use_loss"]) == (1e-3, False)
    assert config["pure"]["credit"] == {"mode": "softmin", "temperature": 0.1, "gamma": 1.0}
    assert config["algo"]["advantage"]["estimator"] == "rloo" and config["ckpt"]["save_steps"] == 50
    steps_per_episode = 8523 * 8 // 512
    episodes = config["train"]["num_episodes"]
    target = 500 if model in MATH_MODELS else 1000
    assert (episodes - 1) * steps_per_episode < target <= episodes * steps_per_episode
    assert config["rollout"]["max_new_tokens"] == (3072 if model in MATH_MODELS else 8192)
    assert config["data"]["label_key"] == "label" and config["data"]["input_key"] == "prompt"
    assert placement["total_gpus"] == 8 and ("prm" in placement) == (mode != "vr")


def test_multinode_submission_spans_the_nodes(dry_runs):
    out = dry_runs["submit_pure.sh"].stdout
    assert "would run ray job submit --address http://127.0.0.1:8265" in out
    assert config_of(out[out.index("\n") :])["placement"]["actor"]["gpus"] == 16


@pytest.mark.parametrize("script", ["pure_prm_qwen2.5-7b.sh", "pure_prm_vr_qwen2.5-math-7b.sh"])
def test_prm_recipes_default_to_the_papers_prm_and_take_a_family(tmp_path, script):
    (tmp_path / "config.json").write_text(MODEL_CONFIG)
    env = dict(os.environ, DRY_RUN="1", PYTHON=sys.executable, MODEL=str(tmp_path))
    env.pop("PRM", None)
    done = subprocess.run(["bash", str(SCRIPTS / script)], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    prm = config_of(done.stdout)["config"]["pure"]["prm"]
    assert prm["model_name_or_path"] == "jinachris/PURE-PRM-7B" and prm["family"] is None  # detected at load
    assert prm["score_transform"] == "auto" and prm["format"] is None
    env.update(PRM=str(tmp_path), PRM_FAMILY="rlhflow", PRM_SCORE_TRANSFORM="none")
    done = subprocess.run(["bash", str(SCRIPTS / script)], capture_output=True, text=True, env=env, timeout=300)
    prm = config_of(done.stdout)["config"]["pure"]["prm"]
    assert (prm["family"], prm["score_transform"]) == ("rlhflow", "none")


def test_gpu_smoke_runs_the_recipe_layout_small_with_a_checkpoint_every_step(tmp_path):
    for name in ("policy", "prm"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text(MODEL_CONFIG)
    env = dict(os.environ, DRY_RUN="1", PYTHON=sys.executable, MODEL=str(tmp_path / "policy"), GPUS_PER_NODE="2",
               PRM=str(tmp_path / "prm"), OUTPUT=str(tmp_path / "out"), STEPS="3")  # fmt: skip
    done = subprocess.run(["bash", str(SCRIPTS / "gpu_smoke.sh")], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    out = config_of(done.stdout)
    config, placement = out["config"], out["placement"]
    assert (config["rollout"]["batch_size"], config["rollout"]["n_samples_per_prompt"]) == (4, 4)
    assert config["train"]["batch_size"] == 16 and config["data"]["max_samples"] == 12  # 3 steps of one update
    assert config["ckpt"]["save_steps"] == 1 and config["pure"]["dump_rollouts"] == str(tmp_path / "out" / "rollouts")
    assert config["train"]["colocate_all"] and config["vllm"]["enable_sleep"] and config["ds"]["enable_sleep"]
    assert config["pure"]["prm"]["model_name_or_path"] == str(tmp_path / "prm") and config["pure"]["prm"]["colocate"]
    assert placement["total_gpus"] == 2 and "memory" in placement
    assert f"-m openrlhf_pure.cli.check_run {tmp_path / 'out'} --steps 3" in done.stdout

    (tmp_path / "out" / "ckpt").mkdir(parents=True)
    refused = subprocess.run(["bash", str(SCRIPTS / "gpu_smoke.sh")], capture_output=True, text=True,
                             env=dict(env, DRY_RUN="0"), timeout=60)  # fmt: skip
    assert refused.returncode == 2 and "already holds a run" in refused.stderr
    without_gpus = {k: v for k, v in env.items() if k not in ("GPUS_PER_NODE", "DRY_RUN")}
    without_gpus["PATH"] = "/usr/bin:/bin"  # no nvidia-smi
    refused = subprocess.run(["bash", str(SCRIPTS / "gpu_smoke.sh")], capture_output=True, text=True, env=without_gpus)
    assert refused.returncode == 2 and "no GPU found" in refused.stderr


def test_a_recipe_with_a_preset_leaves_the_advantage_options_to_it(tmp_path):
    from openrlhf_pure.core.advantages import AdvantageConfig

    for name in ("policy", "prm"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text(MODEL_CONFIG)
    env = dict(os.environ, DRY_RUN="1", PYTHON=sys.executable, MODEL=str(tmp_path / "policy"),
               PRM=str(tmp_path / "prm"), OUTPUT=str(tmp_path / "out"), PRESET="authors_verl")  # fmt: skip
    done = subprocess.run(["bash", str(SCRIPTS / "pure_prm_vr_qwen2.5-7b.sh")], capture_output=True, text=True,
                          env=env, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    advantage = config_of(done.stdout)["config"]["pure"]["advantage"]
    assert advantage == AdvantageConfig.preset("authors_verl").with_overrides({"max_len": 8192}).to_dict()
