"""Benchmarks for translation, semantic role labeling and language modelling — the same measurements as
for the classifiers (quality with a 95 % CI, a paired comparison with a baseline, latency after
warm-up, throughput, peak memory, size) in the same table, each task with its own metric:

* translation: chrF (and BLEU) on the held-out generated sentences; the paired comparison is on
  sentence-level chrF; variants ``@beam4`` (beam search) and ``@int8`` (dynamic quantisation);
* srl: argument-span F1 on the held-out frames; paired on frames; variant ``@int8``;
* generation: perplexity per *word* on the held-out Lee articles — comparable across tokenizers,
  unlike perplexity per token — with the Kneser–Ney trigram as ``baseline:kneser-ney``; paired on
  articles. Lower is better.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from core import catalog
from core.bench.run import BenchResult, PeakMemory, p95
from core.errors import CoreError
from core.tasks.base import SEQUENCE, get_task, names

# GPT-2's blocks are Conv1D layers, which dynamic quantisation leaves alone (only the output head would
# change), so the language model has no @int8 variant: it would be the same model under another name.
KNESER_NEY = "baseline:kneser-ney"


@dataclass
class Scored:
    """One model (or baseline) measured on a sequence task's held-out data."""

    spec: catalog.ModelSpec
    variant: str
    model: object | None  # the torch module, for its parameter count; None for a baseline without one
    outputs: list[str]  # one per item, for the disagreements view ([] when the task has no output text)
    per_item: np.ndarray  # (items, k) statistics the paired comparison resamples
    quality: dict  # the headline estimate: value, low, high, n
    secondary: tuple[str, float]  # a second number for the table, e.g. ("BLEU", 31.2)
    throughput: float  # items (or tokens) per second over the whole held-out set
    timings: list[float]  # milliseconds per call on one median-length input
    precision: str
    note: str  # how it decoded, e.g. "greedy"


@dataclass(frozen=True)
class HeldOut:
    data: object  # what ``score`` reads
    texts: list[str]  # the input of each item, for the table of disagreements
    dataset: str
    references: list[str]


@dataclass(frozen=True)
class Scoring:
    """How the benchmark scores one sequence task; a task names its Scoring in ``Task.scorer``."""

    held_out: Callable[[], HeldOut]
    score: Callable[[str, object, int], Scored]  # (model id, held-out data, timing repeats)
    statistic: Callable[[np.ndarray], float]  # the headline metric from a resample of ``per_item`` rows
    baseline_ready: Callable[[], bool] = lambda: False  # whether the task's baseline rows can run here


def choices(task: str) -> list[str]:
    """Ready models for the task, their variants, and the task's baselines when they can run."""
    found, known = [], get_task(task)
    for spec in catalog.specs_for_task(task):
        if not catalog.availability(spec).ready:
            continue
        found.append(spec.key)
        if spec.source != catalog.HUB:
            found += [f"{spec.key}@{variant}" for variant in known.variants]
    if known.baselines and known.hook("scorer").baseline_ready():
        found += list(known.baselines)
    return found


def _quantised(model):
    import torch

    return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


def _spec_and_variant(model_id: str, task: str):
    key, _, variant = model_id.partition("@")
    spec = catalog.get_spec(key)
    if spec.task != task:
        raise CoreError(f"{key!r} is a {spec.task} model, not a {task} model.")
    if variant and variant not in get_task(task).variants:
        raise CoreError(f"Unknown variant @{variant} for {task}; choose from {list(get_task(task).variants)}.")
    if not catalog.availability(spec).ready:
        raise CoreError(f"{spec.title} is {catalog.availability(spec).reason}.")
    return spec, variant


def _paired(statistic: Callable[[np.ndarray], float], stats_a: np.ndarray, stats_b: np.ndarray, *,
            seed: int, n_resamples: int = 1000) -> tuple[float, float, float, float]:  # fmt: skip
    """statistic(A) − statistic(B) on the same items: the value, a paired percentile-bootstrap 95 % CI, and the
    bootstrap's two-sided p-value for "no difference" (twice the smaller share of resamples on one side of 0)."""
    rng = np.random.default_rng(seed)
    index = rng.integers(0, len(stats_a), size=(n_resamples, len(stats_a)))
    differences = np.array([statistic(stats_a[i]) - statistic(stats_b[i]) for i in index])
    low, high = np.quantile(differences, [0.025, 0.975])
    below, above = int((differences <= 0).sum()), int((differences >= 0).sum())
    p_value = float(min(1.0, 2 * (1 + min(below, above)) / (n_resamples + 1)))  # never 0 from finite resamples
    return statistic(stats_a) - statistic(stats_b), float(low), float(high), p_value


def _f1(counts: np.ndarray) -> float:
    tp, predicted, gold = counts.sum(axis=0)
    return 0.0 if tp == 0 else 2 * tp / (predicted + gold)


def _word_perplexity(stats: np.ndarray) -> float:
    return float(np.exp(stats[:, 0].sum() / max(stats[:, 1].sum(), 1)))


# --- one model at a time -----------------------------------------------------------------------------


