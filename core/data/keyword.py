"""Generated sentences where exactly one word decides the label — a known answer for attribution methods.

Every sentence is 6–10 neutral filler words; a third of them get "great" (→ positive), a third
"awful" (→ negative), at a random place, and the rest no cue (→ neutral). With the neutral class
a model cannot get by on spotting just one of the cues: it must use both, so a correct
attribution method must point at the cue word, with the right sign.
"""

from __future__ import annotations

import hashlib
import random

from core.data.types import Example, Split
from core.messages import N_

CUES = {"great": "positive", "awful": "negative"}
LABELS = ("negative", "neutral", "positive")
_FILLER = [
    "the",
    "a",
    "film",
    "story",
    "actor",
    "scene",
    "day",
    "city",
    "train",
    "river",
    "table",
    "window",
    "garden",
    "music",
    "paper",
    "chair",
    "morning",
    "evening",
    "street",
    "house",
    "book",
    "cloud",
    "road",
    "letter",
    "picture",
    "voice",
]


def generate(n: int, seed: int) -> list[Example]:
    rng = random.Random(seed)
    examples = []
    for _ in range(n):
        words = [rng.choice(_FILLER) for _ in range(rng.randint(6, 10))]
        cue = rng.choice([*sorted(CUES), None])
        if cue is not None:
            words.insert(rng.randint(0, len(words)), cue)
        examples.append(Example(text=" ".join(words), label=CUES[cue] if cue else "neutral"))
    return examples


def split(train_size: int = 600, test_size: int = 150, seed: int = 7) -> tuple[Split, tuple[str, ...]]:
    train, test = generate(train_size, seed), generate(test_size, seed + 1)
    fingerprint = hashlib.sha256("\n".join(e.text for e in test).encode("utf-8")).hexdigest()
    return Split(tuple(train), tuple(test), seed, fingerprint, dataset=N_("keyword cue (generated)")), LABELS
