"""The built-in CPU demo: the whole PURE pipeline on a generated arithmetic task, in minutes.

1. a tokenizer trained on the fly, a tiny Qwen2-shaped policy (random weights);
2. warm-up: brief supervised fine-tuning on correct solutions (the "base model");
3. the PRM: the warmed-up model fine-tuned further (a stronger "math model", as PURE's PRM is
   built on Qwen2.5-Math-7B), then trained with the project's PRM trainer on step labels from
   correct solutions and solutions with a planted wrong step;
4. PURE RL (default PURE-PRM+VR, softmin credit, answers visible on a share of problems) with
   the single-process trainer, the PRM scorer and the project's grader;
5. greedy accuracy on held-out problems before and after RL, a report folder (metrics JSONL,
   plots, samples, summary.md) and one JSON line.
Everything is seeded: the same seed gives the same run on CPU. Every model folder it writes
(``policy_warmup``, ``prm_backbone``, ``prm/final``, ``rl/checkpoints/step_*/policy``) holds its
tokenizer and its prompt template, so ``pure-eval``, ``pure-train`` and ``pure-eval-prm`` prompt
them as the demo did without being told.
"""

from __future__ import annotations

import copy
import json
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from openrlhf_pure.core.advantages import AdvantageConfig
from openrlhf_pure.core.grading.extract import extract_answer
from openrlhf_pure.core.grading.reward import verifiable_rewards
from openrlhf_pure.data.arithmetic import ArithmeticProblem, arithmetic_corpus, prm_rows, solution_steps, split_problems
from openrlhf_pure.data.problems import Problem, choose_visible
from openrlhf_pure.data.prompts import PURE_TEMPLATE, PromptFormat, record_prompt_format
from openrlhf_pure.data.stepwise import parse_trl
from openrlhf_pure.engines.local.rollout import generate_rollouts
from openrlhf_pure.engines.local.sft import supervised_finetune
from openrlhf_pure.engines.local.trainer import LocalTrainConfig, LocalTrainer
from openrlhf_pure.engines.plots import plot_runs
from openrlhf_pure.engines.prm_scorer import PRMScorer
from openrlhf_pure.engines.prm_trainer import PRMTrainConfig, PRMTrainer
from openrlhf_pure.models.prm import ProcessRewardModel
from openrlhf_pure.models.tiny import tiny_causal_lm, train_tiny_tokenizer

# The demo's policy is prompted with PURE's prompt followed by a blank line (its warm-up examples).
DEMO_PROMPT = PromptFormat(PURE_TEMPLATE + "\n\n", "\n\n")


@dataclass
class DemoConfig:
    """The demo's settings; the defaults run in a few minutes on 2 CPU cores.

    Args:
        output_dir: the report folder.
        seed: seeds everything.
        mode: "prm", "vr" or "prm_vr".
        preset: the rewards-to-advantages preset ("default", "authors_openrlhf", "authors_verl");
            None for the project's default.
        credit: "softmin", "min", "sum" or "future_min" (overrides the preset's).
        temperature: softmin T (overrides the preset's).
        visible_fraction: share of training problems whose answer the verifier may use (prm_vr);
            0.5 here because the task has only 260 training problems (the paper: 10% of 8,523).
        rl_steps, prompts_per_step, samples_per_prompt, rl_lr: the RL run.
        warmup_steps: supervised steps of the policy warm-up.
        prm_backbone_steps, prm_steps: extra supervised steps of the PRM's backbone, PRM training steps.
        max_new_tokens: response length limit.
        hidden, layers: the tiny models' size.
        held_out: held-out problems for accuracy.
    """

    output_dir: str = "runs/demo"
    seed: int = 0
    mode: str = "prm_vr"
    preset: str | None = None
    credit: str = "softmin"
    temperature: float = 0.1
    visible_fraction: float = 0.5
    rl_steps: int = 60
    prompts_per_step: int = 16
    samples_per_prompt: int = 4
    rl_lr: float = 5e-5
    warmup_steps: int = 300
    prm_backbone_steps: int = 300
    prm_steps: int = 1500
    max_new_tokens: int = 48
    hidden: int = 64
    layers: int = 2
    held_out: int = 64


