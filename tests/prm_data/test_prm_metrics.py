"""PRM metrics: ProcessBench first-error F1 and its threshold sweep, Best-of-N aggregations and selection."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openrlhf_pure.core.prm_metrics import (
    AGGREGATIONS,
    BestOfNConfig,
    aggregate_step_scores,
    best_of_n,
    harmonic_f1,
    predict_first_errors,
    processbench_report,
    processbench_subset,
    threshold_grid,
    threshold_sweep,
)

# One subset, signed scores (threshold 0). Erroneous cases A (label 1) and B (label 1); correct
# cases C, D, E (label -1). Predictions: A 1 (hit), B 2 (miss), C -1 (hit), D 0 (miss), E -1 (hit).
SCORES = [[0.8, -0.3, 0.5], [0.8, 0.4, -0.1], [0.2, 0.6], [-0.5, 0.9], [0.1, 0.1, 0.1, 0.1]]
LABELS = [1, 1, -1, -1, -1]

score = st.floats(-1, 1, allow_nan=False, width=32)
score_rows = st.lists(score, min_size=1, max_size=10)


def agg(name, scores, **kw):
    return aggregate_step_scores(scores, BestOfNConfig(name, **kw)).tolist()


# ---------------------------------------------------------------------------------------------
# ProcessBench


def test_predicted_first_error_is_the_first_step_strictly_below_the_threshold():
    """[0.8, -0.3, 0.5] -> 1; [0.0, 0.2] -> -1 at threshold 0 (equal is not below); 0 at 0.1."""
    assert predict_first_errors([[0.8, -0.3, 0.5], [0.0, 0.2]], threshold=0.0) == [1, -1]
    assert predict_first_errors([[0.8, -0.3, 0.5], [0.0, 0.2]], threshold=0.1) == [1, 0]


def test_probability_scores_use_their_own_threshold():
    """p(correct) = (r + 1) / 2 with threshold 0.5 predicts what signed r does with threshold 0."""
    probs = [[(r + 1) / 2 for r in row] for row in SCORES]
    assert predict_first_errors(probs, threshold=0.5) == predict_first_errors(SCORES, threshold=0.0)


def test_subset_accuracies_and_f1_by_hand():
    """error_acc = 1/2 = 50, correct_acc = 2/3 = 66.7, F1 = 2 * 50 * 66.7 / 116.7 = 400/7 = 57.14."""
    result = processbench_subset(SCORES, LABELS, threshold=0.0)
    assert (result.n_error, result.n_correct) == (2, 3)
    assert result.error_acc == pytest.approx(50.0)
    assert result.correct_acc == pytest.approx(200 / 3)
    assert result.f1 == pytest.approx(400 / 7)


def test_report_averages_f1_over_subsets_unweighted():
    """Subset "math" is all right (F1 100): average = (400/7 + 100) / 2."""
    perfect = ([[0.5, -0.5], [0.5]], [1, -1])
    report = processbench_report({"gsm8k": (SCORES, LABELS), "math": perfect}, threshold=0.0)
    assert report.subsets["math"].f1 == pytest.approx(100.0)
    assert report.average_f1 == pytest.approx((400 / 7 + 100) / 2)


def test_subset_without_correct_cases_has_undefined_f1_and_no_best_threshold():
    result = processbench_subset([[0.5, -0.5]], [1], threshold=0.0)
    assert result.error_acc == 100.0 and math.isnan(result.correct_acc) and math.isnan(result.f1)
    sweep = threshold_sweep({"s": ([[0.5, -0.5]], [1])}, [0.0, 0.5])
    assert math.isnan(sweep.best_threshold) and math.isnan(sweep.best_average_f1)


def test_sweep_reports_f1_per_threshold_and_the_lowest_best_on_ties():
    """t = -0.2: A hit, B miss, C hit, D miss, E hit -> 400/7; t = 0: the same; t = 0.3: C, E miss -> 0."""
    sweep = threshold_sweep({"gsm8k": (SCORES, LABELS)}, [0.3, 0.0, -0.2])
    assert sweep.thresholds == (-0.2, 0.0, 0.3)
    assert sweep.average_f1 == pytest.approx((400 / 7, 400 / 7, 0.0))
    assert (sweep.best_threshold, sweep.best_average_f1) == (-0.2, pytest.approx(400 / 7))
    assert sweep.subset_f1["gsm8k"] == sweep.average_f1


def test_threshold_grid_spans_a_bounded_scale_and_refuses_logits():
    assert threshold_grid("prob", 3) == [0.0, 0.5, 1.0]
    with pytest.raises(ValueError, match="unbounded"):
        threshold_grid("logit")


def test_label_beyond_the_scored_steps_and_non_finite_scores_are_rejected():
    with pytest.raises(ValueError, match=r"case 1: label 2 is outside \[-1, 1\] for 2 step scores"):
        processbench_subset([[0.5], [0.5, 0.5]], [-1, 2], threshold=0.0)
    with pytest.raises(ValueError, match=r"non-finite value nan at index \(0, 1\)"):
        processbench_subset([[0.5, math.nan]], [-1], threshold=0.0)


@given(a=st.floats(0, 100), b=st.floats(0, 100))
def test_f1_is_symmetric_and_lies_between_the_two_accuracies(a, b):
    f1 = harmonic_f1(a, b)
    assert f1 == harmonic_f1(b, a)
    assert min(a, b) - 1e-9 <= f1 <= max(a, b) + 1e-9
    assert f1 <= (a + b) / 2 + 1e-9


@given(rows=st.lists(score_rows, min_size=1, max_size=6), t=score, u=score)
def test_prediction_is_the_first_index_below_and_moves_earlier_as_the_threshold_rises(rows, t, u):
    low, high = sorted((t, u))
    at_low, at_high = predict_first_errors(rows, threshold=low), predict_first_errors(rows, threshold=high)
    assert at_low == [next((i for i, s in enumerate(r) if s < low), -1) for r in rows]
    as_index = [math.inf if p == -1 else p for p in at_low], [math.inf if p == -1 else p for p in at_high]
    assert all(h <= lo for lo, h in zip(*as_index))


@settings(max_examples=40)
@given(rows=st.lists(score_rows, min_size=2, max_size=6), data=st.data())
def test_sweep_agrees_with_the_report_at_each_threshold(rows, data):
    labels = [data.draw(st.integers(-1, len(r) - 1)) for r in rows]
    grid = threshold_grid("signed", 5)
    sweep = threshold_sweep({"s": (rows, labels)}, grid)
    for t, f1 in zip(grid, sweep.average_f1):
        expected = processbench_report({"s": (rows, labels)}, threshold=t).average_f1
        assert f1 == pytest.approx(expected, nan_ok=True)


# ---------------------------------------------------------------------------------------------
# Aggregations


def test_aggregations_by_hand():
    """r = [0.5, -0.2, 0.9]: min -0.2, last 0.9, mean 0.4, product (0.75 * 0.4 * 0.95) = 0.285;
    softmin T = 0.1: weights e^-5, e^2, e^-9 (normalised), total = sum w r ~= -0.1993."""
    r = [[0.5, -0.2, 0.9]]
    weights = [math.exp(-5), math.exp(2), math.exp(-9)]
    softmin = sum(w * x for w, x in zip(weights, r[0])) / sum(weights)
    assert agg("min", r) == [-0.2]
    assert agg("last", r) == [0.9]
    assert agg("mean", r) == pytest.approx([0.4])
    assert agg("product", r) == pytest.approx([0.285])
    assert agg("softmin", r) == pytest.approx([softmin]) and softmin == pytest.approx(-0.19934, abs=1e-5)
    assert AGGREGATIONS.names() == ["min", "softmin", "last", "mean", "product"]


def test_product_maps_each_scale_to_the_same_probabilities():
    """signed r, p = (r + 1) / 2 and logit(p) give the same product of p(correct)."""
    signed = [0.5, -0.2, 0.9]
    probs = [(r + 1) / 2 for r in signed]
    logits = [math.log(p / (1 - p)) for p in probs]
    expected = math.prod(probs)
    assert agg("product", [signed], scale="signed") == pytest.approx([expected])
    assert agg("product", [probs], scale="prob") == pytest.approx([expected])
    assert agg("product", [logits], scale="logit") == pytest.approx([expected])


def test_product_rejects_scores_outside_their_scale():
    with pytest.raises(ValueError, match="score -0.5 is outside the 'prob' scale"):
        agg("product", [[0.9, -0.5]], scale="prob")


@pytest.mark.parametrize("name", ["min", "softmin", "last", "mean", "product"])
def test_a_candidate_with_zero_steps_aggregates_to_minus_infinity(name):
    assert agg(name, [[], [0.3]])[0] == -math.inf


def test_unknown_aggregation_scale_or_temperature_is_rejected():
    with pytest.raises(ValueError, match="unknown step-score aggregation 'max'"):
        BestOfNConfig("max")
    with pytest.raises(ValueError, match="unknown score scale 'percent'"):
        BestOfNConfig(scale="percent")
    with pytest.raises(ValueError, match="temperature must be > 0"):
        BestOfNConfig("softmin", temperature=0.0)


@given(row=score_rows)
def test_min_le_softmin_le_mean_le_max_and_product_le_the_worst_probability(row):
    low, soft, mean = agg("min", [row])[0], agg("softmin", [row])[0], agg("mean", [row])[0]
    assert low - 1e-9 <= soft <= mean + 1e-9
    assert mean <= max(row) + 1e-9
    assert agg("product", [row])[0] <= (low + 1) / 2 + 1e-9


@given(row=score_rows)
def test_softmin_tends_to_min_as_the_temperature_falls(row):
    """|softmin - min| <= (n - 1) T / e."""
    t = 1e-3
    assert abs(agg("softmin", [row], temperature=t)[0] - min(row)) <= len(row) * t


# ---------------------------------------------------------------------------------------------
# Best-of-N

# Problem 0: c0 has a bad step, c1 is modest and correct, c2 is empty. Problem 1: c0 and c1 tie,
# c2 has a low first step and a high last one.
BON_SCORES = [
    [[0.9, -0.8, 0.9], [0.3, 0.2], []],
    [[0.5], [0.5], [0.1, 0.95]],
]
BON_CORRECT = [[False, True, False], [True, False, False]]


@pytest.mark.parametrize(
    ("name", "chosen", "accuracy"),
    [
        ("min", (1, 0), 100.0),  # mins -0.8, 0.2, -inf; 0.5, 0.5 (tie: first), 0.1
        ("product", (1, 0), 100.0),  # 0.95*0.1*0.95 = 0.09 < 0.65*0.6 = 0.39; 0.75 > 0.55*0.975
        ("last", (0, 2), 0.0),  # 0.9 > 0.2; 0.95 > 0.5
        ("mean", (0, 2), 0.0),  # 0.33 > 0.25; 0.525 > 0.5
    ],
)
def test_best_of_n_picks_by_aggregate_and_scores_the_pick(name, chosen, accuracy):
    result = best_of_n(BON_SCORES, BON_CORRECT, BestOfNConfig(name))
    assert (result.chosen, result.accuracy) == (chosen, accuracy)
    assert (result.oracle_accuracy, result.problems, result.n) == (100.0, 2, 3)
    assert result.mean_accuracy == pytest.approx(100 / 3)


def test_best_of_n_on_the_first_n_candidates():
    """n = 1: the first candidate of each problem: False, True -> 50."""
    result = best_of_n(BON_SCORES, BON_CORRECT, n=1)
    assert (result.accuracy, result.oracle_accuracy, result.chosen, result.n) == (50.0, 50.0, (0, 0), 1)


def test_all_empty_candidates_pick_the_first():
    assert best_of_n([[[], []]], [[False, True]]).chosen == (0,)


def test_best_of_n_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="same number of"):
        best_of_n([[[0.1]], [[0.1], [0.2]]], [[True], [True, False]])
    with pytest.raises(ValueError, match="problem 0: 2 scored candidates but 1 verdicts"):
        best_of_n([[[0.1], [0.2]]], [[True]], n=1)
    with pytest.raises(ValueError, match="same non-zero number of problems"):
        best_of_n([], [])


candidates = st.lists(st.lists(score, min_size=0, max_size=5), min_size=3, max_size=3)


@settings(max_examples=50)
@given(problems=st.lists(candidates, min_size=1, max_size=4), data=st.data())
def test_min_and_last_picks_do_not_change_under_an_increasing_map_of_the_scores(problems, data):
    correct = [data.draw(st.lists(st.booleans(), min_size=3, max_size=3)) for _ in problems]
    cubed = [[[r**3 for r in c] for c in p] for p in problems]
    for name in ("min", "last"):
        before = best_of_n(problems, correct, BestOfNConfig(name))
        assert best_of_n(cubed, correct, BestOfNConfig(name)).chosen == before.chosen
        assert 0.0 <= before.accuracy <= before.oracle_accuracy
        assert before.mean_accuracy <= before.oracle_accuracy
