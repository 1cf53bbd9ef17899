"""Robustness (安全性), the article's third challenge, measured: how few typing mistakes turn a classifier's answer?

A greedy **character-edit attack**, guided by occlusion (the same word scores the Sentiment page explains with):
every word of the text is removed once, in one batch; the words whose removal most lowers the probability of the
model's answer are edited first, one per step, and the text is classified again after each edit, until the answer
changes or ``MAX_EDITS`` edits are spent. An edit is a typing mistake a reader sees through: two inner letters of an
English word swapped (a word of two or three letters gets its last letter doubled; a one-letter word is never
touched), two neighbouring characters of a Chinese word swapped (jieba's words; a word holding a negation such as
不 or 没 is left alone, and so is a one-character word). A robust model should read the edited text as before.

The attack runs once per model version at the caps (``MAX_TEXTS`` texts, ``MAX_EDITS`` edits each) and keeps every
step, so a smaller setting is read off it: the greedy attack with k edits is the first k steps of the attack with
more. Reported (``Attack.summary``): clean accuracy, accuracy under attack and the share of correctly answered texts
the attack turns, each with a 95 % Wilson interval, the mean edits over turned texts, and every turned text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from core.data.text import HAN_RANGES
from core.errors import InputError
from core.messages import Message
from core.stats import Estimate, wilson

MAX_TEXTS = 50
MAX_EDITS = 5
MAX_WORDS = 60  # a text is cut to its first 60 words: one batch of variants per text
_PIECE = re.compile(rf"[{HAN_RANGES}]+|[A-Za-z][A-Za-z'-]*")
_HAN = re.compile(rf"[{HAN_RANGES}]+")
NEGATIONS = frozenset("不没无非未别莫勿否")  # swapping around these would change the meaning, not mistype it


def edit_word(word: str) -> str:
    """``word`` with one typing mistake, or unchanged when it has nothing safe to mistype."""
    if _HAN.fullmatch(word):
        if len(word) < 2 or NEGATIONS.intersection(word):
            return word
        middle = len(word) // 2  # 喜欢 → 欢喜, 电影院 → 影电院
        return word[: middle - 1] + word[middle] + word[middle - 1] + word[middle + 1 :]
    letters = sum(ch.isalpha() for ch in word)
    if letters < 2:
        return word
    if letters >= 4:
        inner = sorted(range(2, len(word) - 1), key=lambda m: abs(m - len(word) // 2))  # pairs, middle first
        for middle in inner:  # the first swap of two inner letters that changes the word
            if word[middle - 1] != word[middle] and word[middle - 1].isalpha() and word[middle].isalpha():
                return word[: middle - 1] + word[middle] + word[middle - 1] + word[middle + 1 :]
    return word + word[-1]  # not → nott: a doubled key, never a shorter word (not → no)


def pieces_of(text: str) -> tuple[list[str], list[int]]:
    """``text`` cut to its first ``MAX_WORDS`` words, as pieces (words and what lies between them) and the indices
    of the word pieces. Chinese runs are split into jieba's words."""
    from core.tasks.segment import jieba_words

    pieces, words, last = [], [], 0
    for match in _PIECE.finditer(text[: 40 * MAX_WORDS]):  # no word of 40 characters is needed to reach the cap
        found = jieba_words(match.group()) if _HAN.fullmatch(match.group()) else [match.group()]
        pieces.append(text[last : match.start()])
        for word in found[: MAX_WORDS - len(words)]:
            words.append(len(pieces))
            pieces.append(word)
            pieces.append("")
        pieces.pop()
        last = match.end()
        if len(words) >= MAX_WORDS:
            return pieces, words
    pieces.append(text[last : 40 * MAX_WORDS])
    return pieces, words


def held_out_texts(dataset: str) -> tuple[list[str], list[str]]:
    """``MAX_TEXTS`` held-out texts of ``dataset`` and their labels in a fixed shuffled order (seed 0): a smaller
    setting attacks a prefix."""
    from core.tasks.base import dataset_split

    split, _labels = dataset_split(dataset)
    examples = list(split.test)
    order = np.random.default_rng(0).permutation(len(examples))[:MAX_TEXTS]
    return [examples[i].text for i in order], [examples[i].label for i in order]


