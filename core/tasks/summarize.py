"""Summarization. Extractive (offline): rank sentences by centrality, pick by a word budget with
redundancy penalised, keep their order. Baseline: the first sentences (lead). Abstractive (online):
a Hub seq2seq model through ``pipeline("summarization")``.

Extractive method, step by step:
1) split the text into sentences; 2) embed each with MiniLM (unit vectors);
3) centrality by TextRank: PageRank on the graph whose edge weights are positive cosine
   similarities between sentences (Mihalcea & Tarau, 2004);
4) selection by maximal marginal relevance (Carbonell & Goldstein, 1998): repeatedly take the
   sentence maximising λ·relevance − (1 − λ)·(its highest similarity to what is already chosen),
   where relevance is centrality divided by its maximum and λ = 1 − the redundancy penalty, among
   those that still fit the word budget (the first pick always counts); 5) print the chosen
   sentences in their original order.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass

import numpy as np

from core.data.text import count_words, language_of
from core.errors import InputError
from core.loading import from_transformers
from core.messages import Message
from core.tasks.embeddings import SentenceEncoder
from core.tasks.inputs import check_text, inference_gate, pipeline_placement

_ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "vs", "etc", "inc", "ltd", "co", "gen", "sen", "rep",
                  "e.g", "i.e", "u.s", "u.k", "no", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept",
                  "oct", "nov", "dec"}  # fmt: skip
_BOUNDARY = re.compile(r"[.!?][\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])")


# Chinese ends a sentence with a full-width 。！？ or ； (and any closing quotes), with no space after it
_CHINESE_BOUNDARY = re.compile(r"[。！？；!?][”’」』）)]*")


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences: a stop, then space, then a capital or digit — unless the stop ends
    a known abbreviation (Mr., Dr., U.S.) or a single initial; in Chinese text, after 。！？ or ；."""
    if language_of(text) == "zh":
        return _chinese_sentences(text)
    spans, start = [], 0
    for match in _BOUNDARY.finditer(text):
        # the word before the stop, from at most 64 characters back: a longer word is no abbreviation or initial
        # either way, and reading back only that far keeps many skipped stops ("A. A. A. …") linear, not quadratic
        tail = text[max(start, match.start() + 1 - 64) : match.start() + 1].split()
        word = tail[-1].rstrip(".").lower() if tail else ""
        if word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
            continue
        spans.append((start, match.start() + 1 + len(match.group(0)[1:].rstrip())))
        start = match.end()
    if text[start:].strip():
        spans.append((start, len(text.rstrip())))
    return [(s, e) for s, e in spans if text[s:e].strip()]


