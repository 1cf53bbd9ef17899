"""Run a side-by-side benchmark: every model on the same held-out data, with CIs, paired tests, latency
after warm-up, throughput, memory, load time — one typed ``Row`` per model, one loop for every task."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime

import numpy as np
import psutil

from core import settings
from core.bench.scoring import Scored, Scoring
from core.errors import CoreError, out_of_memory
from core.stats import holm
from core.tasks.base import get_task


def _cuda():
    """``torch.cuda`` when torch is loaded and a CUDA GPU is there, else None (never imports torch)."""
    torch = sys.modules.get("torch")
    return torch.cuda if torch is not None and torch.cuda.is_available() else None


class PeakMemory:
    """Samples this process's resident memory every few milliseconds; ``peak_mb`` is the highest level
    above where it started (a sampled peak, so a spike shorter than the interval can be missed)."""

    def __init__(self, interval: float = 0.005):
        import threading

        self.process = psutil.Process()
        self.start = self.peak = self.process.memory_info().rss
        self.interval = interval
        self.gpu_start: int | None = None
        self.gpu_peak: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self) -> PeakMemory:
        cuda = _cuda()
        if cuda is not None:  # the GPU's own peak, exact (torch's allocator counts it), from here on
            cuda.synchronize()
            cuda.reset_peak_memory_stats()
            self.gpu_start = cuda.memory_allocated()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)
        cuda = _cuda()
        if cuda is not None and self.gpu_start is not None:
            cuda.synchronize()
            self.gpu_peak = cuda.max_memory_allocated()

    @property
    def gpu_peak_mb(self) -> float | None:
        """The most GPU memory torch held above where it started, or None without CUDA."""
        return None if self.gpu_peak is None else (self.gpu_peak - self.gpu_start) / 1e6

    @property
    def peak_mb(self) -> float:
        return (self.peak - self.start) / 1e6


# the columns every task's rows have, in the table's order; "device / precision" is a field named device_precision
@dataclass(frozen=True, eq=False)  # equal as mappings are (also to the dict it was saved as); not hashable
class Row(Mapping):
    """One model's row of the benchmark table, the same for every task.

    Typed fields for what every row has; ``extras`` for the columns only one family of task has (macro-F1
    and calibration for classifiers, decoding and a second metric for sequence models). It reads like the
    JSON object it is saved as (``row["value"]``, ``"ece" in row``), extras included.
    """

    model: str
    source: str | None = None
    parameters: int | None = None
    size_mb: float | None = None
    device_precision: str | None = None
    metric: str = "accuracy"
    value: float | None = None
    low: float | None = None
    high: float | None = None
    n: int | None = None
    baseline: str | None = None
    diff_vs_baseline: float | None = None
    diff_low: float | None = None
    diff_high: float | None = None
    test: str | None = None  # the paired test behind p_value: "McNemar" or "paired bootstrap"
    p_value: float | None = None
    p_holm: float | None = None
    comparisons: int | None = None
    tied_with_baseline: bool | None = None
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    latency_repeats: int | None = None
    latency_text_chars: int | None = None
    throughput_per_s: float | None = None
    peak_memory_mb: float | None = None  # the host's resident memory added, sampled
    gpu_peak_memory_mb: float | None = None  # the GPU memory torch held at most, above where it started (CUDA only)
    load_s: float | None = None
    run_s: float | None = None
    train_s: float | None = None
    seed: int | None = None
    versions: str | None = None
    extras: Mapping = field(default_factory=dict)

    def as_dict(self) -> dict:
        out = {}
        for name in _FIELDS:
            if name != "extras":
                out[_KEYS.get(name, name)] = getattr(self, name)
        return {**out, **self.extras}

    def __getitem__(self, key: str):
        return self.as_dict()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.as_dict())

    def __len__(self) -> int:
        return len(self.as_dict())

    @classmethod
    def from_dict(cls, data: Mapping) -> Row:
        """A saved row, also one from before rows were typed (accuracy columns, mcnemar_p / bootstrap_p)."""
        data = dict(data)
        if "value" not in data and "accuracy" in data:  # a classifier's headline was its accuracy
            data.update(metric="accuracy", value=data["accuracy"], low=data.get("accuracy_low"),
                        high=data.get("accuracy_high"))  # fmt: skip
        for old, test in (("mcnemar_p", "McNemar"), ("bootstrap_p", "paired bootstrap")):
            if old in data:
                data.setdefault("test", test)
                data.setdefault("p_value", data[old])
        for name in ("accuracy", "accuracy_low", "accuracy_high", "mcnemar_p", "bootstrap_p"):
            data.pop(name, None)
        known = {_KEYS.get(name, name): name for name in _FIELDS if name != "extras"}
        typed = {known[key]: value for key, value in data.items() if key in known}
        return cls(**typed, extras={key: value for key, value in data.items() if key not in known})


_FIELDS = [f.name for f in fields(Row)]
_KEYS = {"device_precision": "device / precision"}


_COLUMNS = ("index", "text", "truth", "open", "inspect")  # the disagreements table's own columns


@dataclass
class BenchResult:
    task: str
    dataset: str
    labels: list[str]  # a classification's classes; empty for sequence tasks
    texts: list[str]
    references: list  # label ids (classification) or reference outputs
    rows: list[Row]
    predictions: dict[str, list] = field(default_factory=dict)  # label ids or output texts, per model
    confidences: dict[str, list[float]] = field(default_factory=dict)  # a classifier's, per model
    created_at: str = ""

    def to_json(self) -> dict:
        data = {k: getattr(self, k) for k in ("task", "dataset", "labels", "texts", "references", "predictions",
                                              "confidences", "created_at")}  # fmt: skip
        return {**data, "rows": [dict(row) for row in self.rows]}

    def disagreements(self, limit: int = 50) -> list[dict]:
        """Examples where the models do not all give the same answer (a label with its confidence, or an output).

        Empty when the outputs are not one per example (a language model is scored, not asked: it has none).
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
            # a model named like a column of the table ("text", "truth", …) does not overwrite that column
            shown = {(f"{name} (model)" if name in _COLUMNS else name): answer for name, answer in shown.items()}
            found.append({"index": i, "text": text, "truth": truth, **shown})
        return found[:limit]


