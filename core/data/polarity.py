"""Pang & Lee sentence polarity: 200 real movie-review sentences shipped inside the gensim wheel.

The file is fastText-formatted (``__label__pos`` / ``__label__neg``), 100 of each, in the
Windows-1252 encoding of the original corpus. The split is stratified and fixed by a seed,
so every model in the app is measured on the same held-out sentences.
"""

from __future__ import annotations

import dataclasses

from core.catalog import package_path
from core.data.types import Example, Split, stratified
from core.errors import DataError
from core.messages import N_

LOCATION = "package:gensim/test/test_data/pang_lee_polarity.cor"
LABELS = ("negative", "positive")
_PREFIX = {"__label__neg": "negative", "__label__pos": "positive"}

# 150 / 50: a quarter held out gives a 95 % CI of about ±12 points on accuracy — wide, and we
# say so — while leaving the classifier enough sentences to learn from.
TEST_SIZE = 50
SPLIT_SEED = 13


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _tidy(text: str) -> str:
    # The corpus is tokenised with spaces around punctuation ("it 's", "funny ."); keep the
    # words, close the gaps a reader would notice.
    text = " ".join(text.split())
    for before, after in ((" ,", ","), (" .", "."), (" !", "!"), (" ?", "?"), (" 's", "'s"), (" n't", "n't")):
        text = text.replace(before, after)
    return text.strip()


def load() -> list[Example]:
    path = package_path(LOCATION)
    try:
        lines = _decode(path.read_bytes()).splitlines()
    except OSError as error:
        raise DataError(
            f"Could not read the polarity sentences from gensim: {error}. Reinstall gensim."
        ) from None
    examples = []
    for line in lines:
        tag, _, text = line.strip().partition(" ")
        if tag in _PREFIX and text.strip():
            examples.append(Example(text=_tidy(text), label=_PREFIX[tag]))
    if len(examples) < 100:
        raise DataError(f"Expected 200 polarity sentences in gensim's test data, found {len(examples)}.")
    return examples


def split(
    examples: list[Example] | None = None, *, test_size: int = TEST_SIZE, seed: int = SPLIT_SEED
) -> Split:
    """The polarity sentences' fixed split: 150 to train on, 50 held out."""
    examples = load() if examples is None else examples
    return stratified(
        examples, LABELS, test_size=test_size, seed=seed, dataset=N_("pang-lee-polarity (gensim test data)")
    )


SKEWED_SHARE = 0.75  # the share of positive sentences in the skewed training part


def skewed_split(share: float = SKEWED_SHARE) -> Split:
    """The same fixed split with its training part cut down to mostly positive sentences: every positive one is
    kept and negative ones are dropped (the last ones of the fixed order) until positives make ``share`` of it.
    The held-out part, and so the fingerprint, is unchanged: both models are scored on the same balanced texts."""
    full = split()
    positives = sum(e.label == "positive" for e in full.train)
    keep = round(positives * (1 - share) / share)
    kept, negatives = [], 0
    for example in full.train:
        if example.label == "negative":
            negatives += 1
            if negatives > keep:
                continue
        kept.append(example)
    return dataclasses.replace(full, train=tuple(kept),
                               dataset=f"{full.dataset}, training part cut to {round(100 * share)} % positive")  # fmt: skip
