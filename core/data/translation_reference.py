"""The generated grammar's own translation of a sentence, where LM Lab's data has one: what the Translate page sets
beside a model's output, so that a student sees a wrong 了 as wrong instead of taking the model's word for it.

The grammar's pairs are known exactly: the held-out sentences (every model is scored on them), the training pairs of
a model trained here (rebuilt from the corpus's seed and the model's number of training pairs) and the examples of
the grammar table. A sentence is looked up as typed, give or take case, spacing, full-width forms and the final stop.
"""

from __future__ import annotations

import difflib
import functools
import unicodedata
from dataclasses import dataclass

from core.data import translation

DIRECTIONS = ("en-zh", "zh-en")
HELD_OUT = 400  # the held-out pairs every translation model is scored on (the corpus's default)
# a source sentence's place in the data: "training" wherever the model saw it (a Chinese sentence can come from
# several English ones), else held out, else only in the grammar table
WHERE = ("training", "held-out", "table")


@dataclass(frozen=True)
class Reference:
    text: str  # the grammar's translation (for Chinese → English, the one the model wrote where it is among them)
    where: str  # "held-out", "training" (the model saw the pair) or "table" (the grammar table's example)
    others: int  # how many more translations the grammar has for the same source (Chinese often says less)


def _key(text: str) -> str:
    plain = " ".join(unicodedata.normalize("NFKC", text).casefold().split())
    return plain.rstrip(".?!。？！ ")


@functools.lru_cache(maxsize=4)
def _table(train_size: int) -> dict[tuple[str, str], dict[str, str]]:
    """(direction, source key) → {translation: where}: every pair of the held-out set, the first ``train_size``
    training pairs and the grammar table (about 10 MB and 0.3 s for 10,000 pairs; shared by every session)."""
    data = translation.corpus(train_size=train_size, test_size=HELD_OUT)
    found: dict[tuple[str, str], dict[str, str]] = {}
    rows = [("held-out", p.english, p.chinese) for p in data.test]
    rows += [("training", p.english, p.chinese) for p in data.train]
    rows += [("table", english, chinese) for _rule, english, chinese in translation.GRAMMAR_COVERS]
    for where, english, chinese in rows:
        for direction, source, target in (("en-zh", english, chinese), ("zh-en", chinese, english)):
            found.setdefault((direction, _key(source)), {}).setdefault(target, where)
    return found


def reference(text: str, direction: str, train_size: int = 0, output: str | None = None) -> Reference | None:
    """The grammar's translation of ``text`` in ``direction``, or None where the data has none. ``train_size``: the
    model's training pairs (0 for a model not trained on this data). Where the grammar has several translations,
    the one closest to ``output`` is chosen (``output`` itself where it is one of them), else the first."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}")
    targets = _table(max(0, int(train_size))).get((direction, _key(text)))
    if not targets:
        return None
    chosen = next(iter(targets))
    if output is not None:  # the translation the model's output is closest to (itself, where it is one of them)
        chosen = max(targets, key=lambda target: difflib.SequenceMatcher(a=output.strip(), b=target).ratio())
    places = set(targets.values())
    where = next(place for place in WHERE if place in places)
    return Reference(text=chosen, where=where, others=len(targets) - 1)


def difference(output: str, expected: str, chinese: bool) -> tuple[list[str], list[str]]:
    """What the reference has that the output lacks, and what the output adds: characters for Chinese, words for
    English (each run of neighbours kept together)."""
    a = list(output) if chinese else output.split()
    b = list(expected) if chinese else expected.split()
    joiner = "" if chinese else " "
    missing, extra = [], []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag in ("delete", "replace"):
            extra.append(joiner.join(a[i1:i2]))
        if tag in ("insert", "replace"):
            missing.append(joiner.join(b[j1:j2]))
    return missing, extra
