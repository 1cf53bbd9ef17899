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
