"""The shapes every dataset takes: labelled examples and a fixed, fingerprinted train/test split."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Generic, TypeVar

from core.messages import N_


@dataclass(frozen=True)
class Example:
    text: str
    label: str  # one of the dataset's labels


Item = TypeVar("Item")


@dataclass(frozen=True)
class Split(Generic[Item]):
    """A fixed train/test split; the generated corpora (translation pairs, SRL sentences) are splits too."""

    train: tuple[Item, ...]
    test: tuple[Item, ...]
    seed: int
    fingerprint: str  # sha256 of the held-out texts, to check two runs used the same split
    dataset: str = N_("pang-lee-polarity (gensim test data)")

    def describe(self) -> dict:
        return {
            "dataset": self.dataset,
            "train_size": len(self.train),
            "test_size": len(self.test),
            "seed": self.seed,
            "test_fingerprint": self.fingerprint,
        }


def stratified(examples: list[Example], labels, *, test_size: int, seed: int, dataset: str) -> Split:
    """A stratified train/test split with ``test_size`` held-out examples in all, the same for a given seed."""
    rng = random.Random(seed)
    train: list[Example] = []
    test: list[Example] = []
    for label in labels:
        group = [example for example in examples if example.label == label]
        rng.shuffle(group)
        share = round(test_size * len(group) / len(examples))
        test.extend(group[:share])
        train.extend(group[share:])
    rng.shuffle(train)
    rng.shuffle(test)
    fingerprint = hashlib.sha256("\n".join(example.text for example in test).encode("utf-8")).hexdigest()
    return Split(train=tuple(train), test=tuple(test), seed=seed, fingerprint=fingerprint, dataset=dataset)
