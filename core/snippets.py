"""Copyable code that reproduces what a page did, with plain transformers (no LM Lab needed)."""

from __future__ import annotations

from core import catalog
from core.catalog import HUB, ModelSpec


def sentiment(spec: ModelSpec, text: str, max_tokens: int) -> str:
    text_literal = repr(text if len(text) <= 300 else text[:300] + "…")
    if spec.kind == "vader":
        return (
            "# pip install vaderSentiment\n"
            "from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer\n\n"
            "scores = SentimentIntensityAnalyzer().polarity_scores(" + text_literal + ")\n"
            "print(scores)  # neg / neu / pos shares and the compound score in [-1, 1]\n"
        )
    if spec.source == HUB:
        where = repr(spec.location)
        note = "# Downloads the model from the Hugging Face Hub on first use.\n"
    else:
        where = f"{str(catalog.cache_entry_dir(spec.key))!r}"
        note = (
            "# The folder LM Lab trained this model into (python -m core.train --model " + spec.key + ").\n"
        )
    return (
        "from transformers import pipeline\n\n"
        + note
        + f'classifier = pipeline("text-classification", model={where}, top_k=None)\n'
        + f"print(classifier({text_literal}, truncation=True, max_length={max_tokens}))\n"
    )
