"""Test-only harness of OpenRLHF's real loop on CPU, shared by ``test_openrlhf_real_loop.py`` and
``run_real_loop.py``: the stand-ins on the import path, Ray with 2 CPUs and 2 logical GPUs whose
workers install :mod:`openrlhf_on_cpu`, the arithmetic prompts, and the recipe's flags at tiny scale.

Nothing heavy is imported at module level (the test collects it).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
STUBS = HERE / "stubs"
STUB_ROOTS = ("flash_attn", "vllm")
N = 2  # samples per prompt
MAX_NEW = 24


def enter_stand_ins() -> tuple[list[str], dict[str, str | None]]:
    """Put ``stubs/`` and this folder on ``sys.path`` and ``PYTHONPATH`` (inherited by Ray workers), set
    ``DS_ACCELERATOR=cpu``; returns what :func:`leave_stand_ins` restores."""
    saved = list(sys.path), {k: os.environ.get(k) for k in ("PYTHONPATH", "DS_ACCELERATOR")}
    sys.path[:0] = [str(STUBS), str(HERE)]
    parts = [str(STUBS), str(HERE), os.environ.get("PYTHONPATH", "")]
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in parts if p)
    os.environ["DS_ACCELERATOR"] = "cpu"
    return saved


def leave_stand_ins(saved: tuple[list[str], dict[str, str | None]]) -> None:
    """Undo :func:`enter_stand_ins` and drop the stand-in modules from ``sys.modules``."""
    sys.path[:] = saved[0]
    for key, value in saved[1].items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    for name in [m for m in sys.modules if m.split(".")[0] in STUB_ROOTS]:
        del sys.modules[name]


def start_ray(records: Path) -> None:
    """Ray with 2 CPUs and 2 logical GPUs; workers start with the CPU call sites installed and the
    engine stand-ins record what they received under ``records``."""
    import ray

    ray.init(num_cpus=2, num_gpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR",
             runtime_env={"worker_process_setup_hook": "openrlhf_on_cpu.install",
                          "env_vars": {"PURE_TEST_ENGINE_RECORD": str(records)}})  # fmt: skip


def write_arithmetic_prompts(path: Path) -> str:
    """4 arithmetic problems in the shipped data's shape (a prompt and a label with the gold answer and
    whether PURE-PRM+VR may use it), written to ``path``; returns ``str(path)``."""
    from openrlhf_pure.data.arithmetic import all_problems

    rows = [{"prompt": p.question + "\n\n", "label": {"gt_answer": str(p.answer), "pure_vr_answer_visible": i != 1}}
            for i, p in enumerate(all_problems()[::81])]  # fmt: skip
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


def recipe_argv(models: dict, data: str, out: Path, dp: int = 1, zero: int = 2, mode: str = "prm_vr",
                n_samples: int = N, micro_batch: int = 2) -> list[str]:  # fmt: skip
    """The shipped recipe's flags at tiny scale, plus the CPU-only flags: 2 prompts of ``n_samples`` samples a
    step, in micro-batches of ``micro_batch`` samples (split between the ``dp`` ranks when training)."""
    argv = [
        "--actor.model_name_or_path", models["policy"], "--actor.num_nodes", "1", "--actor.num_gpus_per_node", str(dp),
        "--ref.num_nodes", "1", "--ref.num_gpus_per_node", str(dp),
        "--vllm.num_engines", str(dp), "--vllm.tensor_parallel_size", "1", "--vllm.gpu_memory_utilization", "0.5",
        "--train.colocate_all", "--vllm.enable_sleep", "--ds.enable_sleep",
        "--ds.zero_stage", str(zero), "--ds.param_dtype", "bf16", "--actor.gradient_checkpointing_enable",
        "--data.prompt_dataset", data, "--data.max_samples", "4", "--data.input_key", "prompt",
        "--data.label_key", "label", "--data.max_len", "256", "--rollout.max_new_tokens", str(MAX_NEW),
        "--rollout.batch_size", "2", "--rollout.n_samples_per_prompt", str(n_samples), "--rollout.temperature", "1.0",
        "--train.batch_size", str(2 * n_samples), "--train.micro_batch_size", str(micro_batch // dp),
        "--rollout.micro_batch_size", str(micro_batch),
        "--train.max_epochs", "1", "--train.num_episodes", "1",
        "--actor.adam.lr", "1e-3", "--actor.lr_scheduler", "constant", "--actor.lr_warmup_ratio", "0",
        "--actor.eps_clip", "0.2", "--actor.loss_agg_mode", "token-mean", "--actor.max_norm", "1.0",
        "--algo.advantage.estimator", "rloo", "--algo.kl.init_coef", "1e-3", "--algo.kl.estimator", "k1",
        "--pure.reward_mode", mode, "--pure.credit.mode", "softmin", "--pure.credit.temperature", "0.1",
        "--ckpt.save_steps", "1", "--ckpt.save_hf", "--ckpt.path", str(out / "ckpt"),
        "--ckpt.output_dir", str(out / "final"), "--logger.tensorboard_dir", str(out / "tensorboard"),
        "--pure.dump_rollouts", str(out / "rollouts"),
        "--ds.attn_implementation", "sdpa", "--vllm.sync_backend", "gloo",
    ]  # fmt: skip
    if mode != "vr":
        argv += ["--pure.prm.model_name_or_path", models["prm"], "--pure.prm.format", "pure", "--pure.prm.colocate",
                 "--pure.prm.num_replicas", str(dp), "--pure.prm.num_gpus_per_replica", "0.2"]  # fmt: skip
    return argv