def run(
    task: str,
    model_ids: list[str],
    *,
    baseline: str | None = None,
    repeats: int = 100,
    seed: int = 0,
    progress: Callable[[float, str], None] = lambda fraction, message: None,
) -> BenchResult:
    """Score every model on the task's held-out data, one loop for every task (the task's ``Scoring``).

    ``baseline`` names the row the others are compared to (default: the first model)."""
    if not model_ids:
        raise CoreError("Choose at least one model to benchmark.")
    if baseline is not None and baseline not in model_ids:
        raise CoreError(f"The baseline {baseline!r} must be one of the chosen models {model_ids}.")
    if len(set(model_ids)) < len(model_ids):
        raise CoreError(f"Name each model once; {model_ids} repeats one.")
    from core.bench.adapters import refuse_unavailable

    for model_id in model_ids:  # a row this machine cannot run is refused before any row is scored
        refuse_unavailable(model_id)
    found = get_task(task)
    scoring: Scoring = found.hook("scorer")
    held_out = scoring.held_out(task)
    measured: dict[str, tuple[Scored, PeakMemory, float]] = {}
    for index, model_id in enumerate(model_ids):
        progress(index / len(model_ids), f"scoring {model_id}")
        with PeakMemory() as memory:
            started = time.perf_counter()
            try:
                scored = scoring.score(model_id, held_out, repeats, seed)
            except Exception as error:  # noqa: BLE001 — a GPU out of memory is said in words; the rest re-raised
                if (oom := out_of_memory(error)) is not None:
                    raise oom from None
                raise
            seconds = time.perf_counter() - started
        measured[model_id] = (scored, memory, seconds)
    result = BenchResult(task, held_out.dataset, held_out.labels, held_out.texts, held_out.references, [],
                         created_at=datetime.now(UTC).isoformat(timespec="seconds"))  # fmt: skip
    for model_id, (scored, _, _) in measured.items():
        result.predictions[model_id] = scored.outputs
        if scored.confidences:
            result.confidences[model_id] = scored.confidences
    comparisons = _compare(scoring, {m: s.per_item for m, (s, _, _) in measured.items()}, baseline or model_ids[0], seed)
    from core.device import library_versions

    versions = json.dumps(library_versions())
    for model_id, (scored, memory, seconds) in measured.items():
        scored.extras.update(_same_as_plain(model_id, result.predictions))
        result.rows.append(_row(scoring.metric or found.scored_by.key, model_id, scored, memory, seconds, comparisons[model_id],
                                test=scoring.test, repeats=repeats, seed=seed, versions=versions))  # fmt: skip
    progress(1.0, "done")
    return result