def greedy_accuracy(
    model, tokenizer, problems: list[ArithmeticProblem], max_new_tokens: int
) -> tuple[float, list[str]]:
    """Share of problems whose greedy response has the right final answer, and the responses."""
    rollout = generate_rollouts(
        model.eval(), tokenizer, [DEMO_PROMPT.render(p.question) for p in problems], 1, max_new_tokens, 0.0
    )
    rewards = verifiable_rewards(rollout.responses, [str(p.answer) for p in problems])
    return sum(r or 0.0 for r in rewards) / len(problems), rollout.responses


def run_demo(config: DemoConfig, progress=print) -> dict:
    """Run the demo end to end; returns the summary (also written to ``output_dir/result.json``)."""
    start = time.perf_counter()
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    random.seed(config.seed)
    torch.manual_seed(config.seed)
    train, held_out = split_problems(config.seed, config.held_out)
    tokenizer = train_tiny_tokenizer(arithmetic_corpus(config.seed), vocab_size=400)
    rng = random.Random(config.seed)
    examples = [
        (DEMO_PROMPT.render(p.question), "\n\n".join(solution_steps(p, filler=rng.random() < 0.5)[0])) for p in train
    ]

    progress(f"[1/4] warm-up: {config.warmup_steps} supervised steps on {len(examples)} solutions")
    policy = tiny_causal_lm(len(tokenizer), hidden=config.hidden, layers=config.layers, seed=config.seed)
    record_prompt_format(policy, DEMO_PROMPT)  # every folder written from it says how it is prompted
    tick = time.perf_counter()
    supervised_finetune(policy, tokenizer, examples, config.warmup_steps, seed=config.seed)
    progress(f"      {time.perf_counter() - tick:.0f} s")
    policy_dir = out / "policy_warmup"
    policy.save_pretrained(policy_dir)
    tokenizer.save_pretrained(policy_dir)

    progress(f"[2/4] PRM: backbone +{config.prm_backbone_steps} supervised steps, then {config.prm_steps} PRM steps")
    backbone = copy.deepcopy(policy)
    supervised_finetune(backbone, tokenizer, examples, config.prm_backbone_steps, seed=config.seed + 1)
    backbone_dir = out / "prm_backbone"
    backbone.save_pretrained(backbone_dir)
    tokenizer.save_pretrained(backbone_dir)
    torch.manual_seed(config.seed + 2)  # the new head's initialisation depends on the seed alone
    prm = ProcessRewardModel.from_pretrained(str(backbone_dir), new_head=True)
    prm.prompt_template = PURE_TEMPLATE  # its rows' prompts: PURE's prompt of each question (data.arithmetic)
    prm_train = [parse_trl(r) for r in prm_rows(train, seed=config.seed, per_problem=8)]
    prm_eval = [parse_trl(r) for r in prm_rows(held_out, seed=config.seed + 1, per_problem=2)]
    prm_config = PRMTrainConfig(output_dir=str(out / "prm"), max_steps=config.prm_steps, rows_per_step=32, lr=1e-3,
                                weight_decay=0.0, seed=config.seed, progress=False)  # fmt: skip
    tick = time.perf_counter()
    prm_history = PRMTrainer(prm, prm_train, prm_eval, prm_config).train()
    prm_metrics = {k: v for k, v in prm_history[-1].items() if k.startswith("eval/")}
    progress(
        f"      {time.perf_counter() - tick:.0f} s; held-out "
        + ", ".join(f"{k[5:]} {v:.3f}" for k, v in prm_metrics.items())
    )

    accuracy_before, _ = greedy_accuracy(policy, tokenizer, held_out, config.max_new_tokens)
    preset = f", preset {config.preset}" if config.preset else ""
    progress(f"[3/4] PURE RL ({config.mode}, {config.credit}{preset}): held-out accuracy before RL "
             f"{accuracy_before:.3f}")  # fmt: skip
    problems = [Problem(DEMO_PROMPT.render(p.question), str(p.answer)) for p in train]
    problems = choose_visible(problems, config.visible_fraction, config.seed)
    scorer = PRMScorer(prm, policy_tokenizer=tokenizer)
    rl_config = LocalTrainConfig(
        mode=config.mode, steps=config.rl_steps, prompts_per_step=config.prompts_per_step,
        samples_per_prompt=config.samples_per_prompt, max_new_tokens=config.max_new_tokens, lr=config.rl_lr,
        advantage=demo_advantage(config),
        seed=config.seed, output_dir=str(out / "rl"),
    )  # fmt: skip
    trainer = LocalTrainer(policy, copy.deepcopy(policy), tokenizer, problems, rl_config,
                           step_scorer=lambda prompts, rollout, layout: scorer.score_policy_tokens(
                               prompts, rollout.response_ids, layout),
                           verifier=verifiable_rewards, extract_answer=extract_answer)  # fmt: skip
    samples: list[str] = []

    def keep_samples(step: int, metrics: dict) -> None:
        if step == 1 or step % 10 == 0 or step == config.rl_steps:
            samples.append(f"## step {step}\n\n" + "\n\n---\n\n".join(trainer.last_responses[:2]) + "\n")

    history = trainer.train(on_step=keep_samples)

    accuracy_after, responses = greedy_accuracy(policy, tokenizer, held_out, config.max_new_tokens)
    progress(f"[4/4] held-out accuracy after RL {accuracy_after:.3f}; report in {out}")
    plot_runs({f"{config.mode} {config.credit}": history}, out / "plots" / "training_dynamics.png",
              title=f"PURE demo ({config.mode}, {config.credit}, seed {config.seed})")  # fmt: skip
    (out / "samples.md").write_text("# Sample responses during RL\n\n" + "\n".join(samples)
                                    + "\n# Held-out responses after RL (greedy)\n\n"
                                    + "\n\n---\n\n".join(responses[:8]) + "\n")  # fmt: skip
    seconds = time.perf_counter() - start
    result = {"accuracy_before": round(accuracy_before, 4), "accuracy_after": round(accuracy_after, 4),
              "seconds": round(seconds, 1), "report": str(out)}  # fmt: skip
    write_summary(out, config, result, prm_metrics, history)
    (out / "result.json").write_text(json.dumps(result) + "\n")
    return result


