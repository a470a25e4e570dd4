"""The built-in CPU demo: PURE's comparison on a generated arithmetic task, in minutes.

1. a tokenizer trained on the fly, a tiny Qwen2-shaped policy (random weights);
2. warm-up: brief supervised fine-tuning (the "base model") on correct solutions with, at a small
   rate, the three shapes PURE.md section 8 reports hacked (``data.arithmetic.warmup_solution``),
   so that the warm-up policy produces each of them now and then, as a pretrained model does;
3. the PRM, trained once: the warmed-up model fine-tuned further on correct solutions (a
   stronger "math model", as PURE's PRM is built on Qwen2.5-Math-7B), then trained with the
   project's PRM trainer on step labels from correct solutions and solutions with a planted
   wrong step, and never shown the hack shapes;
4. the runs (``demo_runs.parse_run``), by default PURE-PRM+VR with min-form (softmin) credit, the same
   with sum-form credit, and PURE-VR, all from the same warm-up policy and PRM, each in its own
   worker process with one torch thread (``workers`` at a time);
5. greedy accuracy on held-out problems before and after RL, one side-by-side table
   (``engines.local.comparison``), one plot with every run, a report folder and one JSON line.
Everything is seeded: the same seed gives the same runs on CPU (``threads`` torch threads for
the warm-up, one for the PRM and for each run). PURE-VR runs start as soon as the warm-up
policy exists, next to the PRM's training; the PRM runs start when the PRM is ready.
Every model folder it writes (``policy_warmup``, ``prm_backbone``, ``prm/final``,
``<run>/rl/checkpoints/step_*/policy``) holds its tokenizer and its prompt template, so
``pure-eval``, ``pure-train`` and ``pure-eval-prm`` prompt them as the demo did without being told.
"""

from __future__ import annotations

import contextlib
import copy
import json
import multiprocessing
import os
import random
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import torch

from openrlhf_pure.atomic import write_text_atomic
from openrlhf_pure.core.grading.extract import extract_answer
from openrlhf_pure.core.grading.reward import verifiable_rewards
from openrlhf_pure.data.arithmetic import (
    ArithmeticProblem,
    arithmetic_corpus,
    prm_rows,
    solution_steps,
    split_problems,
    warmup_solution,
)
from openrlhf_pure.data.problems import Problem, choose_visible
from openrlhf_pure.data.prompts import PURE_TEMPLATE, PromptFormat, record_prompt_format
from openrlhf_pure.data.stepwise import parse_trl
from openrlhf_pure.engines.local.comparison import HACK_PANELS, comparison_table, summarize_runs
from openrlhf_pure.engines.local.demo_report import write_summary
from openrlhf_pure.engines.local.demo_runs import RunSpec, parse_runs, run_advantage
from openrlhf_pure.engines.local.rollout import generate_rollouts
from openrlhf_pure.engines.local.sft import supervised_finetune
from openrlhf_pure.engines.local.trainer import LocalTrainConfig, LocalTrainer
from openrlhf_pure.engines.plots import DEFAULT_PANELS, plot_runs
from openrlhf_pure.engines.prm_scorer import PRMScorer
from openrlhf_pure.engines.prm_trainer import PRMTrainConfig, PRMTrainer
from openrlhf_pure.models.prm import ProcessRewardModel
from openrlhf_pure.models.tiny import tiny_causal_lm, train_tiny_tokenizer

# The demo's policy is prompted with PURE's prompt followed by a blank line (its warm-up examples).
DEMO_PROMPT = PromptFormat(PURE_TEMPLATE + "\n\n", "\n\n")


