"""One prepared check for a lent GPU machine that has PyTorch and transformers only (no vLLM, Ray,
DeepSpeed or network). Run from the repository root:

    python benchmarks/gpu_check.py                        # CUDA: 1.5B-shape PRM, trainer, bf16 checks
    python benchmarks/gpu_check.py --device cpu --tiny    # the same code paths, small, on the CPU

Parts (each runs even if another fails; the JSON says which passed):

1. ``prm_scoring``: a Qwen2 PRM of Qwen2.5-Math-1.5B's shape (hidden 1536, 28 layers, 12 query and
   2 key-value heads, vocabulary 151,936; ``--tiny``: hidden 64, 2 layers) with random weights and
   the classifier head, bf16 on the device; PRM inputs with log-uniform lengths in [256, 3072]
   (``--tiny``: [50, 500]) and a label every ~40 tokens; packed against padded scoring
   (``engines/prm_scorer.py``, timed interleaved in one run as in ``benchmarks/prm_scoring.py``):
   tokens/s of each, their ratio, the peak memory of each (CUDA only), and their largest score
   difference (tolerance 0.05: bf16).
2. ``trainer``: the single-process trainer (``engines/local/trainer.py``, PURE-PRM) for 3 steps
   (``--tiny``: 2 smaller ones) on the device with a tiny policy and PRM (hidden 64, 2 layers;
   bf16 on CUDA): seconds per step, finite losses, a positive gradient norm at every step.
3. ``bf16_vs_fp32``: the tiny PRM's step scores and the tiny policy's token log-probs in bf16 on the
   device against fp32 on the CPU, on the same inputs, with stated tolerances (largest absolute
   difference: step scores <= 0.05, p_diff in [-1, 1]; log-probs <= 0.1 nats, and their mean
   difference <= 0.02), and the core's advantages computed on the device against the CPU (fp32,
   <= 1e-4).

The last line is one JSON object: {"device", "prm_scoring", "trainer", "bf16_vs_fp32", "ok"}.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import tempfile
import time
import traceback
from pathlib import Path

import torch
import transformers

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/prm_scoring.py
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository, when not installed

from prm_scoring import make_inputs, time_scoring  # noqa: E402

from openrlhf_pure.data.arithmetic import all_problems, arithmetic_corpus  # noqa: E402
from openrlhf_pure.engines.prm_scorer import PRMScorer, ScorerConfig  # noqa: E402
from openrlhf_pure.models.prm import ProcessRewardModel  # noqa: E402
from openrlhf_pure.models.tiny import tiny_causal_lm, train_tiny_tokenizer  # noqa: E402

QWEN_MATH_1_5B = {"hidden_size": 1536, "intermediate_size": 8960, "num_hidden_layers": 28, "num_attention_heads": 12,
                  "num_key_value_heads": 2, "vocab_size": 151936, "max_position_embeddings": 4096}  # fmt: skip
TINY = {"hidden_size": 64, "intermediate_size": 256, "num_hidden_layers": 2, "num_attention_heads": 4,
        "num_key_value_heads": 4, "vocab_size": 400, "max_position_embeddings": 2048}  # fmt: skip
TOLERANCE = {"scores": 0.05, "log_probs_max": 0.1, "log_probs_mean": 0.02, "advantages": 1e-4}


def peak_gib(device: str) -> float | None:
    return round(torch.cuda.max_memory_allocated() / 2**30, 3) if device.startswith("cuda") else None


def random_prm(shape: dict, device: str, tokenizer) -> ProcessRewardModel:
    """A Qwen2 token-classification PRM of ``shape`` with random weights, bf16, built on ``device``."""
    config = transformers.Qwen2Config(**shape, num_labels=2, tie_word_embeddings=True)
    torch.manual_seed(0)
    with torch.device(device):
        model = transformers.Qwen2ForTokenClassification._from_config(config, dtype=torch.bfloat16)
    return ProcessRewardModel(model.eval(), tokenizer, step_format="pure")


def check_prm_scoring(device: str, tiny: bool, tokenizer) -> dict:
    shape = TINY if tiny else QWEN_MATH_1_5B
    prm = random_prm(shape, device, tokenizer)
    count, low, high = (24, 50, 300) if tiny else (128, 256, 3072)
    inputs = make_inputs(count, low, high, shape["vocab_size"])
    tokens = sum(len(x) for x in inputs)
    result = {"shape": "tiny" if tiny else "Qwen2.5-Math-1.5B", "inputs": count, "tokens": tokens}
    scorers = {name: PRMScorer(prm, config=ScorerConfig(max_tokens_per_batch=32768, pack=pack))
               for name, pack in (("packed", True), ("padded", False))}  # fmt: skip
    for name, scorer in scorers.items():  # peak memory of each layout, measured alone
        if device.startswith("cuda"):
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        scorer.score_inputs(inputs)
        result[f"{name}_peak_gib"] = peak_gib(device)
    seconds, scores = time_scoring(scorers, inputs, repeats=1 if tiny else 3)
    result.update({f"{name}_tok_per_s": round(tokens / s, 1) for name, s in seconds.items()})
    result["ratio"] = round(seconds["padded"] / seconds["packed"], 3)
    result["max_score_diff"] = max(float((a - b).abs().max()) for a, b in zip(scores["packed"], scores["padded"]))
    result["ok"] = result["max_score_diff"] <= TOLERANCE["scores"]
    return result


def tiny_models(folder: Path, tokenizer) -> tuple[str, str]:
    """A tiny policy and a tiny PRM on it (fixed weights), saved; returns their folders."""
    tiny_causal_lm(len(tokenizer), seed=0).save_pretrained(folder / "policy")
    tokenizer.save_pretrained(folder / "policy")
    torch.manual_seed(1)
    prm = ProcessRewardModel.from_pretrained(str(folder / "policy"), new_head=True)
    torch.nn.init.normal_(prm.model.score.weight, std=0.5)
    prm.save_pretrained(str(folder / "prm"))
    return str(folder / "policy"), str(folder / "prm")


def check_trainer(device: str, tiny: bool, folder: Path, tokenizer) -> dict:
    import copy

    from openrlhf_pure.core.advantages import AdvantageConfig
    from openrlhf_pure.data.problems import Problem
    from openrlhf_pure.engines.local.trainer import LocalTrainConfig, LocalTrainer

    policy_dir, prm_dir = tiny_models(folder, tokenizer)
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    policy = transformers.AutoModelForCausalLM.from_pretrained(policy_dir, dtype=dtype).to(device)
    prm = ProcessRewardModel.from_pretrained(prm_dir, device=device)
    scorer = PRMScorer(prm, policy_tokenizer=tokenizer)
    problems = [Problem(p.question + "\n\n", str(p.answer)) for p in all_problems()[:16]]
    steps, prompts, new = (2, 2, 16) if tiny else (3, 4, 32)
    config = LocalTrainConfig(mode="prm", steps=steps, prompts_per_step=prompts, samples_per_prompt=4,
                              max_new_tokens=new, lr=1e-3, advantage=AdvantageConfig(),
                              output_dir=str(folder / "run"))  # fmt: skip
    trainer = LocalTrainer(policy, copy.deepcopy(policy), tokenizer, problems, config,
                           step_scorer=lambda prompts, rollout, layout: scorer.score_policy_tokens(
                               prompts, rollout.response_ids, layout))  # fmt: skip
    start = time.perf_counter()
    history = trainer.train()
    seconds = time.perf_counter() - start
    norms = [h["policy/grad_norm"] for h in history]
    losses = [h["policy/loss"] for h in history]
    return {"steps": len(history), "seconds_per_step": round(seconds / max(len(history), 1), 3),
            "grad_norms": [round(n, 5) for n in norms], "dtype": str(dtype).removeprefix("torch."),
            "ok": len(history) == steps and all(n > 0 for n in norms) and all(map(math.isfinite, losses))}  # fmt: skip


def check_bf16_vs_fp32(device: str, folder: Path, tokenizer) -> dict:
    from openrlhf_pure.core.advantages import AdvantageConfig, compute_advantages
    from openrlhf_pure.core.steps import separator_token_ids, split_steps
    from openrlhf_pure.engines.local.log_probs import response_log_probs

    policy_dir, prm_dir = folder / "policy", folder / "prm"
    texts = [
        "First, we add: 2 + 3 = 5.\n\nThen we multiply: 5 * 4 = 20.\n\nThe answer is \\boxed{20}.",
        "First, we add: 1 + 1 = 3.\n\nLet me check.\n\nThe answer is \\boxed{6}.",
        "We multiply.\n\n",
    ] * 4
    prompts = [p.question + "\n\n" for p in all_problems()[: len(texts)]]
    full = tokenizer([p + t for p, t in zip(prompts, texts)], return_tensors="pt", padding=True, padding_side="left")
    width = max(len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts)
    encoded = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    ids = torch.zeros(len(texts), width, dtype=torch.long)
    mask = torch.zeros_like(ids, dtype=torch.bool)
    for row, e in enumerate(encoded):
        ids[row, : len(e)], mask[row, : len(e)] = torch.tensor(e), True
    layout = split_steps(ids, mask, separator_token_ids(tokenizer, "\n\n"))

    def prm_scores(dev, dtype):
        prm = ProcessRewardModel.from_pretrained(str(prm_dir), dtype=dtype, device=dev)
        return PRMScorer(prm, policy_tokenizer=tokenizer).score_policy_tokens(prompts, ids, layout).float().cpu()

    def log_probs(dev, dtype):
        model = transformers.AutoModelForCausalLM.from_pretrained(str(policy_dir), dtype=dtype).to(dev).eval()
        with torch.no_grad():
            out = response_log_probs(model, full["input_ids"].to(dev), full["attention_mask"].bool().to(dev), 8)
        return out.float().cpu()

    scores_diff = float((prm_scores(device, "bf16") - prm_scores("cpu", "fp32")).abs().max())
    lp_diff = (log_probs(device, torch.bfloat16) - log_probs("cpu", torch.float32)).abs()
    generator = torch.Generator().manual_seed(0)
    step_rewards = torch.rand(layout.step_mask.shape, generator=generator) * 2 - 1
    vr = (torch.rand(len(texts), generator=generator) < 0.5).float()
    old, ref = -torch.rand(ids.shape, generator=generator), -torch.rand(ids.shape, generator=generator)

    def advantages(dev):
        moved = split_steps(ids.to(dev), mask.to(dev), separator_token_ids(tokenizer, "\n\n"))
        return compute_advantages(mask.to(dev), AdvantageConfig(), layout=moved, step_rewards=step_rewards.to(dev),
                                  verifiable_rewards=vr.to(dev), groups=4, log_probs=old.to(dev),
                                  ref_log_probs=ref.to(dev)).advantages.cpu()  # fmt: skip

    adv_diff = float((advantages(device) - advantages("cpu")).abs().max())
    result = {"max_score_diff": round(scores_diff, 5), "max_log_prob_diff": round(float(lp_diff.max()), 5),
              "mean_log_prob_diff": round(float(lp_diff.mean()), 5), "max_advantage_diff": adv_diff,
              "tolerance": TOLERANCE}  # fmt: skip
    result["ok"] = (scores_diff <= TOLERANCE["scores"] and result["max_log_prob_diff"] <= TOLERANCE["log_probs_max"]
                    and result["mean_log_prob_diff"] <= TOLERANCE["log_probs_mean"]
                    and adv_diff <= TOLERANCE["advantages"])  # fmt: skip
    return result


def run_part(name: str, check, *args) -> dict:
    start = time.perf_counter()
    try:
        result = check(*args)
    except Exception as err:  # a part's failure is reported, and the other parts still run
        traceback.print_exc()
        result = {"ok": False, "error": f"{type(err).__name__}: {err}"}
    result["seconds"] = round(time.perf_counter() - start, 2)
    print(f"{name}: {'ok' if result['ok'] else 'FAILED'} {json.dumps(result)}")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    parser.add_argument("--tiny", action="store_true", help="a tiny PRM for the scoring part (CPU smoke)")
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print(json.dumps({"device": args.device, "ok": False, "error": "CUDA is not available"}))
        return 1
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    logging.getLogger("openrlhf_pure").setLevel(logging.ERROR)  # "new, untrained head": expected here
    name = torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else "cpu"
    print(f"device {args.device} ({name}), torch {torch.__version__}, transformers {transformers.__version__}")
    tokenizer = train_tiny_tokenizer(arithmetic_corpus(), vocab_size=TINY["vocab_size"])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        report = {
            "device": args.device,
            "device_name": name,
            "prm_scoring": run_part("prm_scoring", check_prm_scoring, args.device, args.tiny, tokenizer),
            "trainer": run_part("trainer", check_trainer, args.device, args.tiny, folder, tokenizer),
            "bf16_vs_fp32": run_part("bf16_vs_fp32", check_bf16_vs_fp32, args.device, folder, tokenizer),
        }
    report["ok"] = all(report[k]["ok"] for k in ("prm_scoring", "trainer", "bf16_vs_fp32"))
    print(json.dumps(report))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