@dataclass(frozen=True)
class Attacked:
    text: str  # as the model read it (cut to MAX_WORDS words)
    label: str  # the model's answer (the correct one)
    steps: tuple[tuple[str, str], ...]  # (text, the model's answer) after each edit, up to the first turned answer

    def after(self, edits: int) -> tuple[str, str, int]:
        """The text, the model's answer and the edits made when at most ``edits`` edits are allowed."""
        taken = self.steps[:edits]
        return (taken[-1][0], taken[-1][1], len(taken)) if taken else (self.text, self.label, 0)


def attack_one(classify: Callable[[list[str]], list], text: str, label: str) -> Attacked:
    """The greedy attack on one text the model labels ``label``; ``classify(texts)`` returns results with
    ``.label`` and ``.scores``."""
    pieces, words = pieces_of(text)
    text = "".join(pieces)
    if not words:
        return Attacked(text, label, ())
    variants = ["".join(pieces[:i] + pieces[i + 1 :]).strip() or "." for i in words]  # each word removed once
    kept = [r.scores.get(label, 0.0) for r in classify(variants)]  # the lower, the more the word mattered
    steps = []
    for rank in np.argsort(kept, kind="stable"):
        index = words[rank]
        new = edit_word(pieces[index])
        if new == pieces[index]:  # nothing safe to mistype here (a lone character, a negation): no edit spent
            continue
        pieces[index] = new
        answer = classify(["".join(pieces)])[0].label
        steps.append(("".join(pieces), answer))
        if answer != label or len(steps) == MAX_EDITS:
            break
    return Attacked(text, label, tuple(steps))


@dataclass(frozen=True)
class Summary:
    clean: Estimate  # accuracy before the attack
    attacked: Estimate  # accuracy with at most ``edits`` edits per text
    turned: Estimate | None  # share of the correctly answered texts whose answer turned
    mean_edits: float | None  # over the turned texts
    examples: list[tuple[str, str, str, str, int]]  # (before, after, answer before, answer after, edits)


@dataclass(frozen=True)
class Attack:
    results: list[Attacked | None]  # per held-out text in the fixed order; None where the model was already wrong

    def summary(self, texts: int, edits: int) -> Summary:
        """What the attack on the first ``texts`` texts with ``edits`` edits each found (read off the stored run)."""
        if not 1 <= edits <= MAX_EDITS or not 1 <= texts <= len(self.results):
            raise InputError(Message("Attack 1 to {texts} texts with 1 to {edits} edits each.",
                                     texts=len(self.results), edits=MAX_EDITS))  # fmt: skip
        chosen = [r for r in self.results[:texts] if r is not None]
        outcomes = [r.after(edits) for r in chosen]
        turned = [(r, o) for r, o in zip(chosen, outcomes, strict=True) if o[1] != r.label]
        examples = [(r.text, o[0], r.label, o[1], o[2]) for r, o in turned]
        return Summary(wilson(len(chosen), texts), wilson(len(chosen) - len(turned), texts),
                       wilson(len(turned), len(chosen)) if chosen else None,
                       float(np.mean([o[2] for _, o in turned])) if turned else None, examples)  # fmt: skip


def run(classify: Callable[[list[str]], list], texts: Sequence[str], labels: Sequence[str], *,
        progress: Callable[[int, int], None] | None = None) -> Attack:  # fmt: skip
    """The attack at the caps on every text the model answers correctly (texts cut to ``MAX_WORDS`` words)."""
    if not 1 <= len(texts) <= MAX_TEXTS:
        raise InputError(Message("Attack 1 to {texts} texts with 1 to {edits} edits each.", texts=MAX_TEXTS,
                                 edits=MAX_EDITS))  # fmt: skip
    cut = ["".join(pieces_of(text)[0]) or "." for text in texts]
    first = classify(cut)
    results = []
    for done, (text, truth, answer) in enumerate(zip(cut, labels, first, strict=True)):
        results.append(attack_one(classify, text, truth) if answer.label == truth else None)
        if progress:
            progress(done + 1, len(cut))
    return Attack(results)