@dataclass
class DemoConfig:
    """The demo's settings; the defaults run in under 5 minutes on 2 CPU cores.

    Args:
        output_dir: the report folder.
        seed: seeds everything.
        runs: comma-separated runs (``demo_runs.parse_run``); the first is the "default run" whose
            accuracy the JSON line's ``accuracy_after`` reports.
        mode: "prm" or "prm_vr", for runs that do not name theirs.
        preset: the rewards-to-advantages preset ("default", "authors_openrlhf", "authors_verl")
            for runs that do not name theirs; None for the project's default.
        temperature: softmin T (overrides the presets').
        visible_fraction: share of training problems whose answer the verifier may use in
            PURE-PRM+VR (the paper: 10%); PURE-VR sees every answer.
        rl_steps, prompts_per_step, samples_per_prompt, rl_lr: each RL run.
        warmup_steps: supervised steps of the policy warm-up.
        hack_rate: share of warm-up responses in each hack shape (thinking, giant step, zero steps).
        prm_backbone_steps, prm_steps: extra supervised steps of the PRM's backbone, PRM training steps.
        max_new_tokens: response length limit (the honest solution takes about 45 tokens).
        hidden, layers: the tiny models' size.
        held_out: held-out problems for accuracy (400: one standard error is about 2.5 points).
        max_term, max_factor: the task, (a + b) * c with a, b <= max_term and 2 <= c <= max_factor.
        workers: runs trained at the same time, one process and one torch thread each.
        threads: torch threads of the warm-up (fixed, for determinism; the PRM trains with one).
    """

    output_dir: str = "runs/demo"
    seed: int = 0
    runs: str = "softmin,sum,vr"
    mode: str = "prm_vr"
    preset: str | None = None
    temperature: float = 0.1
    visible_fraction: float = 0.1
    rl_steps: int = 80
    prompts_per_step: int = 16
    samples_per_prompt: int = 4
    rl_lr: float = 5e-5
    warmup_steps: int = 600
    hack_rate: float = 0.03
    prm_backbone_steps: int = 200
    prm_steps: int = 800
    max_new_tokens: int = 96
    hidden: int = 64
    layers: int = 2
    held_out: int = 400
    max_term: int = 19
    max_factor: int = 9
    workers: int = 3
    threads: int = 2


def demo_task(config: DemoConfig) -> tuple[list[ArithmeticProblem], list[ArithmeticProblem]]:
    """(train, held-out) problems of the demo's task for its seed."""
    return split_problems(config.seed, config.held_out, config.max_term, config.max_factor)


def greedy_accuracy(
    model, tokenizer, problems: list[ArithmeticProblem], max_new_tokens: int
) -> tuple[float, list[str]]:
    """Share of problems whose greedy response has the right final answer, and the responses."""
    rollout = generate_rollouts(
        model.eval(), tokenizer, [DEMO_PROMPT.render(p.question) for p in problems], 1, max_new_tokens, 0.0
    )
    rewards = verifiable_rewards(rollout.responses, [str(p.answer) for p in problems])
    return sum(r or 0.0 for r in rewards) / len(problems), rollout.responses


def warm_up(config: DemoConfig, out: Path, progress=print) -> dict:
    """Steps 1-2: the tokenizer and the warm-up policy, saved under ``out/policy_warmup``.

    Returns:
        {"warmup_styles": responses per style, "accuracy_before": held-out greedy accuracy}.
    """
    random.seed(config.seed)
    torch.manual_seed(config.seed)
    train, held_out = demo_task(config)
    rng = random.Random(config.seed)
    examples, styles = [], {}
    for p in train:
        response, style = warmup_solution(p, rng, config.hack_rate)
        examples.append((DEMO_PROMPT.render(p.question), response))
        styles[style] = styles.get(style, 0) + 1
    corpus = arithmetic_corpus(config.seed, 600, config.max_term, config.max_factor)
    tokenizer = train_tiny_tokenizer(corpus + [q + r for q, r in examples[:400]], vocab_size=400)

    shown = ", ".join(f"{k} {v}" for k, v in sorted(styles.items()))
    progress(f"[1/4] warm-up: {config.warmup_steps} supervised steps on {len(examples)} solutions ({shown})")
    policy = tiny_causal_lm(len(tokenizer), hidden=config.hidden, layers=config.layers, seed=config.seed)
    record_prompt_format(policy, DEMO_PROMPT)  # every folder written from it says how it is prompted
    tick = time.perf_counter()
    supervised_finetune(policy, tokenizer, examples, config.warmup_steps, seed=config.seed)
    progress(f"      {time.perf_counter() - tick:.0f} s")
    policy.save_pretrained(out / "policy_warmup")
    tokenizer.save_pretrained(out / "policy_warmup")
    accuracy_before, _ = greedy_accuracy(policy, tokenizer, held_out, config.max_new_tokens)
    return {"warmup_styles": styles, "accuracy_before": accuracy_before}