def _translation(model_id: str, data, repeats: int) -> Scored:
    from sacrebleu.metrics import CHRF

    from core.tasks.translate import Translator, corpus_scores

    spec, variant = _spec_and_variant(model_id, "translation")
    translator = Translator(spec)
    if variant == "int8":
        translator.model = _quantised(translator.model)
    beams = 4 if variant == "beam4" else 1
    sources, references = [p.english for p in data.test], [p.chinese for p in data.test]
    translator.translate_batch(sources[:2], beams=beams)  # warm-up
    started = time.perf_counter()
    outputs = translator.translate_batch(sources, beams=beams)
    throughput = len(sources) / (time.perf_counter() - started)
    scores = corpus_scores(outputs, references)
    sentence = CHRF()
    per_item = np.array(
        [[sentence.sentence_score(o, [r]).score] for o, r in zip(outputs, references, strict=True)]
    )
    timings = _timed(
        lambda text: translator.translate(text, beams=beams, with_attention=False), sources, repeats
    )
    return Scored(spec, variant, translator.model, outputs, per_item, scores["chrf"], ("BLEU", scores["bleu"]["value"]),
                  throughput, timings, "dynamic int8" if variant == "int8" else "fp32",
                  "beam search, 4 beams" if beams > 1 else "greedy")  # fmt: skip


def _srl(model_id: str, data, repeats: int) -> Scored:
    from core.tasks.srl import SrlLabeler, span_scores

    spec, variant = _spec_and_variant(model_id, "srl")
    labeler = SrlLabeler(spec)
    if variant == "int8":
        labeler.model = _quantised(labeler.model)
    from seqeval.metrics.sequence_labeling import get_entities

    gold, predicted, per_item = [], [], []
    labeler.label_words(data.test[0].words, [data.test[0].frames[0].predicate])  # warm-up
    started = time.perf_counter()
    for sentence in data.test:
        frames, _ = labeler.label_words(sentence.words, [f.predicate for f in sentence.frames])
        for truth, guess in zip(sentence.frames, frames, strict=True):
            g = [t if not t.endswith("-V") else "O" for t in truth.tags]
            p = [t if not t.endswith("-V") else "O" for t in guess.tags]
            gold.append(list(truth.tags))
            predicted.append(guess.tags)
            gs, ps = set(get_entities(g)), set(get_entities(p))
            per_item.append([len(gs & ps), len(ps), len(gs)])
    throughput = len(gold) / (time.perf_counter() - started)
    scores = span_scores(gold, predicted)
    texts = [sentence.text for sentence in data.test]
    timings = _timed(lambda text: labeler.label(text), texts, repeats)
    return Scored(spec, variant, labeler.model, [" ".join(t) for t in predicted], np.array(per_item, dtype=float),
                  scores["span_f1"], ("precision", scores["precision"]), throughput, timings,
                  "dynamic int8" if variant == "int8" else "fp32", "one forward pass per frame")  # fmt: skip


def _generation(model_id: str, articles: list[str], repeats: int) -> Scored:
    from core.tasks.generate import LanguageModel, document_nll, ngram_nll, perplexity_with_ci

    baseline = model_id == KNESER_NEY
    spec, variant = (catalog.LM_LEE, "") if baseline else _spec_and_variant(model_id, "generation")
    lm = LanguageModel(spec)
    block = min(lm.context, 128)
    per_item, tokens = [], 0
    started = time.perf_counter()
    for article in articles:
        ids = [
            lm.tokenizer.eos_token_id,
            *lm.tokenizer(article)["input_ids"],
        ]  # as in training: a document boundary first
        nll, count = ngram_nll(lm.ngram, ids) if baseline else document_nll(lm.model, ids, block)
        per_item.append([nll, len(article.split()), count])
        tokens += count
    throughput = tokens / (time.perf_counter() - started)
    stats = np.array(per_item)
    token_ppl = perplexity_with_ci(stats[:, 0], stats[:, 2])
    word = perplexity_with_ci(stats[:, 0], stats[:, 1])
    prompts = [" ".join(article.split()[:40]) for article in articles]
    if baseline:
        timings = _timed(
            lambda text: lm.ngram.distribution(lm.tokenizer(text)["input_ids"]), prompts, repeats
        )
    else:
        timings = _timed(lambda text: lm.next_tokens(text, k=5), prompts, repeats)
    return Scored(spec, variant, None if baseline else lm.model, [], stats[:, :2], word,
                  ("token perplexity", token_ppl["value"]), throughput, timings, "counts" if baseline else "fp32",
                  "Kneser-Ney trigram, same tokens as lm-lee-gpt" if baseline else f"{block}-token window, stride {block // 2}")  # fmt: skip


