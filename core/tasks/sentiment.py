"""Sentiment analysis: a label and a score per class for a piece of text.

Two kinds of predictor share one interface:

* ``TransformerSentiment`` — any sequence classifier (fine-tuned MiniLM, a Hub checkpoint);
  scores are softmax probabilities.
* ``VaderSentiment`` — the VADER lexicon; scores are the shares of negative, neutral and
  positive wording VADER finds, which are *not* probabilities, and we say so.

Both are safe to call from many threads at once (one shared instance serves every session).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from core import catalog, loading
from core.catalog import ModelSpec
from core.tasks.inputs import check_text, inference_gate

PROBABILITY = "probability"
LEXICON_SHARE = "lexicon share"


@dataclass(frozen=True)
class SentimentResult:
    label: str
    scores: dict[str, float]  # class → score, in the model's label order
    score_kind: str  # PROBABILITY or LEXICON_SHARE
    model_key: str
    n_tokens: int  # tokens the model saw (after truncation), special tokens included
    n_tokens_input: int  # tokens the full text would have needed
    max_tokens: int
    latency_ms: float
    details: dict[str, float] = field(default_factory=dict)

    @property
    def truncated(self) -> bool:
        return self.n_tokens_input > self.n_tokens


def _normalise_label(raw: str) -> str:
    lowered = raw.strip().lower()
    return {"label_0": "negative", "label_1": "positive", "neg": "negative", "pos": "positive"}.get(
        lowered, lowered
    )


class TransformerSentiment:
    """A Hugging Face sequence classifier behind a lock: tokenizer and forward pass are not thread-safe
    when shared (fast tokenizers raise "Already borrowed"), so each call holds the lock for its
    preprocess + forward, and the process-wide gate bounds how many models compute at once."""

    def __init__(self, spec: ModelSpec):
        import torch

        self._torch = torch
        self.spec = spec
        self.tokenizer, self.model = loading.load_classifier(spec)
        self.max_tokens = loading.token_limit(self.tokenizer, self.model)
        id2label = self.model.config.id2label
        self.labels = [_normalise_label(id2label[i]) for i in range(len(id2label))]
        self._lock = threading.Lock()

    # 1) preprocess: clean, check, tokenize with truncation at the model's real maximum
    def preprocess(self, texts: list[str]):
        cleaned = [check_text(text) for text in texts]
        full_lengths = [len(ids) for ids in self.tokenizer(cleaned, truncation=False)["input_ids"]]
        batch = self.tokenizer(
            cleaned, truncation=True, max_length=self.max_tokens, padding=True, return_tensors="pt"
        )
        return batch, full_lengths

    # 2) forward: logits for the batch  # (B, n_classes)
    def forward(self, batch):
        with self._torch.inference_mode():
            return self.model(**batch).logits

    # 3) postprocess: softmax → plain floats and the arg-max label
    def postprocess(self, logits, batch, full_lengths, latency_ms: float) -> list[SentimentResult]:
        probabilities = self._torch.softmax(logits.float(), dim=-1).tolist()
        used = batch["attention_mask"].sum(dim=1).tolist()
        results = []
        for row, n_used, n_full in zip(probabilities, used, full_lengths, strict=True):
            best = max(range(len(row)), key=row.__getitem__)
            results.append(
                SentimentResult(
                    label=self.labels[best],
                    scores={label: float(p) for label, p in zip(self.labels, row, strict=True)},
                    score_kind=PROBABILITY,
                    model_key=self.spec.key,
                    n_tokens=int(n_used),
                    n_tokens_input=int(n_full),
                    max_tokens=self.max_tokens,
                    latency_ms=latency_ms,
                )
            )
        return results

    def predict_batch(self, texts: list[str]) -> list[SentimentResult]:
        with inference_gate(), self._lock:
            started = time.perf_counter()
            batch, full_lengths = self.preprocess(texts)
            logits = self.forward(batch)
            latency_ms = 1000 * (time.perf_counter() - started)
            return self.postprocess(logits, batch, full_lengths, latency_ms)

    def predict(self, text: str) -> SentimentResult:
        return self.predict_batch([text])[0]


class VaderSentiment:
    """The VADER lexicon. Its analyser only reads shared dictionaries, so it is thread-safe."""

    # VADER's authors' thresholds on the compound score for three-way labels.
    POSITIVE_AT = 0.05
    NEGATIVE_AT = -0.05

    def __init__(self, spec: ModelSpec = catalog.VADER):
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self.spec = spec
        self.labels = list(spec.labels)
        self.max_tokens = 0
        self._analyzer = SentimentIntensityAnalyzer()

    def predict(self, text: str) -> SentimentResult:
        cleaned = check_text(text)
        started = time.perf_counter()
        raw = self._analyzer.polarity_scores(cleaned)
        latency_ms = 1000 * (time.perf_counter() - started)
        compound = raw["compound"]
        if compound >= self.POSITIVE_AT:
            label = "positive"
        elif compound <= self.NEGATIVE_AT:
            label = "negative"
        else:
            label = "neutral"
        n_words = len(cleaned.split())
        return SentimentResult(
            label=label,
            scores={"negative": raw["neg"], "neutral": raw["neu"], "positive": raw["pos"]},
            score_kind=LEXICON_SHARE,
            model_key=self.spec.key,
            n_tokens=n_words,
            n_tokens_input=n_words,
            max_tokens=0,
            latency_ms=latency_ms,
            details={"compound": compound},
        )

    def predict_batch(self, texts: list[str]) -> list[SentimentResult]:
        return [self.predict(text) for text in texts]

    def binary_label(self, text: str) -> str:
        """Two-way label for data without a neutral class: the sign of the compound score."""
        return "positive" if self.predict(text).details["compound"] >= 0 else "negative"


def make_predictor(spec: ModelSpec):
    if spec.task != "sentiment":
        raise catalog.UnknownModelError(
            f"{spec.title} is not a sentiment model; choose one of "
            f"{sorted(s.key for s in catalog.specs_for_task('sentiment'))}."
        )
    if spec.kind == "vader":
        return VaderSentiment(spec)
    return TransformerSentiment(spec)


def heldout_accuracy_vader(seed: int = 0):
    """VADER's accuracy on the same held-out polarity sentences the trained models are scored on."""
    from core.bench.stats import accuracy_with_ci
    from core.data import polarity

    test = polarity.split().test
    predictor = VaderSentiment()
    predictions = [predictor.binary_label(example.text) for example in test]
    return accuracy_with_ci(predictions, [example.label for example in test], seed=seed)