def train_prm(config: DemoConfig, out: Path, progress=print) -> dict:
    """Step 3: the PRM from the warm-up policy in ``out/policy_warmup``, saved under ``out/prm/final``.

    Returns:
        the PRM's held-out step metrics ({"eval/step_accuracy", ...}).
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    train, held_out = demo_task(config)
    rng = random.Random(config.seed + 3)
    tokenizer = AutoTokenizer.from_pretrained(out / "policy_warmup")
    policy = AutoModelForCausalLM.from_pretrained(out / "policy_warmup")
    progress(f"[2/4] PRM: backbone +{config.prm_backbone_steps} supervised steps, then {config.prm_steps} PRM steps")
    honest = [(DEMO_PROMPT.render(p.question), "\n\n".join(solution_steps(p, filler=rng.random() < 0.5)[0]))
              for p in train]  # fmt: skip
    backbone = policy
    tick = time.perf_counter()
    supervised_finetune(backbone, tokenizer, honest, config.prm_backbone_steps, seed=config.seed + 1)
    backbone.save_pretrained(out / "prm_backbone")
    tokenizer.save_pretrained(out / "prm_backbone")
    torch.manual_seed(config.seed + 2)  # the new head's initialisation depends on the seed alone
    prm = ProcessRewardModel.from_pretrained(str(out / "prm_backbone"), new_head=True)
    prm.prompt_template = PURE_TEMPLATE  # its rows' prompts: PURE's prompt of each question (data.arithmetic)
    prm_train = [parse_trl(r) for r in prm_rows(train, seed=config.seed, per_problem=2)]
    prm_eval = [parse_trl(r) for r in prm_rows(held_out[:200], seed=config.seed + 1, per_problem=2)]
    prm_config = PRMTrainConfig(output_dir=str(out / "prm"), max_steps=config.prm_steps, rows_per_step=32, lr=1e-3,
                                weight_decay=0.0, seed=config.seed, progress=False)  # fmt: skip
    prm_history = PRMTrainer(prm, prm_train, prm_eval, prm_config).train()
    prm_metrics = {k: v for k, v in prm_history[-1].items() if k.startswith("eval/")}
    progress(
        f"      {time.perf_counter() - tick:.0f} s; held-out "
        + ", ".join(f"{k[5:]} {v:.3f}" for k, v in prm_metrics.items())
    )
    return prm_metrics


def train_run(config: DemoConfig, run: RunSpec, out: Path) -> dict:
    """Step 4 for one run, in the calling process with one torch thread; its log goes to ``<run>/train.log``.

    Returns:
        {"name", "history" (the RL metrics per step), "accuracy_after", "alarms" ([step, kind,
        message] per warning), "seconds"}.
    """
    start = time.perf_counter()
    folder = out / "runs" / run.name.replace("/", "_").replace("@", "_")
    folder.mkdir(parents=True, exist_ok=True)
    with output_to(folder / "train.log"):
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()  # the tiny models' load reports and bars are noise here
        hf_logging.disable_progress_bar()
        torch.set_num_threads(1)
        random.seed(config.seed)
        torch.manual_seed(config.seed)
        tokenizer = AutoTokenizer.from_pretrained(out / "policy_warmup")
        policy = AutoModelForCausalLM.from_pretrained(out / "policy_warmup")
        train, held_out = demo_task(config)
        problems = [Problem(DEMO_PROMPT.render(p.question), str(p.answer)) for p in train]
        problems = choose_visible(problems, config.visible_fraction, config.seed)
        scorer = None
        if run.mode != "vr":
            prm = ProcessRewardModel.from_pretrained(str(out / "prm" / "final"))
            prm_scorer = PRMScorer(prm, policy_tokenizer=tokenizer)

            def scorer(prompts, rollout, layout):
                return prm_scorer.score_policy_tokens(prompts, rollout.response_ids, layout)

        rl_config = LocalTrainConfig(
            mode=run.mode, steps=config.rl_steps, prompts_per_step=config.prompts_per_step,
            samples_per_prompt=config.samples_per_prompt, max_new_tokens=config.max_new_tokens, lr=config.rl_lr,
            advantage=run_advantage(run, config.temperature), seed=config.seed, output_dir=str(folder / "rl"),
        )  # fmt: skip
        trainer = LocalTrainer(policy, copy.deepcopy(policy), tokenizer, problems, rl_config, step_scorer=scorer,
                               verifier=verifiable_rewards, extract_answer=extract_answer)  # fmt: skip
        samples, alarms = [], []

        def on_step(step: int, metrics: dict) -> None:
            alarms.extend([step, w.kind, w.message] for w in trainer.warnings)
            if step == 1 or step % 20 == 0 or step == config.rl_steps:
                samples.append(f"## step {step}\n\n" + "\n\n---\n\n".join(trainer.last_responses[:3]) + "\n")

        history = trainer.train(on_step=on_step)
        accuracy_after, responses = greedy_accuracy(policy, tokenizer, held_out, config.max_new_tokens)
    write_text_atomic(folder / "samples.md", f"# {run.name}: sample responses during RL\n\n" + "\n".join(samples)
                                       + "\n# Held-out responses after RL (greedy)\n\n"
                                       + "\n\n---\n\n".join(responses[:8]) + "\n")  # fmt: skip
    return {"name": run.name, "history": history, "accuracy_after": accuracy_after, "alarms": alarms,
            "seconds": time.perf_counter() - start, "folder": str(folder)}  # fmt: skip


@contextlib.contextmanager
def output_to(path: Path):
    """Send this process's output (Python's streams and file descriptors 1 and 2) to ``path``, then restore it."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(path, "w") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                yield
        finally:
            log.flush()
            for fd, copy_ in zip((1, 2), saved):
                os.dup2(copy_, fd)
                os.close(copy_)


