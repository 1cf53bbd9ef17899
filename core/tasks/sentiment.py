"""Sentiment analysis: a label and a score per class for a piece of text.

Two kinds of predictor share one interface:

* ``TransformerSentiment`` — any sequence classifier (fine-tuned MiniLM, a Hub checkpoint);
  scores are softmax probabilities.
* ``VaderSentiment`` — the VADER lexicon; scores are the shares of negative, neutral and
  positive wording VADER finds, which are *not* probabilities, and we say so.

Both are safe to call from many threads at once (one shared instance serves every session).
"""

from __future__ import annotations

import time

from core import catalog
from core.catalog import ModelSpec
from core.errors import InputError
from core.messages import Message
from core.tasks.classify import PROBABILITY, ClassificationResult, TransformerClassifier
from core.tasks.inputs import check_text, language_fit

# The sentiment names predate the generic classifier; pages and tests use both.
SentimentResult = ClassificationResult
TransformerSentiment = TransformerClassifier

LEXICON_SHARE = "lexicon share"
MAX_VADER_WORDS = 1000  # at most about 0.1 s of VADER on 2 cores (1,500 emoji, 9,000 words, took 3 s)
__all__ = ["PROBABILITY", "LEXICON_SHARE", "SentimentResult", "TransformerSentiment", "VaderSentiment"]


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
        words = len(cleaned.split()) + sum(len(self._analyzer.emojis[c].split()) for c in cleaned if c in self._analyzer.emojis)
        if words > MAX_VADER_WORDS:  # VADER's negation check rereads the words around each one: its time grows fast
            raise InputError(Message("VADER reads at most {most} words, an emoji counting as the words of its name "
                                     "(😸 is six); this text makes {count}. Shorten it.", most=MAX_VADER_WORDS,
                                     count=words))  # fmt: skip
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
            language=language_fit(cleaned, self.spec.languages),  # a lexicon: no [UNK] to count
        )

    def predict_batch(self, texts: list[str]) -> list[SentimentResult]:
        return [self.predict(text) for text in texts]

    def binary_label(self, text: str) -> str:
        """Two-way label for data without a neutral class: the sign of the compound score."""
        return "positive" if self.predict(text).details["compound"] >= 0 else "negative"


def heldout_accuracy_vader(seed: int = 0):
    """VADER's accuracy on the same held-out polarity sentences the trained models are scored on."""
    from core.data import polarity
    from core.stats import accuracy_with_ci

    test = polarity.split().test
    predictor = VaderSentiment()
    predictions = [predictor.binary_label(example.text) for example in test]
    return accuracy_with_ci(predictions, [example.label for example in test], seed=seed)
