"""Sample-based accuracy: avg@n and the unbiased pass@k estimator.

With ``n`` samples of a problem of which ``c`` are correct:

- avg@n = c / n, the mean correctness of the samples (greedy pass@1 when n = 1);
- pass@k = 1 - C(n - c, k) / C(n, k), the probability that at least one of k samples drawn
  without replacement from the n is correct (Chen et al., 2021, "Evaluating Large Language
  Models Trained on Code", Eq. 1). Expanding the binomials,
  C(n - c, k) / C(n, k) = prod_{i = n - c + 1}^{n} (1 - k / i),
  a product of c factors in [0, 1]: no huge binomials, no overflow. When n - c < k every draw
  of k holds a correct sample and pass@k = 1.

Averaged over problems, pass@1 equals avg@n exactly: pass@1 = 1 - (n - c) / n = c / n.
"""

from __future__ import annotations


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k of one problem with ``c`` correct among ``n`` samples (module docstring).

    >>> round(pass_at_k(10, 3, 1), 12)  # c / n
    0.3
    >>> round(pass_at_k(5, 2, 2), 4)  # 1 - C(3, 2) / C(5, 2) = 1 - 3 / 10
    0.7
    """
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    all_wrong = 1.0
    for i in range(n - c + 1, n + 1):
        all_wrong *= 1.0 - k / i
    return 1.0 - all_wrong


def benchmark_accuracy(correct: list[list[bool]], ks: list[int]) -> dict:
    """avg@n and pass@k, averaged over problems, as fractions in [0, 1].

    Args:
        correct: one list per problem, the correctness of each of its samples.
        ks: the k of pass@k; each k larger than a problem's sample count is skipped.
    Returns:
        ``{"accuracy": mean of c / n, "pass@k": {k: mean pass@k}}``.
    """
    if not correct or any(not samples for samples in correct):
        raise ValueError("every problem needs at least one sample")
    accuracy = sum(sum(samples) / len(samples) for samples in correct) / len(correct)
    smallest_n = min(len(samples) for samples in correct)
    pass_k = {
        k: sum(pass_at_k(len(samples), sum(samples), k) for samples in correct) / len(correct)
        for k in sorted(set(ks))
        if 1 <= k <= smallest_n
    }
    return {"accuracy": accuracy, "pass@k": pass_k}
