"""Chinese word segmentation (中文分词) as character tagging: every character is the Beginning, a Middle or the End
of a word, or a Single-character word (B/M/E/S). Chinese is written without spaces between words, so finding the
words is the first step of Chinese preprocessing (the article's 数据预处理); a tagger learns it from a corpus whose
words a person marked (People's Daily, January 1998, in Peking University's standard).

``Segmenter`` runs a character tagger trained here: the text is cut into windows of at most ``WINDOW``
characters (after a comma or full stop where one is near), every window is tagged in one batch, and the
tags are decoded with Viterbi so that only valid sequences come out (an M or E never starts a word). Texts that
sessions send at the same moment share forward passes (``Coalescer``), their windows sorted by length. ``jieba_words``
is the baseline: jieba's dictionary and HMM. ``word_counts`` / ``word_scores`` are the word-level precision,
recall and F1 (a predicted word is right when its start and end both match a gold word), with recall on words
never seen in training (out of vocabulary, OOV) apart.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from core.catalog import ModelSpec
from core.errors import InputError
from core.messages import Message
from core.stats import Estimate
from core.tasks import traced
from core.tasks.batching import Coalescer
from core.tasks.inputs import FairLock, check_text, follows_inputs, inference_gate, to_cpu

TAGS = ("B", "M", "E", "S")
WINDOW = 62  # characters per row: the training rows' length (64 tokens with [CLS] and [SEP])
MAX_CHARS = 2000  # what one request may segment (about 33 windows, one batch)
# After these a new word always starts: the corpus marks each as a word of its own.
BREAKS = frozenset("。！？；，、：）」』》”")  # not "…": "……" is one word
_START = np.array([True, False, False, True])  # a text starts with B or S
_END = np.array([False, False, True, True])  # and ends with E or S
# _ALLOWED[a, b]: tag b may follow tag a (after B or M the word goes on; after E or S a new one starts)
_ALLOWED = np.array([[False, True, True, False], [False, True, True, False],
                     [True, False, False, True], [True, False, False, True]])  # fmt: skip


def tags_of(words: Iterable[str]) -> list[str]:
    """One tag per character: 中国/人民 → B E B E, 的 → S."""
    out: list[str] = []
    for word in words:
        out += ["S"] if len(word) == 1 else ["B", *["M"] * (len(word) - 2), "E"]
    return out


def words_of(chars: Sequence[str], tags: Sequence[str]) -> list[str]:
    """The words the tags mark (a B or S starts a word, an E or S ends one)."""
    words, current = [], ""
    for char, tag in zip(chars, tags, strict=True):
        if tag in "BS" and current:
            words.append(current)
            current = ""
        current += char
        if tag in "ES":
            words.append(current)
            current = ""
    if current:
        words.append(current)
    return words


def spans(words: Iterable[str]) -> set[tuple[int, int]]:
    """Each word as (start, end) character offsets: two segmentations of one text agree on a word when these match."""
    found, start = set(), 0
    for word in words:
        found.add((start, start + len(word)))
        start += len(word)
    return found


def chunks(words: Sequence[str], length: int = WINDOW) -> Iterator[list[str]]:
    """Consecutive words of at most ``length`` characters together (a longer word alone): the training rows."""
    current, size = [], 0
    for word in words:
        if current and size + len(word) > length:
            yield current
            current, size = [], 0
        current.append(word)
        size += len(word)
    if current:
        yield current


def windows(text: str, length: int = WINDOW, cost: Callable[[str], int] = lambda char: 1) -> list[str]:
    """``text`` (no white space) cut into pieces of at most ``length`` tokens (``cost``: a character's tokens; NFKC
    makes three of "…"), each after a break mark where there is one in its second half (so a window starts a word)."""
    out, start = [], 0
    while start < len(text):
        end, used = start, 0
        while end < len(text) and (end == start or used + cost(text[end]) <= length):
            used += cost(text[end])
            end += 1
        if end < len(text):
            end = max((i + 1 for i in range(start + (end - start) // 2, end) if text[i] in BREAKS), default=end)
        out.append(text[start:end])
        start = end
    return out


def viterbi(log_probs: np.ndarray) -> list[str]:
    """The most probable tag sequence that is a valid segmentation, from (characters, 4) log-probabilities."""
    blocked = np.where(_ALLOWED, 0.0, -np.inf)
    score = np.where(_START, log_probs[0], -np.inf)
    back = np.zeros((len(log_probs), 4), dtype=int)
    for i in range(1, len(log_probs)):
        candidates = score[:, None] + blocked  # (from, to)
        back[i] = candidates.argmax(axis=0)
        score = candidates.max(axis=0) + log_probs[i]
    best = int(np.argmax(np.where(_END, score, -np.inf)))
    path = [best]
    for i in range(len(log_probs) - 1, 0, -1):
        best = int(back[i, best])
        path.append(best)
    return [TAGS[k] for k in reversed(path)]


def decode(joined: Sequence[Sequence[np.ndarray]]) -> list[tuple[list[str], list[float]]]:
    """Viterbi tags, and the probability of each chosen tag, from each text's windows' log-probabilities."""
    out = []
    for parts in joined:
        if not parts:
            out.append(([], []))
            continue
        tags = [tag for part in parts for tag in viterbi(part)]  # a window starts a word (unless no break mark was near)
        log_probs = np.concatenate(parts)
        out.append((tags, [float(np.exp(log_probs[i, TAGS.index(t)])) for i, t in enumerate(tags)]))
    return out


@dataclass(frozen=True)
class Segmentation:
    words: list[str]
    confidence: list[float]  # per word: the lowest probability the model gave one of its characters' tags
    latency_ms: float


class Segmenter:
    """One shared character tagger; thread-safe (a fair lock around the forward passes, which the texts of every
    session waiting at that moment share)."""

    def __init__(self, spec: ModelSpec, tokenizer=None, model=None):
        self.spec = spec
        if model is None:
            from core.loading import load_token_classifier

            tokenizer, model = load_token_classifier(spec)
        self.tokenizer, self.model = tokenizer, follows_inputs(model)
        self.labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
        self._lock = FairLock()
        self.traced_pass = traced.OnePass.of(spec, self._lock, traced.logits, self.model)
        self.coalescer = Coalescer(self._lock, self._answer_together, max_batch=16)
        # a character's tokens after the tokenizer's NFKC ("…" is three), so that no window is cut by truncation
        self._cost = functools.lru_cache(maxsize=20_000)(lambda char: len(self.tokenizer.tokenize(char)))

    def _log_probs(self, pieces: list[str]) -> list[np.ndarray]:
        """(characters, 4) tag log-probabilities for each piece, in B/M/E/S order, from one batched forward pass."""
        import torch

        encoded = self.tokenizer([list(piece) for piece in pieces], is_split_into_words=True, truncation=True,
                                 max_length=WINDOW + 2, padding=True, return_tensors="pt")  # fmt: skip
        batch = {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"]}
        with torch.inference_mode():  # the traced pass where a page's request built it (core.tasks.traced)
            logits = self.traced_pass.on_batch(batch, lambda: self.model(**batch).logits)
        order = [self.labels.index(tag) for tag in TAGS]
        scores = torch.log_softmax(to_cpu(logits), dim=-1)[..., order].numpy()
        out = []
        for row, piece in enumerate(pieces):
            found = np.full((len(piece), 4), np.log(0.25))  # a character the tokenizer drops: no preference
            seen = set()
            for index, char in enumerate(encoded.word_ids(row)):
                if char is not None and char not in seen:
                    seen.add(char)
                    found[char] = scores[row, index]
            out.append(found)
        return out

    def scores(self, texts: Sequence[str], batch: int = 64) -> list[list[np.ndarray]]:
        """Each text's windows' tag log-probabilities (white space removed first): the forward passes, in rows of
        similar length (padding changes no real character's scores)."""
        runs = ["".join(text.split()) for text in texts]
        pieces = [(i, piece) for i, run in enumerate(runs) for piece in windows(run, cost=self._cost)]
        order = sorted(range(len(pieces)), key=lambda k: len(pieces[k][1]))
        scores: list[np.ndarray | None] = [None] * len(pieces)
        for start in range(0, len(order), batch):
            chosen = order[start : start + batch]
            for k, found in zip(chosen, self._log_probs([pieces[k][1] for k in chosen]), strict=True):
                scores[k] = found
        joined: list[list[np.ndarray]] = [[] for _ in runs]
        for (i, _), piece_scores in zip(pieces, scores, strict=True):
            joined[i].append(piece_scores)
        return joined

    def tag(self, texts: Sequence[str]) -> list[tuple[list[str], list[float]]]:
        """Tags and each tag's probability for every character of each text (white space removed first)."""
        return decode(self.scores(texts))

    def words(self, texts: Sequence[str]) -> list[list[str]]:
        """Each text's words (the held-out measurement reads these)."""
        return [words_of("".join(text.split()), tags) for text, (tags, _) in zip(texts, self.tag(texts), strict=True)]

    def _answer_together(self, texts: list[str]) -> list[tuple[list[np.ndarray], float]]:
        """The coalescer's run (the model's lock held): every waiting text's windows in shared passes, the gate taken
        once; each text gets its scores and the time of the passes that answered it."""
        with inference_gate():
            started = time.perf_counter()
            scores = self.scores(texts)
        elapsed = 1000 * (time.perf_counter() - started)
        return [(found, elapsed) for found in scores]

    def segment(self, text: str) -> Segmentation:
        """The words of a student's text, each with the model's confidence; its latency is the passes that answered
        it and the decoding, not the wait for the model."""
        text = check_text(text, max_chars=MAX_CHARS)
        refuse_without_chinese(text)
        self.traced_pass.get()  # a page's first request traces the pass; the held-out measurement keeps the eager one
        scores, passes_ms = self.coalescer.submit(text)
        started = time.perf_counter()
        tags, chosen = decode([scores])[0]  # outside the lock and the gate: numbers only
        latency = passes_ms + 1000 * (time.perf_counter() - started)
        words = words_of("".join(text.split()), tags)
        confidence, start = [], 0
        for word in words:
            confidence.append(min(chosen[start : start + len(word)]))
            start += len(word)
        return Segmentation(words, confidence, latency)


def differences(mine: Sequence[str], theirs: Sequence[str]) -> list[tuple[list[str], list[str]]]:
    """Where two segmentations of one text disagree: for each stretch between boundaries both share, the words
    each put there (e.g. (["研究生", "命"], ["研究", "生命"]))."""
    ends_a, ends_b = ({end for _, end in spans(words)} for words in (mine, theirs))
    shared = sorted(ends_a & ends_b)
    out, a, b, start = [], list(mine), list(theirs), 0
    for end in shared:
        part_a, part_b = [], []
        while a and sum(map(len, part_a)) < end - start:
            part_a.append(a.pop(0))
        while b and sum(map(len, part_b)) < end - start:
            part_b.append(b.pop(0))
        if part_a != part_b:
            out.append((part_a, part_b))
        start = end
    return out


@dataclass(frozen=True)
class SideBySide:
    """One text segmented by the model trained here (None while it is not ready) and by jieba."""

    model: Segmentation | None
    jieba: list[str]
    jieba_ms: float


def side_by_side(segmenter: Segmenter | None, text: str) -> SideBySide:
    """The model's words and jieba's for a student's text (the same checks for both)."""
    text = check_text(text, max_chars=MAX_CHARS)
    refuse_without_chinese(text)
    model = segmenter.segment(text) if segmenter is not None else None
    started = time.perf_counter()
    jieba = jieba_words(text)
    return SideBySide(model, jieba, 1000 * (time.perf_counter() - started))


def refuse_without_chinese(text: str) -> None:
    from core.data.text import has_han

    if not has_han(text):
        raise InputError(Message("There is no Chinese character in your text: word segmentation is for Chinese, "
                                 "which is written without spaces between words."))  # fmt: skip


_jieba_lock = threading.Lock()
_jieba_ready = False


def half_width(text: str) -> str:
    """Each full-width digit or letter as its ASCII twin (NFKC where it keeps one character), so the text keeps its
    length: People's Daily writes １９９７年 and ＣＤＭＡ, which jieba would cut into single characters."""
    return "".join(n if len(n := unicodedata.normalize("NFKC", c)) == 1 else c for c in text)


def jieba_words(text: str) -> list[str]:
    """jieba's words for ``text`` (its dictionary and HMM for unknown words), read in half width and given back in
    the text's own characters; white space left out."""
    global _jieba_ready
    import jieba

    if not _jieba_ready:
        with _jieba_lock:  # loading the dictionary once (about a second), never twice at the same time
            from core.settings import cache_home

            jieba.setLogLevel(logging.WARNING)
            jieba.dt.tmp_dir = str(cache_home())  # its dictionary cache: LM Lab's own folder, not a shared /tmp
            jieba.initialize()
            _jieba_ready = True
    words, start = [], 0
    for token in jieba.lcut(half_width(text), HMM=True):
        word = "".join(text[start : start + len(token)].split())
        start += len(token)
        if word:
            words.append(word)
    return words


def word_counts(gold: Sequence[str], predicted: Sequence[str], known: frozenset[str] | set[str]) -> list[int]:
    """[right, predicted, gold, right among OOV gold words, OOV gold words] for one text's segmentation."""
    truth, guess = spans(gold), spans(predicted)
    text = "".join(gold)
    oov = {(start, end) for start, end in truth if text[start:end] not in known}
    return [len(truth & guess), len(guess), len(truth), len(oov & guess), len(oov)]


def held_out_counts(paragraphs: Sequence[Sequence[str]], found: Sequence[Sequence[str]]) -> np.ndarray:
    """(paragraphs, 5) ``word_counts`` of one segmentation of People's Daily's held-out paragraphs."""
    from core.data import peoples_daily

    known = peoples_daily.training_words()
    return np.array([word_counts(gold, guess, known) for gold, guess in zip(paragraphs, found, strict=True)],
                    dtype=float).reshape(-1, 5)  # fmt: skip


def f1_of(counts: np.ndarray) -> float:
    """Word F1 from summed counts (rows as ``word_counts`` gives them)."""
    right, predicted, gold = counts[..., 0].sum(), counts[..., 1].sum(), counts[..., 2].sum()
    return float(2 * right / (predicted + gold)) if right else 0.0


def word_scores(counts: np.ndarray, *, seed: int = 0, n_resamples: int = 1000) -> dict:
    """Word F1 and OOV recall with 95 % bootstrap CIs over texts (whole paragraphs resampled); precision, recall."""
    counts = np.asarray(counts, dtype=float).reshape(-1, 5)
    if not len(counts) or counts[:, 2].sum() == 0:
        raise ValueError("word scores need at least one gold word")
    rng = np.random.default_rng(seed)
    resamples = counts[rng.integers(0, len(counts), size=(n_resamples, len(counts)))].sum(axis=1)
    f1s = [f1_of(row) for row in resamples]
    oov = resamples[:, 3] / np.maximum(resamples[:, 4], 1)
    total = counts.sum(axis=0)
    f1_low, f1_high = np.quantile(f1s, [0.025, 0.975])
    oov_low, oov_high = np.quantile(oov, [0.025, 0.975])
    return {
        "word_f1": Estimate(f1_of(total), float(f1_low), float(f1_high), len(counts)).as_dict(),
        "precision": float(total[0] / total[1]) if total[1] else 0.0,
        "recall": float(total[0] / total[2]),
        "oov_recall": Estimate(float(total[3] / max(total[4], 1)), float(oov_low), float(oov_high), int(total[4])).as_dict(),
        "oov_share": float(total[4] / total[2]),
    }  # fmt: skip


def paired_difference(mine: np.ndarray, other: np.ndarray, *, seed: int = 0, n_resamples: int = 1000) -> dict:
    """F1(mine) − F1(other) on the same texts: the value, a paired 95 % bootstrap CI and its two-sided p-value."""
    rng = np.random.default_rng(seed)
    index = rng.integers(0, len(mine), size=(n_resamples, len(mine)))
    differences = np.array([f1_of(mine[i]) - f1_of(other[i]) for i in index])
    low, high = np.quantile(differences, [0.025, 0.975])
    p_value = min(1.0, 2 * (1 + min(int((differences <= 0).sum()), int((differences >= 0).sum()))) / (n_resamples + 1))
    return {"value": f1_of(mine) - f1_of(other), "low": float(low), "high": float(high), "p_value": float(p_value)}
