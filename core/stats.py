"""Bootstrap confidence intervals, written out so they can be checked against scipy.

For a statistic of per-example values (accuracy is the mean of 0/1 correctness), resample the
examples with replacement ``n_resamples`` times, compute the statistic on each resample, and
take the (α/2, 1-α/2) percentiles: the percentile bootstrap (Efron & Tibshirani, 1993).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Estimate:
    value: float
    low: float
    high: float
    n: int
    confidence: float = 0.95

    def as_dict(self) -> dict:
        return asdict(self)

    def format(self, percent: bool = True) -> str:
        if percent:
            return (
                f"{100 * self.value:.1f} % (95 % CI {100 * self.low:.1f}–{100 * self.high:.1f}, n={self.n})"
            )
        return f"{self.value:.3f} (95 % CI {self.low:.3f}–{self.high:.3f}, n={self.n})"


def bootstrap_mean(
    values: Sequence[float],
    *,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Estimate:
    """Mean of ``values`` with a percentile-bootstrap confidence interval."""
    data = np.asarray(values, dtype=np.float64)
    if data.ndim != 1 or data.size == 0:
        raise ValueError("bootstrap_mean needs a non-empty 1-D sequence of numbers.")
    rng = np.random.default_rng(seed)
    # 1) draw n_resamples index sets of size n, with replacement  # (R, n)
    indices = rng.integers(0, data.size, size=(n_resamples, data.size))
    # 2) the statistic on each resample  # (R,)
    means = data[indices].mean(axis=1)
    # 3) percentiles of the bootstrap distribution
    alpha = 1.0 - confidence
    low, high = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return Estimate(float(data.mean()), float(low), float(high), int(data.size), confidence)


def accuracy_with_ci(predictions: Sequence, references: Sequence, **kwargs) -> Estimate:
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references.")
    correct = [float(p == r) for p, r in zip(predictions, references, strict=True)]
    return bootstrap_mean(correct, **kwargs)


def macro_f1(predictions: Sequence[int], references: Sequence[int], n_classes: int) -> float:
    """Mean F1 over the classes that occur (in the predictions or the references), as scikit-learn does."""
    matrix = confusion(predictions, references, n_classes)
    present = (matrix.sum(axis=0) + matrix.sum(axis=1)) > 0
    scores = [row["f1"] for row, seen in zip(per_class(matrix), present, strict=True) if seen]
    return sum(scores) / len(scores) if scores else 0.0


def macro_f1_with_ci(
    predictions: Sequence[int],
    references: Sequence[int],
    n_classes: int,
    *,
    n_resamples: int = 2000,
    seed: int = 0,
) -> Estimate:
    """Macro-F1 with a percentile-bootstrap CI (F1 is not a mean of per-example values, so resample pairs)."""
    pred, ref = np.asarray(predictions), np.asarray(references)
    if pred.size == 0:
        raise ValueError("macro_f1_with_ci needs at least one example.")
    rng = np.random.default_rng(seed)
    indices = rng.integers(0, pred.size, size=(n_resamples, pred.size))
    # confusion counts per resample, vectorised: one-hot rows summed  # (R, C)
    hits = np.zeros((n_resamples, n_classes))
    predicted = np.zeros((n_resamples, n_classes))
    actual = np.zeros((n_resamples, n_classes))
    for c in range(n_classes):
        p_c, r_c = pred[indices] == c, ref[indices] == c
        hits[:, c] = (p_c & r_c).sum(1)
        predicted[:, c] = p_c.sum(1)
        actual[:, c] = r_c.sum(1)
    present = (predicted + actual) > 0
    f1 = np.where(present, 2 * hits / np.maximum(predicted + actual, 1), 0.0)
    values = f1.sum(1) / np.maximum(present.sum(1), 1)
    low, high = np.quantile(values, [0.025, 0.975])
    return Estimate(macro_f1(pred.tolist(), ref.tolist(), n_classes), float(low), float(high), int(pred.size))


def confusion(predictions: Sequence[int], references: Sequence[int], n_classes: int) -> np.ndarray:
    """Counts: rows are true classes, columns predicted ones.  # (C, C)"""
    matrix = np.zeros((n_classes, n_classes), dtype=int)
    for p, r in zip(predictions, references, strict=True):
        matrix[r, p] += 1
    return matrix


def per_class(matrix: np.ndarray) -> list[dict]:
    """Precision, recall, F1 and support per class from a confusion matrix."""
    rows = []
    for c in range(len(matrix)):
        tp = matrix[c, c]
        predicted, actual = matrix[:, c].sum(), matrix[c, :].sum()
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        rows.append(
            {"precision": float(precision), "recall": float(recall), "f1": float(f1), "support": int(actual)}
        )
    return rows


