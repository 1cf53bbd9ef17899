"""What the benchmark needs from a task, the same for every task: a task names a ``Scoring`` in
``Task.scorer`` — its held-out data, how one model is scored on it (one typed ``Scored``), the headline
statistic a paired bootstrap resamples, and how two models are compared on the same items.

``core.bench.run`` runs one loop over these for every task; ``core.bench.classification`` and
``core.bench.sequence`` hold LM Lab's own scorings.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from core import catalog
from core.errors import CoreError


@dataclass(frozen=True)
class HeldOut:
    """A task's fixed held-out data, the same for every model."""

    task: str
    data: object  # what the task's ``score`` reads
    texts: list[str]  # the input of each item, for the table of disagreements
    dataset: str
    references: list  # label ids (classification) or reference outputs, one per item where there is one
    labels: list[str] = field(default_factory=list)  # a classification's classes; empty otherwise


@dataclass
class Scored:
    """One model (or baseline) measured on a task's held-out data."""

    source: str  # where it comes from, as the catalog says ("trained here", "baseline", …)
    parameters: int | None
    size_mb: float | None
    train_s: float | None  # from its model card (or the baseline's fit)
    outputs: list  # one answer per item (a label id or an output text); [] when the model is scored, not asked
    per_item: np.ndarray  # (items, k) statistics the paired comparison resamples
    quality: dict  # the headline estimate: value, low, high, n
    throughput: float  # items (or tokens) per second over the whole held-out set
    timings: list[float]  # milliseconds per call on one median-length input
    timed_text: str  # that input
    precision: str
    confidences: list[float] = field(default_factory=list)  # a classifier's probability of its answer
    load_s: float | None = None
    extras: dict = field(default_factory=dict)  # columns only this family of task has (macro-F1, decoding, …)
    device: str = "cpu"  # where it computed: "cpu", "cuda" or "mps"


@dataclass(frozen=True)
class Comparison:
    """A model against the baseline on the same items: the difference with its 95 % CI and a p-value."""

    value: float
    low: float
    high: float
    p_value: float


@dataclass(frozen=True)
class Scoring:
    """How the benchmark scores one task."""

    held_out: Callable[[str], HeldOut]  # (task name) → its held-out data
    score: Callable[[str, HeldOut, int, int], Scored]  # (model id, held-out data, timing repeats, seed)
    statistic: Callable[[np.ndarray], float]  # the headline metric from a resample of ``per_item`` rows
    test: str = "paired bootstrap"  # the name of the test ``compare`` runs, for the table's caption
    metric: str = ""  # the key of the metric ``score`` measures ("" for the task's own ``scored_by``)
    # (mine, baseline's, seed) → Comparison; by default a paired bootstrap of ``statistic``
    compare: Callable[[np.ndarray, np.ndarray, int], Comparison] | None = None
    baseline_ready: Callable[[], bool] = lambda: True  # whether the task's baseline rows can run here
    variants_for: Callable[[catalog.ModelSpec], bool] = lambda spec: spec.source != catalog.HUB

    def comparison(self, mine: np.ndarray, base: np.ndarray, seed: int) -> Comparison:
        if self.compare is not None:
            return self.compare(mine, base, seed)
        return paired_bootstrap(self.statistic, mine, base, seed=seed)


def paired_bootstrap(statistic: Callable[[np.ndarray], float], stats_a: np.ndarray, stats_b: np.ndarray, *,
                     seed: int, n_resamples: int = 1000) -> Comparison:  # fmt: skip
    """statistic(A) − statistic(B) on the same items: the value, a paired percentile-bootstrap 95 % CI, and the
    bootstrap's two-sided p-value for "no difference" (twice the smaller share of resamples on one side of 0)."""
    rng = np.random.default_rng(seed)
    index = rng.integers(0, len(stats_a), size=(n_resamples, len(stats_a)))
    differences = np.array([statistic(stats_a[i]) - statistic(stats_b[i]) for i in index])
    low, high = np.quantile(differences, [0.025, 0.975])
    below, above = int((differences <= 0).sum()), int((differences >= 0).sum())
    p_value = float(min(1.0, 2 * (1 + min(below, above)) / (n_resamples + 1)))  # never 0 from finite resamples
    return Comparison(statistic(stats_a) - statistic(stats_b), float(low), float(high), p_value)


def timed(call: Callable[[str], object], texts: list[str], repeats: int) -> tuple[list[float], str]:
    """``repeats`` timed calls on one fixed input (the median-length one) after three warm-up calls, so the
    spread is the machine's, not the inputs' lengths; the timings in milliseconds and that input."""
    text = sorted(texts, key=len)[len(texts) // 2]
    for _ in range(3):
        call(text)
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        call(text)
        timings.append(1000 * (time.perf_counter() - started))
    return timings, text


def variant_here(variant: str) -> bool:
    """Whether this machine can run a variant: ``@cuda`` and ``@cuda-bf16`` need an NVIDIA GPU."""
    if not variant.startswith("cuda"):
        return True
    from core.device import native_bf16, pick_device

    # the device LM Lab chose (LMLAB_DEVICE=cpu keeps the GPU out of the benchmark too); bf16 only where native
    return pick_device() == "cuda" and (variant != "cuda-bf16" or native_bf16())


def choices(task: str) -> list[str]:
    """Ready models for the task, their variants where the task's scoring allows them, and its baselines."""
    from core.tasks.base import get_task

    known = get_task(task)
    scoring: Scoring = known.hook("scorer")
    found = []
    for spec in catalog.specs_for_task(task):
        if not catalog.availability(spec).ready:
            continue
        found.append(spec.key)
        if scoring.variants_for(spec):
            found += [f"{spec.key}@{variant}" for variant in known.variants if variant_here(variant)]
    if known.baselines and scoring.baseline_ready():
        found += list(known.baselines)
    return found


def spec_and_variant(model_id: str, task: str) -> tuple[catalog.ModelSpec, str]:
    """The catalog model and the variant a model id names, checked against the task; the model must be ready."""
    from core.tasks.base import get_task

    key, _, variant = model_id.partition("@")
    spec = catalog.get_spec(key)
    if spec.task != task:
        raise CoreError(f"{key!r} is a {spec.task} model, not a {task} model.")
    if variant and variant not in get_task(task).variants:
        raise CoreError(f"Unknown variant @{variant} for {task}; choose from {list(get_task(task).variants)}.")
    if not catalog.availability(spec).ready:
        raise CoreError(f"{spec.title} is {catalog.availability(spec).reason}.")
    return spec, variant


def described(spec: catalog.ModelSpec, model) -> dict:
    """A catalog model's source, parameter count, size and training time (from its card), as ``Scored`` holds them."""
    card = catalog.read_metadata(spec.key) if spec.trained_here else None
    size = (card.size_bytes if card else None) or spec.size_bytes
    weight = next(model.parameters(), None) if model is not None else None
    return {"source": catalog.SOURCE_LABELS[spec.source], "device": weight.device.type if weight is not None else "cpu",
            "parameters": sum(p.numel() for p in model.parameters()) if model is not None else None,
            "size_mb": round(size / 1e6, 1) if size else None,
            "train_s": card.train_seconds if card else None}  # fmt: skip