def _chinese_sentences(text: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for match in _CHINESE_BOUNDARY.finditer(text):
        spans.append((start, match.end()))
        start = match.end()
    if text[start:].strip():
        spans.append((start, len(text.rstrip())))
    # no span starts with the spaces or line breaks between sentences
    spans = [(s + len(text[s:e]) - len(text[s:e].lstrip()), e) for s, e in spans]
    return [(s, e) for s, e in spans if text[s:e].strip()]


@dataclass(frozen=True)
class Sentence:
    index: int
    text: str
    start: int
    end: int
    words: int
    centrality: float  # TextRank score, sums to 1 over the text's sentences
    chosen: bool
    pick_order: int | None  # 1 for the first sentence MMR picked, …


@dataclass(frozen=True)
class Summary:
    method: str
    text: str  # the cleaned input the sentence spans refer to
    sentences: list[Sentence]
    summary: str
    words_in: int
    words_out: int
    latency_ms: float

    @property
    def compression(self) -> float:
        """Summary length as a share of the input, in words."""
        return self.words_out / max(self.words_in, 1)


def textrank(similarity: np.ndarray, damping: float = 0.85, iterations: int = 100) -> np.ndarray:
    """PageRank on a weighted graph (diagonal and negative weights removed).  # (N,), sums to 1"""
    weights = np.clip(similarity, 0.0, None)
    np.fill_diagonal(weights, 0.0)
    n = len(weights)
    outgoing = weights.sum(axis=1, keepdims=True)
    transition = np.divide(weights, outgoing, out=np.full_like(weights, 1.0 / max(n, 1)), where=outgoing > 0)
    scores = np.full(n, 1.0 / max(n, 1))
    for _ in range(iterations):
        updated = (1 - damping) / n + damping * transition.T @ scores
        if np.abs(updated - scores).sum() < 1e-10:
            return updated
        scores = updated
    return scores


# Every sentence is embedded (MiniLM, in batches of 32) and TextRank builds an N × N graph. Within the
# 5,000-character cap real prose has far fewer sentences; the cap stops degenerate input ("Go. Go. …").
MAX_SENTENCES = 150


def _sentences(text: str) -> tuple[str, list[tuple[int, int]]]:
    cleaned = check_text(text)
    spans = split_sentences(cleaned)
    if len(spans) < 2:
        raise InputError(Message("A summary needs a text of at least two sentences (ending with . ! or ?, or 。！？ in "
                                 "Chinese)."))
    if len(spans) > MAX_SENTENCES:
        raise InputError(
            Message("The text has {count} sentences; summaries take at most {most}. Shorten the text.",
                    count=f"{len(spans):,}", most=MAX_SENTENCES)
        )
    return cleaned, spans


def mmr_select(similarity: np.ndarray, relevance: np.ndarray, lengths: list[int], budget_words: int,
               diversity: float) -> list[int]:  # fmt: skip
    """Maximal marginal relevance within a word budget, in pick order: O(N²) with N sentences.

    Each round takes the candidate with the best λ·relevance − (1 − λ)·redundancy, where redundancy is
    its highest similarity to a sentence already chosen (kept up to date in one vector); a candidate that
    does not fit the budget is dropped and a shorter one may still fit. The first pick always fits.
    """
    n = len(relevance)
    redundancy = np.zeros(n)
    open_ = np.ones(n, dtype=bool)
    chosen: list[int] = []
    used = 0
    while open_.any():
        score = np.where(open_, (1 - diversity) * relevance - diversity * redundancy, -np.inf)
        best = int(np.argmax(score))
        open_[best] = False
        if chosen and used + lengths[best] > budget_words:
            continue  # does not fit; a shorter one still might
        chosen.append(best)
        used += lengths[best]
        redundancy = np.maximum(redundancy, similarity[best])
    return chosen


def _build(method, cleaned, spans, centrality, chosen_order, started) -> Summary:
    picked = {index: rank + 1 for rank, index in enumerate(chosen_order)}
    sentences = [
        Sentence(
            i, cleaned[s:e], s, e, count_words(cleaned[s:e]), float(centrality[i]), i in picked, picked.get(i)
        )
        for i, (s, e) in enumerate(spans)
    ]
    joiner = "" if language_of(cleaned) == "zh" else " "  # Chinese puts no space between sentences
    summary = joiner.join(sentence.text for sentence in sentences if sentence.chosen)
    return Summary(method, cleaned, sentences, summary, count_words(cleaned), count_words(summary),
                   1000 * (time.perf_counter() - started))  # fmt: skip


@dataclass(frozen=True)
class Embedded:
    """A text split into sentences and embedded: the expensive half of an extractive summary."""

    text: str  # the cleaned input
    spans: list[tuple[int, int]]
    similarity: np.ndarray  # (N, N) cosine similarities
    centrality: np.ndarray  # (N,) TextRank scores
    embed_ms: float


def embed(encoder: SentenceEncoder, text: str) -> Embedded:
    """Split, embed every sentence and rank them (TextRank); at most ``MAX_SENTENCES`` sentences."""
    started = time.perf_counter()
    cleaned, spans = _sentences(text)
    vectors = encoder.encode([cleaned[s:e] for s, e in spans])
    similarity = vectors @ vectors.T
    return Embedded(cleaned, spans, similarity, textrank(similarity), 1000 * (time.perf_counter() - started))


def select(embedded: Embedded, budget_words: int = 60, diversity: float = 0.3) -> Summary:
    """The cheap half: MMR within ``budget_words`` on sentences already embedded (at least one is chosen)."""
    if not 0 <= diversity <= 1:
        raise InputError(f"diversity must be between 0 and 1, got {diversity}.")
    started = time.perf_counter() - embedded.embed_ms / 1000  # latency covers both halves
    cleaned, spans, centrality = embedded.text, embedded.spans, embedded.centrality
    relevance = centrality / centrality.max()
    lengths = [count_words(cleaned[s:e]) for s, e in spans]
    chosen = mmr_select(embedded.similarity, relevance, lengths, budget_words, diversity)
    return _build("TextRank + MMR (MiniLM embeddings)", cleaned, spans, centrality, chosen, started)


def extractive(
    encoder: SentenceEncoder, text: str, budget_words: int = 60, diversity: float = 0.3
) -> Summary:
    """TextRank + MMR within ``budget_words`` (at least one sentence is always chosen)."""
    if not 0 <= diversity <= 1:
        raise InputError(f"diversity must be between 0 and 1, got {diversity}.")
    return select(embed(encoder, text), budget_words, diversity)


def lead(text: str, budget_words: int = 60) -> Summary:
    """Baseline: the first sentences, as many as fit the budget (news puts the gist first)."""
    started = time.perf_counter()
    cleaned, spans = _sentences(text)
    chosen, used = [], 0
    for i, (s, e) in enumerate(spans):
        words = count_words(cleaned[s:e])
        if chosen and used + words > budget_words:
            break
        chosen.append(i)
        used += words
    return _build("lead (first sentences)", cleaned, spans, np.zeros(len(spans)), chosen, started)


class AbstractiveSummarizer:
    """A Hub seq2seq summarizer (online only). Input beyond the model's limit is truncated, and said so."""

    def __init__(self, spec):
        pipeline = from_transformers("pipeline")

        from core.loading import LOAD_LOCK, model_source

        source, kwargs = model_source(spec)
        self.spec = spec
        with LOAD_LOCK:
            self.pipe = pipeline("summarization", model=source, model_kwargs={"use_safetensors": True},
                                 trust_remote_code=False, **pipeline_placement())  # fmt: skip
        self.max_tokens = min(getattr(self.pipe.tokenizer, "model_max_length", 512), 1024)
        self._lock = threading.Lock()

    def summarize(self, text: str, min_words: int = 20, max_words: int = 80) -> tuple[str, bool, float]:
        cleaned = check_text(text)
        started = time.perf_counter()
        with self._lock, inference_gate():
            truncated = len(self.pipe.tokenizer(cleaned)["input_ids"]) > self.max_tokens
            output = self.pipe(cleaned, min_length=int(min_words * 1.3), max_length=int(max_words * 1.3),
                               truncation=True)[0]["summary_text"]  # fmt: skip
        return output.strip(), truncated, 1000 * (time.perf_counter() - started)