def paired_bootstrap_difference(
    correct_a: Sequence[float], correct_b: Sequence[float], *, n_resamples: int = 2000, seed: int = 0
) -> Estimate:
    """Accuracy of A minus accuracy of B on the same examples, with a paired percentile-bootstrap CI."""
    a, b = np.asarray(correct_a, dtype=float), np.asarray(correct_b, dtype=float)
    if a.shape != b.shape or a.size == 0:
        raise ValueError("paired_bootstrap_difference needs two equal-length, non-empty sequences.")
    rng = np.random.default_rng(seed)
    indices = rng.integers(0, a.size, size=(n_resamples, a.size))
    differences = (a[indices] - b[indices]).mean(axis=1)
    low, high = np.quantile(differences, [0.025, 0.975])
    return Estimate(float((a - b).mean()), float(low), float(high), int(a.size))


def mcnemar(correct_a: Sequence[bool], correct_b: Sequence[bool]) -> dict:
    """McNemar's exact test on the discordant pairs: b = A right & B wrong, c = A wrong & B right.

    Under the null both kinds are equally likely, so min(b, c) ~ Binomial(b + c, 1/2); the two-sided
    p-value is 2·P(X ≤ min(b, c)), capped at 1.
    """
    from scipy.stats import binom

    a, b_ = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    only_a, only_b = int((a & ~b_).sum()), int((~a & b_).sum())
    n = only_a + only_b
    p = 1.0 if n == 0 else min(1.0, 2 * float(binom.cdf(min(only_a, only_b), n, 0.5)))
    return {"only_a": only_a, "only_b": only_b, "p_value": p}


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment for several tests at once (controls the family-wise error rate).

    Sort the m p-values; the i-th smallest (from 0) is multiplied by m − i, and the adjusted values are made
    non-decreasing in that order and capped at 1. Reject where the adjusted p is below α.
    """
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * float(p_values[index])))
        adjusted[index] = running
    return adjusted


def expected_calibration_error(confidences: Sequence[float], correct: Sequence[bool], bins: int = 10) -> dict:
    """ECE: the gap between confidence and accuracy, averaged over equal-width confidence bins (weighted by size)."""
    conf, hit = np.asarray(confidences, dtype=float), np.asarray(correct, dtype=float)
    edges = np.linspace(0, 1, bins + 1)
    rows, ece = [], 0.0
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        inside = (conf > low) & (conf <= high) if low > 0 else (conf >= low) & (conf <= high)
        if inside.any():
            gap = abs(conf[inside].mean() - hit[inside].mean())
            ece += inside.mean() * gap
            rows.append({"low": float(low), "high": float(high), "confidence": float(conf[inside].mean()),
                         "accuracy": float(hit[inside].mean()), "count": int(inside.sum())})  # fmt: skip
    return {"ece": float(ece), "bins": rows}


def wilson(successes: int, n: int, *, confidence: float = 0.95) -> Estimate:
    """A proportion with its Wilson score interval (Wilson, 1927): unlike a bootstrap of the 0/1 outcomes, it does not
    collapse to a single point when every case (or none) succeeded."""
    if n <= 0 or not 0 <= successes <= n:
        raise ValueError("wilson needs 0 <= successes <= n and n > 0.")
    from statistics import NormalDist

    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    share = successes / n
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(share * (1 - share) / n + z * z / (4 * n * n))
    return Estimate(share, float(max(0.0, centre - half)), float(min(1.0, centre + half)), n, confidence)


def sign_test(base: np.ndarray, changed: np.ndarray) -> tuple[int, int, float]:
    """(items that scored lower, items that scored higher, the exact two-sided p of a sign test on those): McNemar's
    exact test for right/wrong scores. Where few items change, it is the honest test; a bootstrap CI is too narrow."""
    from scipy.stats import binomtest

    worse, better = int((changed < base).sum()), int((changed > base).sum())
    return worse, better, 1.0 if worse + better == 0 else float(binomtest(worse, worse + better, 0.5).pvalue)


def paired_mean_change(base: np.ndarray, changed: np.ndarray, *, seed: int = 0,
                       n_resamples: int = 1000) -> tuple[float, float, float]:  # fmt: skip
    """Δ mean (changed − base) of a per-item score, with a 95 % bootstrap CI resampling the same items for both."""
    rng = np.random.default_rng(seed)
    index = rng.integers(0, len(base), size=(n_resamples, len(base)))
    low, high = np.quantile(changed[index].mean(axis=1) - base[index].mean(axis=1), [0.025, 0.975])
    return float(changed.mean() - base.mean()), float(low), float(high)


def held_out_summary(base: np.ndarray, changed: np.ndarray, *, seed: int = 0) -> dict:
    """A per-item held-out score with and without some parts: both means, the paired change with its 95 % bootstrap
    CI, and the items that scored lower and higher with the exact sign test's p."""
    delta, low, high = paired_mean_change(base, changed, seed=seed)
    worse, better, p = sign_test(base, changed)
    return {"before": float(base.mean()), "after": float(changed.mean()), "n": len(base), "delta": delta,
            "low": low, "high": high, "worse": worse, "better": better, "p": p}  # fmt: skip