def _train_run_job(args: tuple) -> dict:
    """A worker process's entry point: :func:`train_run` on pickled arguments."""
    config, run, out = args
    return train_run(config, run, Path(out))


def run_demo(config: DemoConfig, progress=print) -> dict:
    """Run the demo end to end; returns the summary (also written to ``output_dir/result.json``)."""
    start = time.perf_counter()
    runs = parse_runs(config)
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(config.threads)
    prepared = warm_up(config, out, progress)
    names = ", ".join(r.name for r in runs)
    jobs = {run.name: (config, run, str(out)) for run in runs}
    verifier_only = [r.name for r in runs if r.mode == "vr"]  # they need no PRM: they start at once
    torch.set_num_threads(1)  # the PRM trains next to the PURE-VR runs (one thread, whatever the workers)
    with contextlib.ExitStack() as stack:
        pool, pending = None, {}
        if config.workers > 1:
            context = multiprocessing.get_context("spawn")  # fresh interpreters: no torch state shared
            pool = stack.enter_context(ProcessPoolExecutor(max_workers=config.workers, mp_context=context))
            pending = {name: pool.submit(_train_run_job, jobs[name]) for name in verifier_only}
        prepared["prm"] = train_prm(config, out, progress) if len(verifier_only) < len(runs) else {}
        progress(f"[3/4] RL: {len(runs)} runs ({names}), {config.rl_steps} steps each, {config.workers} at a time; "
                 f"held-out accuracy before RL {prepared['accuracy_before']:.3f}")  # fmt: skip
        finished = {}
        for run in runs:
            if pool is not None and run.name not in pending:
                pending[run.name] = pool.submit(_train_run_job, jobs[run.name])
        for run in runs:
            finished[run.name] = pending[run.name].result() if pool is not None else _train_run_job(jobs[run.name])
            progress(f"      {run.name}: {finished[run.name]['seconds']:.0f} s, "
                     f"held-out accuracy {finished[run.name]['accuracy_after']:.3f}")  # fmt: skip
    torch.set_num_threads(config.threads)
    ordered = [finished[r.name] for r in runs]
    summary = summarize_runs(runs, ordered, prepared["accuracy_before"], config.held_out)
    progress(f"[4/4] report in {out}")
    panels = DEFAULT_PANELS + HACK_PANELS
    plot_runs({r["name"]: r["history"] for r in ordered}, out / "plots" / "training_dynamics.png", panels=panels,
              title=f"PURE demo: {names} (seed {config.seed})")  # fmt: skip
    table = comparison_table(summary, config.held_out)
    seconds = time.perf_counter() - start
    result = {"accuracy_before": round(prepared["accuracy_before"], 4),
              "accuracy_after": summary[runs[0].name]["accuracy_after"], "seconds": round(seconds, 1),
              "report": str(out), "runs": summary}  # fmt: skip
    write_summary(out, config, result, prepared, table)
    write_text_atomic(out / "result.json", json.dumps(result) + "\n")
    progress(table)
    return result
