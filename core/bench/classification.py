"""The benchmark's scoring of a classification task (every one: sentiment, topic, one a plug-in registers):
class probabilities from ``core.bench.adapters`` on the task's fixed held-out split; accuracy with its
95 % CI as the headline, macro-F1 and calibration beside it; McNemar's exact test against the baseline.
"""

from __future__ import annotations

import time

import numpy as np

from core import catalog
from core.bench import adapters
from core.bench.scoring import Comparison, HeldOut, Scored, Scoring, timed
from core.stats import (
    accuracy_with_ci,
    expected_calibration_error,
    macro_f1_with_ci,
    mcnemar,
    paired_bootstrap_difference,
)

BATCH_SIZE = 16  # texts per call for the quality pass (and the throughput); latency is one text per call


def _held_out(task: str) -> HeldOut:
    from core.tasks.base import get_task

    split, labels = get_task(task).held_out()
    return HeldOut(task, split, [e.text for e in split.test], split.dataset,
                   [labels.index(e.label) for e in split.test], labels)  # fmt: skip


def _score(model_id: str, held_out: HeldOut, repeats: int, seed: int) -> Scored:
    """Quality and speed of one classifier: the whole held-out split in batches (also the throughput), then
    latency, one example per call."""
    split, labels, texts = held_out.data, held_out.labels, held_out.texts
    started = time.perf_counter()
    adapter = adapters.make(model_id, labels, [e.text for e in split.train], [e.label for e in split.train])
    load_seconds = time.perf_counter() - started
    adapter.probabilities(texts[:2])  # warm-up
    started = time.perf_counter()
    probabilities = np.concatenate([adapter.probabilities(texts[i : i + BATCH_SIZE])
                                    for i in range(0, len(texts), BATCH_SIZE)])  # fmt: skip
    throughput = len(texts) / (time.perf_counter() - started)
    timings, timed_text = timed(lambda text: adapter.probabilities([text]), texts, repeats)
    predictions = probabilities.argmax(axis=1).tolist()
    confidences = probabilities.max(axis=1).tolist()
    correct = np.array([p == r for p, r in zip(predictions, held_out.references, strict=True)])
    accuracy = accuracy_with_ci(predictions, held_out.references, seed=seed)
    f1 = macro_f1_with_ci(predictions, held_out.references, len(labels), seed=seed)
    return Scored(
        source=adapter.source, parameters=adapter.parameters,
        size_mb=round(adapter.size_bytes / 1e6, 1) if adapter.size_bytes else None, train_s=adapter.train_seconds,
        outputs=predictions, per_item=correct.astype(float)[:, None],
        quality={"value": accuracy.value, "low": accuracy.low, "high": accuracy.high, "n": accuracy.n},
        throughput=throughput, timings=timings, timed_text=timed_text, precision=adapter.precision,
        confidences=confidences, load_s=load_seconds, device=adapter.device,
        extras={"macro_f1": f1.value, "macro_f1_low": f1.low, "macro_f1_high": f1.high,
                "ece": expected_calibration_error(confidences, correct.tolist())["ece"] if adapter.is_probability else None,
                "scores": "probability" if adapter.is_probability else "not a probability",
                **_unknown_share(adapter, texts)},
    )  # fmt: skip


def _unknown_share(adapter, texts: list[str]) -> dict:
    """For a model with an [UNK] token: the share of the held-out texts' tokens its vocabulary does not know (a
    Chinese review read by an English vocabulary is mostly [UNK]), as ``unk_share``; {} for other models."""
    from core.tasks.inputs import language_fit

    tokenizer = getattr(adapter, "tokenizer", None)
    if getattr(tokenizer, "unk_token_id", None) is None:
        return {}
    rows = tokenizer(texts, add_special_tokens=False)["input_ids"]
    fits = [language_fit(text, (), tokenizer, ids) for text, ids in zip(texts, rows, strict=True)]
    tokens = sum(fit.tokens for fit in fits)
    return {"unk_share": sum(fit.unknown for fit in fits) / tokens} if tokens else {}


def _compare(mine: np.ndarray, base: np.ndarray, seed: int) -> Comparison:
    """The accuracy difference with its paired bootstrap CI; McNemar's exact test for "equally accurate"."""
    a, b = mine[:, 0], base[:, 0]
    difference = paired_bootstrap_difference(a, b, seed=seed)
    return Comparison(difference.value, difference.low, difference.high, mcnemar(a > 0.5, b > 0.5)["p_value"])


SCORING = Scoring(_held_out, _score, lambda stats: float(stats[:, 0].mean()), test="McNemar", compare=_compare,
                  metric="accuracy",
                  variants_for=lambda spec: spec.kind == "transformers" and spec.source != catalog.HUB)  # fmt: skip