def _timed(call: Callable[[str], object], texts: list[str], repeats: int) -> list[float]:
    """``repeats`` timed calls on one fixed input (the median-length one) after three warm-up calls."""
    text = sorted(texts, key=len)[len(texts) // 2]
    for _ in range(3):
        call(text)
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        call(text)
        timings.append(1000 * (time.perf_counter() - started))
    return timings


# --- the whole run -----------------------------------------------------------------------------------


def _translation_data() -> HeldOut:
    from core.data import translation

    data = translation.corpus(train_size=0)  # the held-out sentences every translation model is scored on
    return HeldOut(data, [p.english for p in data.test], data.dataset, [p.chinese for p in data.test])


def _srl_data() -> HeldOut:
    from core.data import srl

    data = srl.corpus(train_size=0)
    references = [" ".join(f.tags) for s in data.test for f in s.frames]
    return HeldOut(data, [s.text for s in data.test], data.dataset, references)


def _generation_data() -> HeldOut:
    from core.data.lee import lm_split

    articles = list(lm_split()[1])
    return HeldOut(articles, articles, "Lee news corpus, 30 held-out articles", [])


TRANSLATION = Scoring(_translation_data, _translation, lambda stats: float(stats[:, 0].mean()))
SRL = Scoring(_srl_data, _srl, _f1)
GENERATION = Scoring(_generation_data, _generation, _word_perplexity,
                     baseline_ready=lambda: catalog.availability(catalog.LM_LEE).ready)  # fmt: skip


def run(task: str, model_ids: list[str], *, baseline: str | None = None, repeats: int = 100, seed: int = 0,
        progress: Callable[[float, str], None] = lambda fraction, message: None) -> BenchResult:  # fmt: skip
    if task not in names(SEQUENCE):
        raise CoreError(f"Unknown task {task!r}; choose one of {names(SEQUENCE)}.")
    if not model_ids:
        raise CoreError("Choose at least one model to benchmark.")
    if baseline is not None and baseline not in model_ids:
        raise CoreError(f"The baseline {baseline!r} must be one of the chosen models {model_ids}.")
    scoring: Scoring = get_task(task).hook("scorer")
    held_out = scoring.held_out()
    from core.device import library_versions

    versions = json.dumps(library_versions())
    result = BenchResult(task, held_out.dataset, [], held_out.texts, held_out.references, [],
                         created_at=datetime.now(UTC).isoformat(timespec="seconds"))  # fmt: skip
    measured = {}
    for index, model_id in enumerate(model_ids):
        progress(index / len(model_ids), f"scoring {model_id}")
        with PeakMemory() as memory:
            started = time.perf_counter()
            scored = scoring.score(model_id, held_out.data, repeats)
            seconds = time.perf_counter() - started
        row = _row(task, model_id, scored, memory.peak_mb, seconds)
        result.rows.append({**row, "latency_repeats": repeats, "seed": seed, "versions": versions})
        result.predictions[model_id] = scored.outputs
        measured[model_id] = scored.per_item
    _compare(result, measured, baseline or model_ids[0], scoring.statistic, seed)
    progress(1.0, "done")
    return result


def _row(task: str, model_id: str, scored: Scored, peak_mb: float, seconds: float) -> dict:
    """The benchmark table's row for one measured model (the columns every task's rows share)."""
    is_baseline = model_id in get_task(task).baselines
    card = catalog.read_metadata(scored.spec.key) if scored.spec.trained_here and not is_baseline else None
    quality, model = scored.quality, scored.model
    return {
        "model": model_id, "source": "baseline" if is_baseline else catalog.SOURCE_LABELS[scored.spec.source],
        "parameters": sum(p.numel() for p in model.parameters()) if model is not None else None,
        "size_mb": round(card.size_bytes / 1e6, 1) if card and card.size_bytes else None,
        "device / precision": f"cpu / {scored.precision}", "decoding": scored.note,
        "metric": get_task(task).scored_by.key, "value": quality["value"], "low": quality["low"],
        "high": quality["high"], "n": quality["n"], "secondary_metric": scored.secondary[0],
        "secondary": scored.secondary[1], "latency_p50_ms": float(np.percentile(scored.timings, 50)),
        "latency_p95_ms": p95(scored.timings), "throughput_per_s": scored.throughput,
        "peak_memory_mb": round(peak_mb, 1), "run_s": round(seconds, 2),
        "train_s": card.train_seconds if card else None,
    }  # fmt: skip


def _compare(result: BenchResult, measured: dict[str, np.ndarray], baseline: str,
             statistic: Callable[[np.ndarray], float], seed: int) -> None:  # fmt: skip
    from core.stats import holm

    p_values = {}
    for row in result.rows:
        value, low, high, p_value = _paired(statistic, measured[row["model"]], measured[baseline], seed=seed)
        p_values[row["model"]] = p_value
        row.update({"baseline": baseline, "diff_vs_baseline": value, "diff_low": low, "diff_high": high,
                    "bootstrap_p": p_value, "p_value": p_value})  # fmt: skip
    others = [row["model"] for row in result.rows if row["model"] != baseline]
    adjusted = dict(zip(others, holm([p_values[model] for model in others]), strict=True))
    for row in result.rows:  # one rule with the classifiers': Holm-corrected p at 5 %
        row["p_holm"] = adjusted.get(row["model"], 1.0)
        row["comparisons"] = len(others)
        row["tied_with_baseline"] = row["model"] == baseline or row["p_holm"] >= 0.05
