"""Semantic role labeling as token classification: one BIO tag per word, for one predicate at a time.

The input is the sentence paired with its predicate — ``[CLS] sentence [SEP] predicate [SEP]`` —
and the predicate's own word pieces get token type 1, so the model knows which verb's frame to
label even when a sentence has several (the predicate-indicator input of Shi & Lin, 2019).
Only the first word piece of each word is trained and read out.
"""

from __future__ import annotations

import functools
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.catalog import ModelSpec
from core.data.srl import VERB_FORMS, Frame
from core.errors import InputError
from core.messages import Message
from core.stats import Estimate
from core.tasks import traced
from core.tasks.batching import Coalescer
from core.tasks.inputs import check_text, follows_inputs, inference_gate, refuse_other_language, to_cpu

MAX_TOKENS = 96
MAX_WORDS = 60
ROWS = 32  # frames per forward pass
_WORD = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]")


def split_words(text: str) -> list[str]:
    """Words and punctuation marks, the units SRL labels."""
    return _WORD.findall(text)


def _encode(tokenizer, words: Sequence[str], predicate: int, max_length: int) -> tuple[dict, list, list]:
    """Ids, mask and predicate indicator of ``[CLS] words [SEP] predicate [SEP]``, with each token's word
    and sequence index."""
    encoded = tokenizer(list(words), [words[predicate]], is_split_into_words=True, truncation="only_first",
                        max_length=max_length)  # fmt: skip
    word_ids, sequence_ids = encoded.word_ids(), encoded.sequence_ids()
    token_types = [
        1 if sequence == 1 or (sequence == 0 and word == predicate) else 0
        for word, sequence in zip(word_ids, sequence_ids, strict=True)
    ]
    row = {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"], "token_type_ids": token_types}  # fmt: skip
    return row, word_ids, sequence_ids


def _first_pieces(word_ids: list, sequence_ids: list, n_words: int) -> list[int | None]:
    """For each word of the sentence, the index of its first word piece (None if truncation cut it off)."""
    found: list[int | None] = [None] * n_words
    for index, (word, sequence) in enumerate(zip(word_ids, sequence_ids, strict=True)):
        if sequence == 0 and word is not None and found[word] is None:
            found[word] = index
    return found


def encode_frame(tokenizer, words: Sequence[str], predicate: int, tags: Sequence[str] | None = None,
                 label_ids: dict[str, int] | None = None, max_length: int = MAX_TOKENS) -> dict:  # fmt: skip
    """Token ids, mask, predicate indicator and (when ``tags`` are given) one label per first word piece."""
    row, word_ids, sequence_ids = _encode(tokenizer, words, predicate, max_length)
    if tags is not None:
        labels = [-100] * len(word_ids)
        for word, piece in enumerate(_first_pieces(word_ids, sequence_ids, len(words))):
            if piece is not None:
                labels[piece] = label_ids[tags[word]]
        row["labels"] = labels
    return row


def repair_bio(tags: list[str]) -> list[str]:
    """An I- tag that does not continue a span of its role starts one (the usual BIO repair)."""
    fixed, previous = [], "O"
    for tag in tags:
        if tag.startswith("I-") and previous[2:] != tag[2:]:
            tag = "B-" + tag[2:]
        fixed.append(tag)
        previous = tag
    return fixed


def suggest_predicates(words: Sequence[str]) -> list[int]:
    """Likely predicates: verb forms the model was trained on, and other past-tense-looking words."""
    found = []
    for index, word in enumerate(words):
        lower = word.lower()
        if lower in VERB_FORMS or (lower.endswith("ed") and len(lower) > 4 and index > 0):
            found.append(index)
    return found


@dataclass(frozen=True)
class LabeledFrame:
    predicate: int
    tags: list[str]
    confidence: list[float]  # probability of the chosen tag, per word

    def spans(self) -> list[tuple[str, int, int]]:
        return Frame(predicate=self.predicate, tags=tuple(self.tags), verb="", construction="").spans()


def bracketed(words: Sequence[str], tags: Sequence[str]) -> str:
    """A frame as people read it: '[ARG0 Mary] [V bought] [ARG1 two red cars] last week' — the spans seqeval
    scores (an I- tag without its B- starts a span of its own)."""
    from seqeval.metrics.sequence_labeling import get_entities

    spans = {start: (role, end) for role, start, end in get_entities(list(tags))}
    out, index = [], 0
    while index < len(words):
        if index in spans:
            role, end = spans[index]
            out.append(f"[{role} {' '.join(words[index : end + 1])}]")
            index = end + 1
        else:
            out.append(words[index])
            index += 1
    return " ".join(out)


@dataclass(frozen=True)
class SrlResult:
    words: list[str]
    frames: list[LabeledFrame]
    latency_ms: float
    truncated: bool


class SrlLabeler:
    def __init__(self, spec: ModelSpec, tokenizer=None, model=None):
        self.spec = spec
        if model is None:
            from core.loading import load_token_classifier

            tokenizer, model = load_token_classifier(spec)
        self.tokenizer, self.model = tokenizer, follows_inputs(model)
        self.labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
        self._lock = threading.Lock()
        self.coalescer = Coalescer(self._lock, self._answer_together, max_batch=16)
        # the tagger's pass traced once (core.tasks.traced), built by a page's first request; no reference back
        self.traced_pass = traced.OnePass.of(spec, self._lock, traced.logits, self.model)

    def label_words(self, words: Sequence[str], predicates: Sequence[int]) -> tuple[list[LabeledFrame], bool]:
        """Every chosen predicate's frame (one padded forward pass for them all) and whether truncation cut words."""
        return self._label_many([(tuple(words), tuple(predicates))])[0]

    def _label_many(self, requests: Sequence[tuple[tuple[str, ...], tuple[int, ...]]]) -> list[tuple[list[LabeledFrame], bool]]:
        """Every frame of every request, in forward passes of at most ``ROWS`` rows sorted by length (little padding);
        each request's frames come back in its own order."""
        rows = []  # (request, predicate, encoded row, first word piece of each word)
        for index, (words, predicates) in enumerate(requests):
            for predicate in predicates:
                row, word_ids, sequence_ids = _encode(self.tokenizer, words, predicate, MAX_TOKENS)
                rows.append((index, predicate, row, _first_pieces(word_ids, sequence_ids, len(words))))
        probs = self._probabilities([row for _, _, row, _ in rows])
        answers: list[tuple[list[LabeledFrame], bool]] = [([], False) for _ in requests]
        for (index, predicate, _, pieces), row_probs in zip(rows, probs, strict=True):
            frames, truncated = answers[index]
            frames.append(self._frame(predicate, pieces, row_probs))
            answers[index] = (frames, truncated or any(piece is None for piece in pieces))
        return answers

    def _probabilities(self, rows: list[dict]) -> list[np.ndarray]:
        """Tag probabilities per token of each row (right-padded in batches; padding changes no real token's)."""
        import torch

        pad = {"input_ids": self.tokenizer.pad_token_id or 0, "attention_mask": 0, "token_type_ids": 0}
        out: list[np.ndarray | None] = [None] * len(rows)
        order = sorted(range(len(rows)), key=lambda i: len(rows[i]["input_ids"]))
        for start in range(0, len(order), ROWS):
            chosen = order[start : start + ROWS]
            width = max(len(rows[i]["input_ids"]) for i in chosen)
            batch = {name: torch.tensor([rows[i][name] + [fill] * (width - len(rows[i][name])) for i in chosen])
                     for name, fill in pad.items()}  # fmt: skip
            with torch.inference_mode():  # the traced pass where a page's request built it: the GIL taken once
                logits = self.traced_pass.on_batch(batch, functools.partial(self._eager, batch))
                probs = torch.softmax(to_cpu(logits), dim=-1).numpy()  # (B, T, labels)
            for position, i in enumerate(chosen):
                out[i] = probs[position, : len(rows[i]["input_ids"])]
        return out  # type: ignore[return-value]

    def _eager(self, batch: dict):
        return self.model(**batch).logits

    def _frame(self, predicate: int, pieces: list[int | None], probs: np.ndarray) -> LabeledFrame:
        tags, confidence = [], []
        for piece in pieces:
            if piece is None:
                tags.append("O")
                confidence.append(0.0)
                continue
            best = int(np.argmax(probs[piece]))
            tags.append(self.labels[best])
            confidence.append(float(probs[piece, best]))
        tags = repair_bio(tags)
        tags[predicate] = "B-V"  # the predicate is given, not predicted
        return LabeledFrame(predicate=predicate, tags=tags, confidence=confidence)

    def _answer_together(self, requests: list[tuple[tuple[str, ...], tuple[int, ...]]]):
        """The coalescer's run: the model's lock is held; the gate is taken here, once for the whole batch."""
        with inference_gate():
            return self._label_many(requests)

    def label(self, text: str, predicates: Sequence[int] | None = None) -> SrlResult:
        text = check_text(text, max_chars=2000)
        refuse_other_language(text, self.spec.languages, self.spec.title)  # English words, English frames
        words = split_words(text)
        if len(words) > MAX_WORDS:
            raise InputError(
                Message("Your sentence has {count} words; SRL here takes one sentence of at most {most}.",
                        count=len(words), most=MAX_WORDS)
            )
        predicates = suggest_predicates(words) if predicates is None else list(predicates)
        if any(not 0 <= p < len(words) for p in predicates):
            raise InputError(Message("A chosen predicate is not a word of this sentence; choose again."))
        if not predicates:
            raise InputError(
                Message("No predicate (verb) was found or chosen: pick the verb(s) whose roles you want.")
            )
        self.traced_pass.get()  # a page's first request traces the pass (outside the model's lock); others run eager meanwhile
        started = time.perf_counter()  # sentences from every session are labelled together (``Coalescer``)
        frames, truncated = self.coalescer.submit((tuple(words), tuple(predicates)))
        latency = 1000 * (time.perf_counter() - started)
        return SrlResult(words=words, frames=frames, latency_ms=latency, truncated=truncated)


def span_scores(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]], *, seed: int = 0,
                n_resamples: int = 1000) -> dict:  # fmt: skip
    """Argument-span precision, recall and F1 (seqeval, predicates excluded as in CoNLL-2005), with a
    95 % bootstrap CI over frames, and F1 per role."""
    from seqeval.metrics import f1_score
    from seqeval.metrics.sequence_labeling import get_entities

    def arguments(tags):
        return [[t if not t.endswith("-V") else "O" for t in seq] for seq in tags]

    gold, predicted = arguments(gold), arguments(predicted)
    counts = np.zeros((len(gold), 3))  # true positives, predicted, gold
    per_role: dict[str, list[int]] = {}
    for i, (g, p) in enumerate(zip(gold, predicted, strict=True)):
        gold_spans, predicted_spans = set(get_entities(g)), set(get_entities(p))
        counts[i] = (len(gold_spans & predicted_spans), len(predicted_spans), len(gold_spans))
        for role, *_ in gold_spans | predicted_spans:
            per_role.setdefault(role, [0, 0, 0])
        for span in gold_spans & predicted_spans:
            per_role[span[0]][0] += 1
        for span in predicted_spans:
            per_role[span[0]][1] += 1
        for span in gold_spans:
            per_role[span[0]][2] += 1

    def f1(total) -> float:
        tp, pred, true = total
        return 0.0 if tp == 0 else 2 * tp / (pred + true)

    value = f1(counts.sum(axis=0))
    reference = f1_score(gold, predicted)
    if abs(reference - value) > 1e-9:
        raise AssertionError("seqeval and LM Lab's span count disagree; this is a bug in LM Lab")
    rng = np.random.default_rng(seed)
    resamples = rng.integers(0, len(gold), size=(n_resamples, len(gold)))
    scores = [f1(counts[index].sum(axis=0)) for index in resamples]
    low, high = np.quantile(scores, [0.025, 0.975])
    tp, pred, true = counts.sum(axis=0)
    return {
        "span_f1": Estimate(value, float(low), float(high), len(gold)).as_dict(),
        "precision": float(tp / pred) if pred else 0.0,
        "recall": float(tp / true) if true else 0.0,
        "per_role": {
            role: {
                "precision": c[0] / c[1] if c[1] else 0.0,
                "recall": c[0] / c[2] if c[2] else 0.0,
                "f1": f1(c),
                "support": c[2],
            }
            for role, c in sorted(per_role.items())
        },  # fmt: skip
    }
