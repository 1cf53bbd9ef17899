"""The benchmark of Chinese word segmentation: word F1 on People's Daily's held-out paragraphs (the same ones the
model card reads), paired on paragraphs, with jieba (its dictionary and HMM) as ``baseline:jieba``; recall on
words never seen in training is the second number."""

from __future__ import annotations

import importlib.util
import time

import numpy as np

from core.bench.scoring import HeldOut, Scored, Scoring, described, spec_and_variant, timed
from core.device import precision_of

JIEBA = "baseline:jieba"


def _data(task: str) -> HeldOut:
    from core.data import peoples_daily

    paragraphs = peoples_daily.split()[1]
    texts = ["".join(words) for words in paragraphs]
    return HeldOut(task, paragraphs, texts, f"{peoples_daily.DATASET}, {len(texts)} held-out paragraphs",
                   [" ".join(words) for words in paragraphs])  # fmt: skip


def _score(model_id: str, held_out: HeldOut, repeats: int, seed: int) -> Scored:
    from core.tasks.segment import Segmenter, held_out_counts, jieba_words, word_scores

    if model_id == JIEBA:
        segment, model, spec = (lambda texts: [jieba_words(text) for text in texts]), None, None
        jieba_words("预热")  # the dictionary loads once, before the clock starts
    else:
        spec, _ = spec_and_variant(model_id, held_out.task)
        segmenter = Segmenter(spec)
        segment, model = segmenter.words, segmenter.model
    started = time.perf_counter()
    found = segment(held_out.texts)
    throughput = sum(map(len, held_out.texts)) / (time.perf_counter() - started)
    counts = held_out_counts(held_out.data, found)
    outputs = [" ".join(words) for words in found]
    timings, text = timed(lambda text: segment([text]), held_out.texts, repeats)
    scores = word_scores(counts, seed=seed)
    fields = {"outputs": outputs, "per_item": counts, "quality": scores["word_f1"], "throughput": throughput,
              "timings": timings, "timed_text": text,
              "extras": {"decoding": "dictionary + HMM" if spec is None else "Viterbi over B/M/E/S tags",
                         "secondary_metric": "OOV recall", "secondary": scores["oov_recall"]["value"],
                         "throughput_unit": "characters/s"}}  # fmt: skip
    if spec is None:
        return Scored(source="baseline", parameters=None, size_mb=None, train_s=None, precision="dictionary", **fields)
    return Scored(**described(spec, model), precision=precision_of(model), **fields)


def _f1(counts: np.ndarray) -> float:
    from core.tasks.segment import f1_of

    return f1_of(counts)


SEGMENTATION = Scoring(_data, _score, _f1, baseline_ready=lambda: importlib.util.find_spec("jieba") is not None)
