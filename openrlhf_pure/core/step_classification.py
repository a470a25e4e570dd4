"""How well step scores separate correct from incorrect steps (the PRM's held-out metrics).

A step is predicted correct when its score is at least the threshold (0 for PURE's
p(correct) - p(incorrect) scores, 0.5 for p(correct)). Reported: step accuracy, and F1 of
detecting *incorrect* steps (precision and recall of the "incorrect" prediction), the class a
PRM exists to find.
"""

from __future__ import annotations

import torch


def step_classification_metrics(scores: torch.Tensor, labels: torch.Tensor, threshold: float = 0.0) -> dict[str, float]:
    """Accuracy and error-detection F1 of step scores.

    Args:
        scores: (N,) float step scores.
        labels: (N,) bool, true for correct steps.
        threshold: scores >= threshold are predicted correct.
    Returns:
        {"step_accuracy", "error_precision", "error_recall", "error_f1"} (0 where undefined).
    """
    if scores.shape != labels.shape:
        raise ValueError(f"shape mismatch: scores {tuple(scores.shape)} but labels {tuple(labels.shape)}")
    predicted_wrong = scores < threshold
    wrong = ~labels.bool()
    hits = float((predicted_wrong & wrong).sum())
    precision = hits / float(predicted_wrong.sum()) if bool(predicted_wrong.any()) else 0.0
    recall = hits / float(wrong.sum()) if bool(wrong.any()) else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    accuracy = float((predicted_wrong == wrong).float().mean()) if scores.numel() else 0.0
    return {"step_accuracy": accuracy, "error_precision": precision, "error_recall": recall, "error_f1": f1}
