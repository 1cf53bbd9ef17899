"""Run a side-by-side benchmark: every model on the same held-out examples, with CIs, paired tests,
latency after warm-up, throughput, memory, load time — one row per model, as plain data."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import psutil

from core import settings
from core.bench import adapters
from core.errors import CoreError
from core.stats import (
    accuracy_with_ci,
    expected_calibration_error,
    holm,
    macro_f1_with_ci,
    mcnemar,
    paired_bootstrap_difference,
)
from core.tasks.base import CLASSIFICATION, get_task


class PeakMemory:
    """Samples this process's resident memory every few milliseconds; ``peak_mb`` is the highest level
    above where it started (a sampled peak, so a spike shorter than the interval can be missed)."""

    def __init__(self, interval: float = 0.005):
        import threading

        self.process = psutil.Process()
        self.start = self.peak = self.process.memory_info().rss
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)

    @property
    def peak_mb(self) -> float:
        return (self.peak - self.start) / 1e6


@dataclass
class BenchResult:
    task: str
    dataset: str
    labels: list[str]  # a classification's classes; empty for sequence tasks
    texts: list[str]
    references: list[int] | list[str]  # label ids (classification) or reference outputs
    rows: list[dict]
    predictions: dict[str, list[int] | list[str]] = field(default_factory=dict)
    confidences: dict[str, list[float]] = field(default_factory=dict)
    created_at: str = ""

    def to_json(self) -> dict:
        return {k: getattr(self, k) for k in ("task", "dataset", "labels", "texts", "references", "rows",
                                              "predictions", "confidences", "created_at")}  # fmt: skip

    def disagreements(self, limit: int = 50) -> list[dict]:
        """Examples where the models do not all give the same answer (a label with its confidence, or an output).

        Empty when the outputs are not one per example (role labels come per frame, a language model has none).
        """
        names = list(self.predictions)
        if not names or any(len(self.predictions[name]) != len(self.texts) for name in names):
            return []
        found = []
        for i, text in enumerate(self.texts):
            answers = {name: self.predictions[name][i] for name in names}
            if len({str(answer) for answer in answers.values()}) < 2:
                continue
            if self.labels:  # a classification: label ids, with the model's confidence
                shown = {name: f"{self.labels[a]} ({100 * self.confidences[name][i]:.0f} %)" for name, a in answers.items()}
                truth = self.labels[self.references[i]]
            else:
                shown, truth = answers, self.references[i] if i < len(self.references) else ""
            found.append({"index": i, "text": text, "truth": truth, **shown})
        return found[:limit]


def _data(task: str):
    """The task's fixed held-out split and labels, from the task registry (classification tasks only)."""
    found = get_task(task)
    if found.family != CLASSIFICATION:
        raise CoreError(f"{task!r} is not a classification task; python -m core.bench scores it separately.")
    return found.held_out()


def run(
    task: str,
    model_ids: list[str],
    *,
    baseline: str | None = None,
    repeats: int = 100,
    batch_size: int = 16,
    seed: int = 0,
    progress: Callable[[float, str], None] = lambda fraction, message: None,
) -> BenchResult:
    """Score every model on the task's held-out split. ``baseline`` names the row the others are compared to."""
    if not model_ids:
        raise CoreError("Choose at least one model to benchmark.")
    if baseline is not None and baseline not in model_ids:
        raise CoreError(f"The baseline {baseline!r} must be one of the chosen models {model_ids}.")
    split, labels = _data(task)
    texts = [e.text for e in split.test]
    references = [labels.index(e.label) for e in split.test]
    train_texts, train_labels = [e.text for e in split.train], [e.label for e in split.train]
    result = BenchResult(task, split.dataset, labels, texts, references, [],
                         created_at=datetime.now(UTC).isoformat(timespec="seconds"))  # fmt: skip
    from core.device import library_versions

    versions = library_versions()
    for index, model_id in enumerate(model_ids):
        share = index / len(model_ids)
        progress(share, f"loading {model_id}")
        memory = PeakMemory().__enter__()
        started = time.perf_counter()
        adapter = adapters.make(model_id, labels, train_texts, train_labels)
        load_seconds = time.perf_counter() - started
        progress(share + 0.3 / len(model_ids), f"scoring {model_id}")
        probabilities, throughput, timed_text, timings = _measure(adapter, texts, batch_size, repeats)
        memory.__exit__(None, None, None)
        predictions = probabilities.argmax(axis=1).tolist()
        confidences = probabilities.max(axis=1).tolist()
        result.predictions[model_id] = predictions
        result.confidences[model_id] = confidences
        row = _row(model_id, adapter, predictions, confidences, references, len(labels), seed)
        result.rows.append({
            **row, "latency_p50_ms": float(np.percentile(timings, 50)), "latency_p95_ms": p95(timings),
            "latency_text_chars": len(timed_text), "latency_repeats": repeats, "throughput_per_s": throughput,
            "peak_memory_mb": round(memory.peak_mb, 1), "load_s": load_seconds, "train_s": adapter.train_seconds,
            "seed": seed, "versions": json.dumps(versions),
        })  # fmt: skip
        del adapter
    _compare_to_baseline(result, baseline or model_ids[0], seed)
    progress(1.0, "done")
    return result


