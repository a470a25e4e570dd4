"""Repetition of a response (PURE.md section 8: collapse shows as long, repetitive answers).

repetition_score(x) = length of the longest substring of x that occurs at least twice
(occurrences may overlap) divided by len(x), in [0, 1). The paper's authors measured
repetition with longest common prefixes over suffix pairs; the longest repeated substring is
exactly the largest LCP of any two suffixes, normalised here by the length so that it reads
as "the share of the response taken by its longest repeat". A normal solution scores a few
percent; a response that says the same paragraph twice scores about 0.5. The
high-repetition ratio counts responses above 0.2.

Computed by binary search over the length L with rolling hashes of all windows of length L
(numpy, O(n log^2 n)); two independent 31-bit moduli make false matches negligible.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

HIGH_REPETITION = 0.2
_MODS = (2_147_483_647, 2_147_483_629)
_BASES = (911_382_323, 972_663_749)


def _prefix_tables(values: list[int]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Prefix hashes and powers per modulus: each a pair of (n + 1,) int64 arrays."""
    tables = []
    for mod, base in zip(_MODS, _BASES):
        prefix = np.zeros(len(values) + 1, dtype=np.int64)
        power = np.ones(len(values) + 1, dtype=np.int64)
        acc, pw = 0, 1
        for i, v in enumerate(values):  # scalar recurrence; responses are a few thousand tokens
            acc = (acc * base + v + 1) % mod
            pw = (pw * base) % mod
            prefix[i + 1], power[i + 1] = acc, pw
        tables.append((prefix, power))
    return tables


def _has_repeat(tables: list[tuple[np.ndarray, np.ndarray]], n: int, length: int) -> bool:
    """Whether two windows of ``length`` values share both hashes."""
    starts = np.arange(n - length + 1)
    keys = np.zeros(starts.shape[0], dtype=np.int64)
    for (prefix, power), mod in zip(tables, _MODS):
        # (a * b) % mod with a, b < 2^31 fits in int64; the combined key stays < 2^62
        window = (prefix[starts + length] - (prefix[starts] * power[length]) % mod) % mod
        keys = keys * mod + window
    return np.unique(keys).shape[0] < keys.shape[0]


def longest_repeat(sequence: Sequence[int] | str) -> int:
    """Length of the longest substring occurring at least twice in ``sequence`` (text or token ids)."""
    values = [ord(c) for c in sequence] if isinstance(sequence, str) else [int(v) for v in sequence]
    n = len(values)
    if n < 2:
        return 0
    tables = _prefix_tables(values)
    low, high = 0, n - 1  # a repeat of length `low` exists; none longer than `high`
    while low < high:
        mid = (low + high + 1) // 2
        if _has_repeat(tables, n, mid):
            low = mid
        else:
            high = mid - 1
    return low


def repetition_score(sequence: Sequence[int] | str) -> float:
    """Longest repeated substring over length, in [0, 1); 0 for sequences shorter than 2."""
    n = len(sequence)
    return longest_repeat(sequence) / n if n >= 2 else 0.0
