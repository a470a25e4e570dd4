"""Throughput and safety of the grader: the isolated pool against math-verify called serially.

Workloads:
- golds: every one of the 1,517 benchmark golds (eval/data) as a model would write it, plus
  its simple equivalent rewrites (``\\dfrac``, spaces, ``\\left(``, ``27``/``27.0``, no leading
  zero, "the final answer is"): about 4,500 pairs, all expected correct;
- different golds: each gold against the next differing gold of its benchmark (expected wrong);
- fuzz: 10,000+ adversarial responses (tests/grading/fuzz_corpus.py: towers, factorials,
  1 MB strings, deep nesting, unicode, injections...).

The serial baseline is plain math-verify in this process: ``parse(response)`` and
``parse("\\boxed{gold}")`` with their default extraction (which includes the expression
extraction that runs SymPy's ``parse_expr``: fine on trusted golds, never on model output)
and default signal timeouts, then ``verify(gold, answer)``. It runs on the golds only: on
hostile items a single C-level big-integer power cannot be interrupted by its signal timeout.

    .venv/bin/python benchmarks/grader.py [--workers N] [--fuzz 10000]

Last line: {"pool_pairs_per_s": ..., "serial_pairs_per_s": ..., "ratio": ..., "slowest_item_s": ...,
"gold_self_consistency": [correct, total]}
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "grading"))  # the shared corpus, gold loader and rewrites

from fuzz_corpus import fuzz_cases  # noqa: E402
from grading_data import load_golds, next_different_gold, rewrites, wrapped  # noqa: E402

from openrlhf_pure.core.grading import Grader, Reason  # noqa: E402


def serial_math_verify(pairs: list[tuple[str, str]]) -> tuple[float, list[bool], float]:
    """Seconds, verdicts and slowest pair of plain math-verify on ``(response, gold)`` pairs."""
    from math_verify import parse, verify

    logging.getLogger("math_verify").setLevel(logging.ERROR)
    verdicts, slowest = [], 0.0
    start = time.perf_counter()
    for response, gold in pairs:
        t = time.perf_counter()
        verdicts.append(bool(verify(parse("\\boxed{" + gold + "}"), parse(response))))
        slowest = max(slowest, time.perf_counter() - t)
    return time.perf_counter() - start, verdicts, slowest


def pool_run(grader: Grader, pairs: list[tuple[str, str | None]]):
    """Seconds and results of the pool on ``(response, gold)`` pairs."""
    start = time.perf_counter()
    results = grader.grade_batch([r for r, _ in pairs], [g for _, g in pairs])
    return time.perf_counter() - start, results


def slowest(results) -> tuple[float, int]:
    """The slowest item's seconds (a killed item: until its kill) and its index."""
    times = [r.elapsed_s for r in results]
    return max((t, k) for k, t in enumerate(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=None, help="pool size (default: CPU count, at most 4)")
    parser.add_argument("--fuzz", type=int, default=10_000, help="number of adversarial responses")
    args = parser.parse_args()

    golds = load_golds()
    self_pairs = [(wrapped(g), g) for _, _, g in golds]
    rewrite_pairs = [(r, g) for _, _, g in golds for name, r in rewrites(g).items() if name != "self"]
    gold_pairs = self_pairs + rewrite_pairs
    different_pairs = [(wrapped(next_different_gold(golds, k)), g) for k, (_, _, g) in enumerate(golds)]
    fuzz = fuzz_cases(args.fuzz, seed=1)

    with Grader(workers=args.workers) as grader:
        grader.start(timeout=120)
        pool_s, gold_results = pool_run(grader, gold_pairs)
        different_s, different_results = pool_run(grader, different_pairs)
        fuzz_s, fuzz_results = pool_run(grader, fuzz)
        workers, limit = grader.workers, grader.timeout_s
    serial_s, serial_verdicts, serial_slowest = serial_math_verify(gold_pairs)

    n = len(gold_pairs)
    pool_rate, serial_rate = n / pool_s, n / serial_s
    self_correct = sum(bool(r.correct) for r in gold_results[: len(self_pairs)])
    serial_self = sum(serial_verdicts[: len(self_pairs)])
    gold_slow, gold_k = slowest(gold_results)
    fuzz_slow, fuzz_k = slowest(fuzz_results)
    different_slow, different_k = slowest(different_results)
    killed = sum(r.reason in (Reason.TIMEOUT, Reason.MEMORY, Reason.CRASH) for r in fuzz_results)
    fuzz_mb = sum(len(r) for r, _ in fuzz) / 2**20

    print(f"pool: {workers} workers, {limit:g} s per item; golds: {len(golds)}, pairs with rewrites: {n}")
    print(f"{'workload':<34}{'pairs':>7}{'pool pairs/s':>14}{'serial pairs/s':>16}")
    print(f"{'golds + rewrites':<34}{n:>7}{pool_rate:>14.0f}{serial_rate:>16.0f}")
    different_rate = len(different_pairs) / different_s
    print(f"{'different golds (expected wrong)':<34}{len(different_pairs):>7}{different_rate:>14.0f}")
    print(f"{f'fuzz ({fuzz_mb:.0f} MB, serial not run)':<34}{len(fuzz):>7}{len(fuzz) / fuzz_s:>14.0f}")
    print(f"ratio pool / serial on golds: {pool_rate / serial_rate:.1f}x")
    all_rewrites = sum(bool(r.correct) for r in gold_results)
    total = len(self_pairs)
    print(f"gold self-consistency: pool {self_correct}/{total}, serial math-verify {serial_self}/{total}")
    print(f"golds and rewrites graded correct: pool {all_rewrites}/{n}, serial math-verify {sum(serial_verdicts)}/{n}")
    wrong = sum(r.correct is False for r in different_results)
    print(f"different golds graded wrong: {wrong}/{len(different_results)}")
    print(f"slowest gold item: {gold_slow:.3f} s ({gold_pairs[gold_k][1][:60]!r})")
    print(f"slowest gold item, serial math-verify: {serial_slowest:.3f} s")
    print(f"slowest different-gold item: {different_slow:.3f} s ({different_results[different_k].reason})")
    print(f"reasons, different golds: {dict(Counter(r.reason.value for r in different_results))}")
    print(f"reasons, fuzz: {dict(Counter(r.reason.value for r in fuzz_results))}")
    print(f"slowest fuzz item: {fuzz_slow:.3f} s ({fuzz[fuzz_k][0][:60]!r}); fuzz items killed: {killed}")
    slowest_item = max(gold_slow, fuzz_slow)
    print(
        json.dumps(
            {
                "pool_pairs_per_s": round(pool_rate, 1),
                "serial_pairs_per_s": round(serial_rate, 1),
                "ratio": round(pool_rate / serial_rate, 1),
                "slowest_item_s": round(slowest_item, 4),
                "gold_self_consistency": [self_correct, len(self_pairs)],
            }
        )
    )


if __name__ == "__main__":
    main()
