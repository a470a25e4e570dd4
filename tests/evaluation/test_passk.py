"""avg@n and the unbiased pass@k estimator: hand values and invariants."""

from __future__ import annotations

from fractions import Fraction
from math import comb

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openrlhf_pure.evaluation.passk import benchmark_accuracy, pass_at_k


@st.composite
def n_c_k(draw):
    n = draw(st.integers(1, 200))
    return n, draw(st.integers(0, n)), draw(st.integers(1, n))


def test_pass_at_k_hand_values():
    assert pass_at_k(5, 2, 2) == pytest.approx(1 - 3 / 10)  # 1 - C(3,2)/C(5,2)
    assert pass_at_k(4, 1, 2) == pytest.approx(1 - 3 / 6)  # 1 - C(3,2)/C(4,2)
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    assert pass_at_k(10, 0, 5) == 0.0
    assert pass_at_k(10, 10, 1) == 1.0
    assert pass_at_k(10, 6, 5) == 1.0  # n - c = 4 < k: every draw of 5 holds a correct sample


def test_pass_at_k_is_stable_for_large_n():
    # C(1000, 500) overflows a float; the product form does not.
    assert pass_at_k(1000, 1, 500) == pytest.approx(0.5)
    assert 0.0 < pass_at_k(1024, 3, 1) < 1.0


@given(n_c_k())
def test_pass_at_k_equals_the_binomial_formula(args):
    n, c, k = args
    exact = 1 - Fraction(comb(n - c, k), comb(n, k))
    assert pass_at_k(n, c, k) == pytest.approx(float(exact), abs=1e-9)


@given(st.lists(st.lists(st.booleans(), min_size=1, max_size=16), min_size=1, max_size=20))
def test_pass_at_1_equals_average_correctness(correct):
    result = benchmark_accuracy(correct, [1])
    assert result["pass@k"][1] == pytest.approx(result["accuracy"])
    assert result["accuracy"] == pytest.approx(sum(sum(s) / len(s) for s in correct) / len(correct))


@given(n_c_k())
def test_pass_at_k_grows_with_k(args):
    n, c, k = args
    if k < n:
        assert pass_at_k(n, c, k) <= pass_at_k(n, c, k + 1) + 1e-12


def test_pass_at_k_skips_k_above_the_sample_count():
    result = benchmark_accuracy([[True, False], [False, False]], [1, 2, 4])
    assert set(result["pass@k"]) == {1, 2}
    assert result["pass@k"][2] == pytest.approx(0.5)


@pytest.mark.parametrize("n, c, k", [(3, 4, 1), (3, -1, 1), (3, 1, 0), (3, 1, 4)])
def test_pass_at_k_rejects_impossible_counts(n, c, k):
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)