def demo_advantage(config: DemoConfig) -> AdvantageConfig:
    """The preset (or the default) with the demo's credit mode and temperature."""
    overrides = {"credit.mode": config.credit, "credit.temperature": config.temperature}
    return AdvantageConfig.preset(config.preset or "default").with_overrides(overrides)


def write_summary(out: Path, config: DemoConfig, result: dict, prm_metrics: dict, history: list[dict]) -> None:
    """summary.md: settings, accuracy before and after RL, the PRM's held-out metrics, last RL metrics."""
    last = history[-1] if history else {}
    keys = ("accuracy/avg@n", "reward/process", "steps/mean", "length/mean", "length/clip_ratio", "policy/kl")
    lines = [
        "# PURE CPU demo",
        "",
        f"Held-out greedy accuracy: **{result['accuracy_before']:.3f} before RL, "
        f"{result['accuracy_after']:.3f} after** ({config.held_out} problems, seed {config.seed}, "
        f"{result['seconds']:.0f} s).",
        "",
        "| setting | value |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in asdict(config).items()),
        "",
        f"Advantage configuration (resolved): `{json.dumps(demo_advantage(config).to_dict())}`",
        "",
        "PRM held-out step metrics: " + ", ".join(f"{k[5:]} {v:.3f}" for k, v in prm_metrics.items()),
        "",
        "Last RL step: " + ", ".join(f"{k} {last[k]:.3f}" for k in keys if k in last),
        "",
        "Files: `rl/metrics.jsonl` (every RL step), `prm/metrics.jsonl`, `plots/training_dynamics.png`, `samples.md`.",
    ]
    (out / "summary.md").write_text("\n".join(lines) + "\n")
