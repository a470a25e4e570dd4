"""Time PRM scoring with sequence packing against padding, on a realistic spread of lengths.

Workload (defaults): 192 PRM inputs with lengths log-uniform in [50, 2000] tokens (PRM inputs
of policy responses: most are short, a few are long), a label every ~40 tokens, a tiny Qwen2
PRM (hidden 64, 2 layers) on CPU in float32, 16,384 tokens per forward pass. Padded batches
keep arrival order (as rollouts come) and pad each batch to its longest input; packed batches
fill rows by best-fit decreasing (see ``engines/prm_scorer.py``). Both must agree to 1e-5.

    .venv/bin/python benchmarks/prm_scoring.py [--count 192 --min-len 50 --max-len 2000 --repeats 4]

Last line: {"packed_tok_per_s": ..., "padded_tok_per_s": ..., "ratio": ...}
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import tempfile
import time

import torch
import transformers

from openrlhf_pure.data.arithmetic import arithmetic_corpus
from openrlhf_pure.engines.prm_scorer import PRMScorer, ScorerConfig
from openrlhf_pure.models.prm import ProcessRewardModel
from openrlhf_pure.models.step_formats import PRMInput
from openrlhf_pure.models.tiny import tiny_causal_lm, train_tiny_tokenizer


def make_inputs(count: int, min_len: int, max_len: int, vocab: int, seed: int = 0) -> list[PRMInput]:
    """Random PRM inputs with log-uniform lengths and a label every ~40 tokens (and on the last)."""
    rng = random.Random(seed)
    inputs = []
    for _ in range(count):
        n = int(math.exp(rng.uniform(math.log(min_len), math.log(max_len))))
        labels = sorted(set(range(39, n - 1, 40)) | {n - 1})
        inputs.append(PRMInput([rng.randrange(vocab) for _ in range(n)], labels))
    return inputs


def time_scoring(scorers: dict[str, PRMScorer], inputs: list[PRMInput], repeats: int):
    """Best wall time of each scorer over ``repeats`` interleaved runs (after a warm-up), and its scores.

    Interleaving keeps a noisy shared machine from favouring whichever mode runs first.
    """
    scores = {name: scorer.score_inputs(inputs) for name, scorer in scorers.items()}
    best = dict.fromkeys(scorers, math.inf)
    for _ in range(repeats):
        for name, scorer in scorers.items():
            start = time.perf_counter()
            scorer.score_inputs(inputs)
            best[name] = min(best[name], time.perf_counter() - start)
    return best, scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=192)
    parser.add_argument("--min-len", type=int, default=50)
    parser.add_argument("--max-len", type=int, default=2000)
    parser.add_argument("--max-tokens", type=int, default=16384)
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", default=None, help="bf16 / fp32 (default: bf16 on GPU, fp32 on CPU)")
    args = parser.parse_args()

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    logging.getLogger("openrlhf_pure").setLevel(logging.ERROR)  # "new, untrained head": expected here
    tokenizer = train_tiny_tokenizer(arithmetic_corpus(), vocab_size=512)
    with tempfile.TemporaryDirectory() as path:
        tiny_causal_lm(len(tokenizer)).save_pretrained(path)
        tokenizer.save_pretrained(path)
        prm = ProcessRewardModel.from_pretrained(path, dtype=args.dtype, device=args.device, new_head=True)
    inputs = make_inputs(args.count, args.min_len, args.max_len, len(tokenizer))
    tokens = sum(len(x) for x in inputs)

    scorers = {
        name: PRMScorer(prm, config=ScorerConfig(max_tokens_per_batch=args.max_tokens, pack=pack))
        for name, pack in (("packed", True), ("padded", False))
    }
    seconds, scores = time_scoring(scorers, inputs, args.repeats)
    diff = max(float((a - b).abs().max()) for a, b in zip(scores["packed"], scores["padded"]))
    tolerance = 1e-5 if prm.model.dtype == torch.float32 else 5e-2
    if diff > tolerance:
        raise SystemExit(f"packed and padded scores differ by {diff:.2e} (> {tolerance})")

    packed, padded = tokens / seconds["packed"], tokens / seconds["padded"]
    print(
        f"{len(inputs)} inputs, {tokens} tokens (lengths {args.min_len}..{args.max_len} log-uniform), "
        f"{args.device} {str(prm.model.dtype).removeprefix('torch.')}, max |packed - padded| = {diff:.1e}"
    )
    print(f"{'mode':<8}{'seconds':>10}{'tokens/s':>12}")
    for name in ("packed", "padded"):
        print(f"{name:<8}{seconds[name]:>10.3f}{tokens / seconds[name]:>12.0f}")
    print(f"ratio (packed / padded): {packed / padded:.2f}x")
    print(
        json.dumps(
            {
                "packed_tok_per_s": round(packed, 1),
                "padded_tok_per_s": round(padded, 1),
                "ratio": round(packed / padded, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