def _row(model_id: str, adapter, predictions: list[int], confidences: list[float], references: list[int], classes: int,
         seed: int) -> dict:  # fmt: skip
    """What one classifier scored: accuracy and macro-F1 with their CIs, calibration, what it is."""
    accuracy = accuracy_with_ci(predictions, references, seed=seed)
    f1 = macro_f1_with_ci(predictions, references, classes, seed=seed)
    calibration = expected_calibration_error(
        confidences, [p == r for p, r in zip(predictions, references, strict=True)]
    )
    return {
        "model": model_id, "source": adapter.source, "parameters": adapter.parameters,
        "size_mb": round(adapter.size_bytes / 1e6, 1) if adapter.size_bytes else None,
        "device / precision": f"cpu / {adapter.precision}",
        "metric": "accuracy", "value": accuracy.value, "low": accuracy.low, "high": accuracy.high,
        "accuracy": accuracy.value, "accuracy_low": accuracy.low, "accuracy_high": accuracy.high,
        "macro_f1": f1.value, "macro_f1_low": f1.low, "macro_f1_high": f1.high, "n": accuracy.n,
        "ece": calibration["ece"] if adapter.is_probability else None,
        "scores": "probability" if adapter.is_probability else "not a probability",
    }  # fmt: skip


def _measure(adapter, texts: list[str], batch_size: int, repeats: int):
    """Quality and speed of one model: the whole held-out split in batches (also the throughput), then
    latency, one example per call: after three warm-up calls, ``repeats`` timed calls on one fixed text (the
    held-out text of median length), so the spread is the machine's, not the texts' lengths."""
    adapter.probabilities(texts[:2])  # warm-up
    started = time.perf_counter()
    probabilities = np.concatenate([adapter.probabilities(texts[i : i + batch_size])
                                    for i in range(0, len(texts), batch_size)])  # fmt: skip
    throughput = len(texts) / (time.perf_counter() - started)
    timed_text = sorted(texts, key=len)[len(texts) // 2]
    for _ in range(3):
        adapter.probabilities([timed_text])
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        adapter.probabilities([timed_text])
        timings.append(1000 * (time.perf_counter() - started))
    return probabilities, throughput, timed_text, timings


ALPHA = 0.05


MIN_CALLS_FOR_P95 = 100  # below this the 95th percentile is one of the few largest timings, not an estimate


def p95(timings: list[float]) -> float | None:
    """The 95th percentile of the timings, or None when there are too few calls to estimate it."""
    return float(np.percentile(timings, 95)) if len(timings) >= MIN_CALLS_FOR_P95 else None


def _compare_to_baseline(result: BenchResult, baseline: str, seed: int) -> None:
    """Each model against the baseline: the paired difference with its 95 % CI, and one rule for "tied".

    Tied means McNemar's exact test does not reject "equally accurate" at 5 % after Holm's correction
    over every model compared with the baseline (several comparisons at once would otherwise find a
    "significant" difference by chance). The CI shows the size of the difference, uncorrected.
    """
    truth = np.array(result.references)
    base = np.array(result.predictions[baseline]) == truth
    others = [row for row in result.rows if row["model"] != baseline]
    tests = {}
    for row in result.rows:
        mine = np.array(result.predictions[row["model"]]) == truth
        difference = paired_bootstrap_difference(mine, base, seed=seed)
        tests[row["model"]] = mcnemar(mine, base)["p_value"]
        row.update({"baseline": baseline, "diff_vs_baseline": difference.value, "diff_low": difference.low,
                    "diff_high": difference.high, "mcnemar_p": tests[row["model"]],
                    "p_value": tests[row["model"]]})  # fmt: skip
    adjusted = dict(zip([row["model"] for row in others], holm([tests[row["model"]] for row in others]), strict=True))
    for row in result.rows:
        row["p_holm"] = adjusted.get(row["model"], 1.0)
        row["comparisons"] = len(others)
        row["tied_with_baseline"] = row["model"] == baseline or row["p_holm"] >= ALPHA


def save(result: BenchResult) -> str:
    """Keep a run in the cache (bench/<time>.json) so it can be reloaded; returns its id."""
    import uuid

    folder = settings.cache_home() / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    # the time sorts the runs; the random suffix keeps two runs in the same second apart
    run_id = result.created_at.replace(":", "").replace("-", "").replace("+0000", "") + uuid.uuid4().hex[:6]
    from core.io import write_json_atomic

    write_json_atomic(folder / f"{run_id}.json", result.to_json())
    from core.io import keep_newest

    keep_newest(folder, "*.json", settings.limits().max_results, keep=run_id)
    return run_id


def saved_runs() -> list[str]:
    folder = settings.cache_home() / "bench"
    return sorted((p.stem for p in folder.glob("*.json")), reverse=True) if folder.is_dir() else []


def load(run_id: str) -> BenchResult:
    if not run_id.replace("T", "").isalnum() or len(run_id) > 40:
        raise CoreError(f"Unknown benchmark run {run_id!r}.")
    path = settings.cache_home() / "bench" / f"{run_id}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise CoreError(f"Benchmark run {run_id!r} is missing or damaged.") from None
    try:
        result = BenchResult(**data)
    except TypeError:  # a list, or fields that are not BenchResult's
        raise CoreError(f"Benchmark run {run_id!r} is damaged.") from None
    if not isinstance(result.rows, list) or not all(isinstance(row, dict) for row in result.rows):
        raise CoreError(f"Benchmark run {run_id!r} is damaged.")
    for row in result.rows:  # runs saved before every row named its metric: a classifier's is accuracy
        if "value" not in row and "accuracy" in row:
            row.update(metric="accuracy", value=row["accuracy"], low=row["accuracy_low"], high=row["accuracy_high"])
    return result