def _row(metric: str, model_id: str, scored: Scored, memory: PeakMemory, seconds: float, comparison: dict, **more) -> Row:
    """The benchmark table's row for one measured model."""
    quality = scored.quality
    return Row(model=model_id, source=scored.source, parameters=scored.parameters, size_mb=scored.size_mb,
               device_precision=f"{scored.device} / {scored.precision}", metric=metric, value=float(quality["value"]),
               low=float(quality["low"]), high=float(quality["high"]), n=int(quality["n"]),
               latency_p50_ms=float(np.percentile(scored.timings, 50)), latency_p95_ms=p95(scored.timings),
               latency_text_chars=len(scored.timed_text), throughput_per_s=scored.throughput,
               peak_memory_mb=round(memory.peak_mb, 1), gpu_peak_memory_mb=_rounded(memory.gpu_peak_mb), load_s=scored.load_s, run_s=round(seconds, 2),
               train_s=scored.train_s, latency_repeats=more["repeats"], seed=more["seed"], versions=more["versions"],
               test=more["test"], **comparison, extras=dict(scored.extras))  # fmt: skip


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _same_as_plain(model_id: str, predictions: dict[str, list]) -> dict:
    """For a variant row (``key@cuda-bf16``) measured beside its plain model: the share of items where both give
    the same answer, as ``same_as_plain`` (what halving, quantising or another runtime changed); {} otherwise."""
    plain = model_id.partition("@")[0]
    mine, theirs = predictions.get(model_id) or [], predictions.get(plain) or []
    if plain == model_id or not mine or len(mine) != len(theirs):
        return {}
    return {"same_as_plain": sum(a == b for a, b in zip(mine, theirs, strict=True)) / len(mine)}


ALPHA = 0.05


MIN_CALLS_FOR_P95 = 100  # below this the 95th percentile is one of the few largest timings, not an estimate


def p95(timings: list[float]) -> float | None:
    """The 95th percentile of the timings, or None when there are too few calls to estimate it."""
    return float(np.percentile(timings, 95)) if len(timings) >= MIN_CALLS_FOR_P95 else None


def _compare(scoring: Scoring, measured: dict[str, np.ndarray], baseline: str, seed: int) -> dict[str, dict]:
    """Each model against the baseline: the paired difference with its 95 % CI, and one rule for "tied".

    Tied means the task's paired test (McNemar's exact test for a classifier, the paired bootstrap for a
    sequence task) does not reject "no difference" at 5 % after Holm's correction over every model compared
    with the baseline (several comparisons at once would otherwise find a "significant" difference by
    chance). The CI shows the size of the difference, uncorrected.
    """
    found = {model: scoring.comparison(stats, measured[baseline], seed) for model, stats in measured.items()}
    others = [model for model in measured if model != baseline]
    adjusted = dict(zip(others, holm([found[model].p_value for model in others]), strict=True))
    out = {}
    for model, comparison in found.items():
        p_holm = adjusted.get(model, 1.0)
        out[model] = {"baseline": baseline, "diff_vs_baseline": comparison.value, "diff_low": comparison.low,
                      "diff_high": comparison.high, "p_value": comparison.p_value, "p_holm": p_holm,
                      "comparisons": len(others), "tied_with_baseline": model == baseline or p_holm >= ALPHA}  # fmt: skip
    return out


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
    except (OSError, ValueError, RecursionError):
        raise CoreError(f"Benchmark run {run_id!r} is missing or damaged.") from None
    try:
        result = BenchResult(**data)
        if not isinstance(result.rows, list) or not all(isinstance(row, dict) for row in result.rows):
            raise TypeError
        result.rows = [Row.from_dict(row) for row in result.rows]
        if not (isinstance(result.predictions, dict) and isinstance(result.texts, list)
                and isinstance(result.references, list) and isinstance(result.created_at, str)):  # fmt: skip
            raise TypeError
    except (TypeError, ValueError, RecursionError):  # a list, or fields that are not BenchResult's or a row's
        raise CoreError(f"Benchmark run {run_id!r} is damaged.") from None
    return result
