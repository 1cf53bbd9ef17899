"""Data augmentation for text classification, written here: random word dropout and word swaps.

Both keep the label (they do not change what a sentence is about much) and give the model
slightly different views of each training sentence, a regulariser against memorising it.
"""

from __future__ import annotations

import random

from core.data.types import Example


def word_dropout(text: str, p: float, rng: random.Random) -> str:
    words = text.split()
    kept = [w for w in words if rng.random() >= p]
    return " ".join(kept or words[:1])


def word_swap(text: str, p: float, rng: random.Random) -> str:
    words = text.split()
    for _ in range(max(1, round(p * len(words)))):
        if len(words) < 2:
            break
        i = rng.randrange(len(words) - 1)
        words[i], words[i + 1] = words[i + 1], words[i]
    return " ".join(words)


def augmented(examples: list[Example], kind: str, p: float, seed: int) -> list[Example]:
    """The original examples plus one altered copy of each (doubling the training set)."""
    if kind == "none":
        return list(examples)
    change = {"word-dropout": word_dropout, "word-swap": word_swap}[kind]
    rng = random.Random(seed)
    return list(examples) + [Example(change(e.text, p, rng), e.label) for e in examples]
