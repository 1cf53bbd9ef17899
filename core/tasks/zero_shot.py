"""Zero-shot topic classification by sentence-embedding similarity (no training on the labels).

Each candidate label becomes a sentence ("This text is about {label}."); the text and the label
sentences are embedded with MiniLM and the label whose sentence is closest (cosine) wins. The
scores are similarities, not probabilities; a softmax with a temperature turns them into shares
for the chart, and the page says which is which.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import numpy as np

from core.errors import InputError
from core.tasks.embeddings import SentenceEncoder
from core.tasks.inputs import check_text

TEMPLATE = "This text is about {label}."
# Cosine similarities of MiniLM embeddings differ by a few hundredths between labels; dividing by
# 0.05 before the softmax spreads them into shares a reader can compare (a display choice).
TEMPERATURE = 0.05
MAX_LABELS = 12


def parse_labels(raw: str) -> list[str]:
    """Comma- or newline-separated labels: trimmed, de-duplicated, 2 to 12 of them, each at most 60 characters."""
    labels: list[str] = []
    for part in re.split(r"[,\n;]", raw or ""):
        label = " ".join(part.split())
        if label and label.lower() not in {seen.lower() for seen in labels}:
            labels.append(label)
    if len(labels) < 2:
        raise InputError(
            "Give at least two candidate labels, separated by commas (e.g. sports, politics, science)."
        )
    if len(labels) > MAX_LABELS:
        raise InputError(f"Give at most {MAX_LABELS} labels; you gave {len(labels)}.")
    too_long = [label for label in labels if len(label) > 60]
    if too_long:
        raise InputError(f"Labels must be at most 60 characters: {too_long[0][:60]!r}… is longer.")
    return labels


@dataclass(frozen=True)
class ZeroShotResult:
    label: str
    similarities: dict[str, float]  # cosine similarity per label, in [-1, 1]
    shares: dict[str, float]  # softmax(similarity / TEMPERATURE), for display
    template: str
    latency_ms: float


class ZeroShotClassifier:
    def __init__(self, encoder: SentenceEncoder | None = None, template: str = TEMPLATE):
        if "{label}" not in template:
            raise InputError("The label template must contain {label}.")
        self.encoder = encoder or SentenceEncoder()
        self.template = template

    def classify(self, text: str, labels: list[str]) -> ZeroShotResult:
        cleaned = check_text(text)
        started = time.perf_counter()
        vectors = self.encoder.encode([cleaned, *[self.template.format(label=label) for label in labels]])
        similarities = vectors[1:] @ vectors[0]  # (n_labels,)
        shares = np.exp((similarities - similarities.max()) / TEMPERATURE)
        shares /= shares.sum()
        best = int(np.argmax(similarities))
        return ZeroShotResult(
            label=labels[best],
            similarities={label: float(s) for label, s in zip(labels, similarities, strict=True)},
            shares={label: float(s) for label, s in zip(labels, shares, strict=True)},
            template=self.template,
            latency_ms=1000 * (time.perf_counter() - started),
        )


def heldout_accuracy(classifier: ZeroShotClassifier | None = None, seed: int = 0):
    """Zero-shot accuracy on the held-out newsgroup posts, with the topic names as the only labels given."""
    from core.bench.stats import accuracy_with_ci
    from core.data import newsgroups

    classifier = classifier or ZeroShotClassifier()
    split, labels = newsgroups.split()
    texts = [example.text for example in split.test]
    vectors = classifier.encoder.encode(texts + [classifier.template.format(label=label) for label in labels])
    similarities = vectors[: len(texts)] @ vectors[len(texts) :].T  # (n_texts, n_labels)
    predictions = [labels[int(i)] for i in similarities.argmax(axis=1)]
    return accuracy_with_ci(predictions, [example.label for example in split.test], seed=seed)


class NliZeroShot:
    """The Hub's NLI-based zero-shot pipeline (online only): entailment of "This text is about {label}."."""

    def __init__(self, spec):
        from transformers import pipeline

        from core.loading import model_source

        source, _ = model_source(spec)  # refuses clearly when offline
        self.pipe = pipeline("zero-shot-classification", model=source, model_kwargs={"use_safetensors": True},
                             trust_remote_code=False)  # fmt: skip

    def classify(self, text: str, labels: list[str], template: str = TEMPLATE) -> ZeroShotResult:
        cleaned = check_text(text)
        started = time.perf_counter()
        output = self.pipe(cleaned, candidate_labels=labels, hypothesis_template=template, truncation=True)
        scores = dict(zip(output["labels"], output["scores"], strict=True))
        ordered = {label: float(scores[label]) for label in labels}
        return ZeroShotResult(
            output["labels"][0], ordered, ordered, template, 1000 * (time.perf_counter() - started)
        )
