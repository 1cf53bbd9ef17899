"""Robustness (安全性), the article's third challenge, measured: how few typing mistakes turn a classifier's answer?

A greedy **character-edit attack**, guided by occlusion (the same word scores the Sentiment page explains with):
every word of the text is removed once, in one batch; the words whose removal most lowers the probability of the
model's answer are edited first, one per step — two inner letters swapped for an English word of four letters
or more, the last letter dropped for a shorter one, two neighbouring Chinese characters swapped — and the text is
classified again
after each edit, until the answer changes or ``max_edits`` edits are spent. A human still reads the edited text
as before; a robust model should too.

Reported over held-out texts the model first answers correctly: the share the attack flips (with a 95 % bootstrap
CI), the mean number of edits it needed, and every flipped text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from core.data.text import HAN_RANGES
from core.errors import InputError
from core.messages import Message
from core.stats import bootstrap_mean

MAX_TEXTS = 50
MAX_EDITS = 5
MAX_WORDS = 60  # a longer text is not attacked (one batch of variants per text)
_WORD = re.compile(rf"[{HAN_RANGES}]{{1,2}}|[A-Za-z][A-Za-z'-]*")  # Chinese in pairs of characters


def edit_word(word: str) -> str:
    """A typing mistake in ``word``: two inner letters swapped (four letters or more), else its last letter dropped;
    a pair of Chinese characters swapped (喜欢 → 欢喜: a reader usually still reads it right; deleting a character
    could delete a 不 and change the meaning). A single Chinese character is left as it is."""
    if re.fullmatch(rf"[{HAN_RANGES}]+", word):
        return word[::-1] if len(word) == 2 else word
    if len(word) >= 4:
        middle = len(word) // 2
        swapped = word[: middle - 1] + word[middle] + word[middle - 1] + word[middle + 1 :]
        if swapped != word:
            return swapped
        return word[:-1]
    return word[:-1]


@dataclass(frozen=True)
class Attacked:
    text: str
    edited: str
    label: str  # the model's answer before
    new_label: str  # after the last edit
    edits: int
    flipped: bool


def attack_one(classify: Callable[[list[str]], list], text: str, label: str, *, max_edits: int = MAX_EDITS) -> Attacked:
    """The greedy attack on one text the model labels ``label``; ``classify(texts)`` returns results with
    ``.label`` and ``.scores``."""
    pieces, words, last = [], [], 0  # the text as pieces; ``words`` are the indices of the word pieces
    for match in list(_WORD.finditer(text))[:MAX_WORDS]:
        pieces.append(text[last : match.start()])
        words.append(len(pieces))
        pieces.append(match.group())
        last = match.end()
    pieces.append(text[last:])
    if not words:
        return Attacked(text, text, label, label, 0, False)
    variants = ["".join(pieces[:i] + pieces[i + 1 :]).strip() or "." for i in words]  # each word removed once
    kept = [r.scores.get(label, 0.0) for r in classify(variants)]  # the lower, the more the word mattered
    current, edits = label, 0
    for rank in np.argsort(kept, kind="stable")[:max_edits]:
        index = words[rank]
        new = edit_word(pieces[index])
        if new == pieces[index]:  # nothing to mistype here (a lone Chinese character, 喜喜)
            continue
        pieces[index] = new
        edits += 1
        if not any(ch.isalnum() for ch in "".join(pieces)):  # nothing left to read
            break
        current = classify(["".join(pieces)])[0].label
        if current != label:
            break
    return Attacked(text, "".join(pieces), label, current, edits, current != label)


@dataclass(frozen=True)
class Robustness:
    attacked: list[Attacked]  # the texts the model answered correctly, each attacked
    skipped: int  # texts the model already got wrong (not attacked)
    flip_share: float
    flip_low: float
    flip_high: float
    mean_edits: float | None  # over the flipped texts


def measure(classify: Callable[[list[str]], list], texts: Sequence[str], labels: Sequence[str], *,
            max_edits: int = MAX_EDITS) -> Robustness:  # fmt: skip
    """The attack on every text the model answers correctly."""
    if not 1 <= max_edits <= MAX_EDITS or not 1 <= len(texts) <= MAX_TEXTS:
        raise InputError(Message("Attack 1 to {texts} texts with 1 to {edits} edits each.", texts=MAX_TEXTS,
                                 edits=MAX_EDITS))  # fmt: skip
    first = classify(list(texts))
    attacked, skipped = [], 0
    for text, truth, answer in zip(texts, labels, first, strict=True):
        if answer.label != truth:
            skipped += 1
            continue
        attacked.append(attack_one(classify, text, truth, max_edits=max_edits))
    if not attacked:
        return Robustness([], skipped, 0.0, 0.0, 0.0, None)
    share = bootstrap_mean([float(a.flipped) for a in attacked])
    flipped = [a.edits for a in attacked if a.flipped]
    return Robustness(attacked, skipped, share.value, share.low, share.high,
                      float(np.mean(flipped)) if flipped else None)  # fmt: skip
