"""Time the whole rewards-to-advantages path: the vectorised core against a per-response loop.

Workload (defaults): B = 512 responses of up to T = 8192 tokens (lengths uniform in [T/2, T],
right-padded), ~64 steps per response, PRM scores in [-1, 1], verifiable rewards, KL, groups
of 8, PURE's defaults (softmin T = 0.1, token baseline, reward-token masking, whitening).

The loop implementation below is a straightforward per-response Python version of the same
math, kept here as a reference: the script checks that both agree before timing them.

    .venv/bin/python benchmarks/credit_assignment.py [--batch 512 --tokens 8192 --steps 64]

The fast path is timed with torch's default threads and with 1 thread (Ray actors run with
``OMP_NUM_THREADS=1``; on a shared 2-core machine the multi-threaded figure collapses when the
other core is busy, the 1-thread one does not), both in the same run.

Last line: {"fast_s": ..., "fast_1thread_s": ..., "threads": ..., "loop_s": ..., "ratio": ..., "ratio_1thread": ...}
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time

import torch

from openrlhf_pure.core.advantages import AdvantageConfig, compute_advantages
from openrlhf_pure.core.steps import split_steps

SEP = 1


def make_batch(batch: int, tokens: int, steps: int, group: int, seed: int = 0):
    """Random responses, step scores, verifiable rewards and log-probs."""
    gen = torch.Generator().manual_seed(seed)
    lengths = torch.randint(tokens // 2, tokens + 1, (batch,), generator=gen)
    mask = torch.arange(tokens).unsqueeze(0) < lengths.unsqueeze(1)
    sep_prob = steps / lengths.float().mean().item()
    ids = torch.where(torch.rand(batch, tokens, generator=gen) < sep_prob, SEP, 7)
    ids = torch.where(mask, ids, 0)
    layout = split_steps(ids, mask, torch.tensor([SEP]))
    scores = torch.rand(batch, layout.num_slots, generator=gen) * 2 - 1
    vr = (torch.rand(batch, generator=gen) < 0.5).float()
    log_probs = -torch.rand(batch, tokens, generator=gen)
    ref_log_probs = -torch.rand(batch, tokens, generator=gen)
    return ids, mask, scores, vr, log_probs, ref_log_probs, group


def fast_path(ids, mask, scores, vr, log_probs, ref_log_probs, group, config):
    layout = split_steps(ids, mask, torch.tensor([SEP]))
    result = compute_advantages(
        mask,
        config,
        layout=layout,
        step_rewards=scores,
        verifiable_rewards=vr,
        groups=group,
        log_probs=log_probs,
        ref_log_probs=ref_log_probs,
    )
    return result.advantages


def loop_path(ids, mask, scores, vr, log_probs, ref_log_probs, group, config):
    """Per-response Python: steps, softmin, token baseline, RLOO, KL (k1), returns, masking, whitening."""
    temperature, kl_coef = config.credit.temperature, config.kl_coef
    rows = []
    for i in range(ids.shape[0]):
        tok = ids[i].tolist()
        valid = [t for t, ok in enumerate(mask[i].tolist()) if ok]
        closes = [t for t in valid if tok[t] == SEP]
        if valid and (not closes or closes[-1] != valid[-1]):
            closes.append(valid[-1])
        r = scores[i, : len(closes)].tolist()
        z = [math.exp(-x / temperature) for x in r]
        r_star = [w / sum(z) * x for w, x in zip(z, r)]
        sizes, count, closing = [], 0, set(closes)
        for t in valid:
            count += 1
            if t in closing:
                sizes.append(count)
                count = 0
        rows.append({"valid": valid, "closes": closes, "r_star": r_star, "sizes": sizes})
    n = ids.shape[0]
    totals = [sum(row["r_star"]) for row in rows]
    lengths = [len(row["valid"]) for row in rows]
    advantages = [[0.0] * ids.shape[1] for _ in range(n)]
    flat = []
    for i, row in enumerate(rows):
        members = [j for j in range(n) if j // group == i // group and j != i]
        b = sum(totals[j] for j in members) / sum(lengths[j] for j in members)
        vr_base = sum(vr[j].item() for j in members) / len(members)
        reward = [0.0] * ids.shape[1]
        for c, x, size in zip(row["closes"], row["r_star"], row["sizes"]):
            reward[c] += x - b * size
        reward[row["valid"][-1]] += vr[i].item() - vr_base
        lp, ref = log_probs[i].tolist(), ref_log_probs[i].tolist()
        for t in row["valid"]:
            reward[t] -= kl_coef * (lp[t] - ref[t])
        running, carriers = 0.0, set(row["closes"]) | {row["valid"][-1]}
        for t in reversed(row["valid"]):
            running += reward[t]
            if t not in carriers:
                advantages[i][t] = running
                flat.append(running)
    mean = statistics.fmean(flat)
    std = math.sqrt(statistics.fmean((x - mean) ** 2 for x in flat) + config.eps)
    for i, row in enumerate(rows):
        carriers = set(row["closes"]) | {row["valid"][-1]}
        for t in row["valid"]:
            if t not in carriers:
                advantages[i][t] = (advantages[i][t] - mean) / std
    return torch.tensor(advantages)


def median_seconds(run, repeats: int) -> float:
    """Median wall time of ``repeats`` calls of ``run``."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--tokens", type=int, default=8192)
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--group", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(max(torch.get_num_threads(), 1))
    data = make_batch(args.batch, args.tokens, args.steps, args.group)
    config = AdvantageConfig()
    steps = split_steps(data[0], data[1], torch.tensor([SEP])).num_steps.float().mean().item()
    print(f"batch {args.batch} x {args.tokens} tokens, {steps:.1f} steps per response, groups of {args.group}")

    fast = fast_path(*data, config)  # warm-up, and the result to check
    threads = torch.get_num_threads()
    fast_s = median_seconds(lambda: fast_path(*data, config), args.repeats)
    torch.set_num_threads(1)  # as inside a Ray actor (OMP_NUM_THREADS=1); steady when the other cores are busy
    fast_1_s = median_seconds(lambda: fast_path(*data, config), args.repeats)
    torch.set_num_threads(threads)

    start = time.perf_counter()
    loop = loop_path(*data, config)
    loop_s = time.perf_counter() - start
    torch.testing.assert_close(fast, loop.float(), atol=2e-3, rtol=2e-3)
    print("fast and loop paths agree (atol 2e-3)")
    print(f"{'path':<22}{'seconds':>10}{'loop / path':>13}")
    for name, seconds in ((f"fast ({threads} threads)", fast_s), ("fast (1 thread)", fast_1_s), ("loop", loop_s)):
        print(f"{name:<22}{seconds:>10.3f}{loop_s / seconds:>12.1f}x")
    print(json.dumps({"fast_s": round(fast_s, 4), "fast_1thread_s": round(fast_1_s, 4), "threads": threads,
                      "loop_s": round(loop_s, 3), "ratio": round(loop_s / fast_s, 1),
                      "ratio_1thread": round(loop_s / fast_1_s, 1)}))  # fmt: skip


if __name__ == "__main__":
    main()
