"""Zero-shot topic classification by sentence-embedding similarity (no training on the labels).

Each candidate label becomes a sentence ("This text is about {label}."); the text and the label
sentences are embedded with MiniLM and the label whose sentence is closest (cosine) wins. The
scores are similarities, not probabilities; a softmax with a temperature turns them into shares
for the chart, and the page says which is which.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass

import numpy as np

from core.errors import InputError
from core.loading import from_transformers
from core.messages import Message
from core.tasks.embeddings import SentenceEncoder
from core.tasks.inputs import check_text, inference_gate, pipeline_placement

TEMPLATE = "This text is about {label}."
# Cosine similarities of MiniLM embeddings differ by a few hundredths between labels; dividing by
# 0.05 before the softmax spreads them into shares a reader can compare (a display choice).
TEMPERATURE = 0.05
MAX_LABELS = 12
MAX_LABEL_CHARS = 60
MAX_LABELS_FIELD = 1_000  # characters in the whole labels box: 12 labels of 60 and separators fit
MAX_TEMPLATE_CHARS = 200
PLACEHOLDER = "{label}"


def check_template(template: str) -> str:
    """A label template: at most 200 characters, exactly one ``{label}`` and no other braces.

    The label is put in with ``str.replace``, never ``str.format``: a format field such as
    ``{label:>100000000}`` would build a 100 MB string, and ``{0}`` would raise.
    """
    if not isinstance(template, str) or not template.strip():
        raise InputError(Message("The label template is empty; use e.g. 'This text is about {example}.'", example="{label}"))
    template = " ".join(template.split())
    if len(template) > MAX_TEMPLATE_CHARS:
        raise InputError(Message("The label template has {length} characters; the limit is {limit}.",
                                 length=len(template), limit=MAX_TEMPLATE_CHARS))
    if template.count(PLACEHOLDER) != 1:
        raise InputError(Message("The label template must contain {placeholder} exactly once, e.g. 'This text is about "
                                 "{placeholder}.'", placeholder="{label}"))
    if "{" in template.replace(PLACEHOLDER, "") or "}" in template.replace(PLACEHOLDER, ""):
        raise InputError(Message("The label template may hold no braces other than {placeholder}.", placeholder="{label}"))
    return template


def fill(template: str, label: str) -> str:
    """The template with the label put in (plain replacement, no formatting language)."""
    return template.replace(PLACEHOLDER, label)


def parse_labels(raw: str) -> list[str]:
    """Labels separated by commas (, or ，), semicolons (; or ；), 、 or newlines: trimmed, de-duplicated,
    2 to 12 of them, each at most 60 characters."""
    if raw and len(raw) > MAX_LABELS_FIELD:
        raise InputError(Message("The labels box holds {length} characters; the limit is {limit}.",
                                 length=f"{len(raw):,}", limit=f"{MAX_LABELS_FIELD:,}"))
    labels: list[str] = []
    for part in re.split(r"[,\n;，；、]", raw or ""):
        label = " ".join(part.split())
        if label and label.lower() not in {seen.lower() for seen in labels}:
            labels.append(label)
    if len(labels) < 2:
        raise InputError(
            Message("Give at least two candidate labels, separated by commas (e.g. sports, politics, science).")
        )
    if len(labels) > MAX_LABELS:
        raise InputError(Message("Give at most {most} labels; you gave {count}.", most=MAX_LABELS, count=len(labels)))
    too_long = [label for label in labels if len(label) > MAX_LABEL_CHARS]
    if too_long:
        raise InputError(Message("Labels must be at most {most} characters: {label}… is longer.", most=MAX_LABEL_CHARS,
                                 label=repr(too_long[0][:60])))
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
        self.template = check_template(template)
        self.encoder = encoder or SentenceEncoder()

    def classify(self, text: str, labels: list[str]) -> ZeroShotResult:
        cleaned = check_text(text)
        started = time.perf_counter()
        vectors = self.encoder.encode([cleaned, *[fill(self.template, label) for label in labels]])
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
    from core.data import newsgroups
    from core.stats import accuracy_with_ci

    classifier = classifier or ZeroShotClassifier()
    split, labels = newsgroups.split()
    texts = [example.text for example in split.test]
    vectors = classifier.encoder.encode(texts + [fill(classifier.template, label) for label in labels])
    similarities = vectors[: len(texts)] @ vectors[len(texts) :].T  # (n_texts, n_labels)
    predictions = [labels[int(i)] for i in similarities.argmax(axis=1)]
    return accuracy_with_ci(predictions, [example.label for example in split.test], seed=seed)


def nli_hypothesis(template: str) -> str:
    """Our ``{label}`` template in the form the NLI pipeline fills: ``str.format`` with one positional field."""
    return check_template(template).replace(PLACEHOLDER, "{}")


NLI_MAX_LABELS = 6  # the NLI model reads the text once per label: 12 labels of a long text held a slot for a minute
NLI_MAX_TOKENS = 256


def nli_text(tokenizer, text: str, labels: list[str]) -> str:
    """The text the NLI model reads: its first ``NLI_MAX_TOKENS`` tokens; more than ``NLI_MAX_LABELS`` labels are
    refused (each label is one pass of a large model over the text)."""
    if len(labels) > NLI_MAX_LABELS:
        raise InputError(Message("The NLI model reads the text once per label: at most {most} labels here (the "
                                 "offline MiniLM mode takes more).", most=NLI_MAX_LABELS))  # fmt: skip
    ids = tokenizer(text, add_special_tokens=False, truncation=True, max_length=NLI_MAX_TOKENS)["input_ids"]
    return tokenizer.decode(ids) if len(ids) >= NLI_MAX_TOKENS else text


class NliZeroShot:
    """The Hub's NLI-based zero-shot pipeline (online only): entailment of "This text is about {label}."."""

    def __init__(self, spec):
        pipeline = from_transformers("pipeline")

        from core.loading import LOAD_LOCK, model_source

        source, _ = model_source(spec)  # refuses clearly when offline
        self._lock = threading.Lock()
        with LOAD_LOCK:
            self.pipe = pipeline("zero-shot-classification", model=source, model_kwargs={"use_safetensors": True},
                                 trust_remote_code=False, **pipeline_placement())  # fmt: skip

    def classify(self, text: str, labels: list[str], template: str = TEMPLATE) -> ZeroShotResult:
        cleaned = nli_text(self.pipe.tokenizer, check_text(text), labels)
        template = check_template(template)
        started = time.perf_counter()
        hypothesis = nli_hypothesis(template)
        with self._lock, inference_gate():
            output = self.pipe(cleaned, candidate_labels=labels, hypothesis_template=hypothesis, truncation=True)
        scores = dict(zip(output["labels"], output["scores"], strict=True))
        ordered = {label: float(scores[label]) for label in labels}
        return ZeroShotResult(
            output["labels"][0], ordered, ordered, template, 1000 * (time.perf_counter() - started)
        )
