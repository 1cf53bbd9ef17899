"""Held-out evaluation of a trained classifier: metrics through evaluate, bootstrap CIs, confusion, per class."""

from __future__ import annotations

from core.bench import metrics
from core.stats import accuracy_with_ci, confusion, macro_f1_with_ci, per_class


def evaluate_predictions(predictions: list[int], references: list[int], labels: list[str], seed: int) -> dict:
    accuracy = metrics.load("accuracy").compute(predictions=predictions, references=references)["accuracy"]
    f1 = metrics.load("f1").compute(
        predictions=predictions, references=references, labels=list(range(len(labels)))
    )["f1"]
    accuracy_ci = accuracy_with_ci(predictions, references, seed=seed)
    f1_ci = macro_f1_with_ci(predictions, references, len(labels), seed=seed)
    if abs(accuracy_ci.value - accuracy) > 1e-9 or abs(f1_ci.value - f1) > 1e-9:
        raise AssertionError("evaluate and the bootstrap disagree; this is a bug in LM Lab")
    matrix = confusion(predictions, references, len(labels))
    classes = per_class(matrix)
    return {
        "metrics": {"accuracy": accuracy_ci.as_dict(), "macro_f1": f1_ci.as_dict()},
        "confusion": matrix.tolist(),
        "per_class": {label: row for label, row in zip(labels, classes, strict=True)},
    }


def overfitting(eval_curve: list[dict], tolerance: float = 0.02) -> dict | None:
    """Where validation loss bottomed out, if it then rose by more than ``tolerance`` (relative): a sign of overfitting."""
    losses = [(point["epoch"], point["eval_loss"]) for point in eval_curve if "eval_loss" in point]
    if len(losses) < 3:
        return None
    best_epoch, best = min(losses, key=lambda item: item[1])
    last_epoch, last = losses[-1]
    if last_epoch > best_epoch and last > best * (1 + tolerance):
        return {"best_epoch": best_epoch, "best_eval_loss": best, "last_eval_loss": last}
    return None
