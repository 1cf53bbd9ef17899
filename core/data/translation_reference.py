"""The generated grammar's own translation of a sentence, where LM Lab's data has one: what the Translate page sets
beside the output of a model trained here, so that a student sees a dropped 了 as a mistake instead of taking the
model's word for it.

The grammar's pairs are known exactly: the held-out pairs (every model is scored on them), the training pairs (a
model trained on n pairs saw the first n of the corpus's draw, its seed fixed) and the grammar table's examples. One
table of them, built once per process, serves every model. A sentence is looked up as typed, give or take case,
spacing, full-width forms and the final stop. English → Chinese is a function in this grammar; Chinese → English is
not (那 is "the" or "that", tense and number often go unsaid), so there the reference is one right answer of several.
"""

from __future__ import annotations

import difflib
import threading
import unicodedata
from dataclasses import dataclass

from core.data import translation

DIRECTIONS = ("en-zh", "zh-en")
HELD_OUT = 400  # the held-out pairs every translation model is scored on (the corpus's default)
LOOKUP_PAIRS = 10_000  # training pairs the table knows (the recipes' default): a model trained on more gets none
_HELD, _TABLE = -1, -2  # places that are not a position in the training draw


@dataclass(frozen=True)
class Reference:
    text: str  # the grammar's translation (where the data has several, the one closest to the model's output)
    where: str  # that pair's place: "held-out", "training" (the model saw it), "generated" (a training pair beyond
    # the model's), "table" (a grammar-table example)
    others: int  # how many more translations LM Lab's data pairs the same source with
    source_seen: bool  # the model saw the source sentence in training (perhaps paired with another translation)


def _key(text: str) -> str:
    plain = " ".join(unicodedata.normalize("NFKC", text).casefold().split())
    return plain.rstrip(".?!。？！ ")


_table: dict[tuple[str, str], dict[str, int]] | None = None
_lock = threading.Lock()


def _pairs() -> dict[tuple[str, str], dict[str, int]]:
    """(direction, source key) → {translation: place}, built once (about 0.5 s and 11 MB; a class asking at the same
    moment waits for one build, not one each)."""
    global _table
    if _table is None:
        with _lock:
            if _table is None:
                data = translation.corpus(train_size=LOOKUP_PAIRS, test_size=HELD_OUT)
                rows = [(_HELD, p.english, p.chinese) for p in data.test]
                rows += [(index, p.english, p.chinese) for index, p in enumerate(data.train)]
                rows += [(_TABLE, english, chinese) for _rule, english, chinese in translation.GRAMMAR_COVERS]
                found: dict[tuple[str, str], dict[str, int]] = {}
                for place, english, chinese in rows:
                    for direction, source, target in (("en-zh", english, chinese), ("zh-en", chinese, english)):
                        found.setdefault((direction, _key(source)), {}).setdefault(target, place)
                _table = found
    return _table


def reference(text: str, direction: str, train_size: int = 0, output: str | None = None) -> Reference | None:
    """The grammar's translation of ``text`` in ``direction`` for a model trained here on ``train_size`` pairs, or
    None where the data has none (or the model was trained on more pairs than the table knows). Where the data has
    several translations, the one closest to ``output`` is chosen (``output`` itself where it is one of them)."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}")
    if not 0 <= train_size <= LOOKUP_PAIRS:
        return None
    targets = _pairs().get((direction, _key(text)))
    if not targets:
        return None
    chosen = next(iter(targets))
    if output is not None:
        chosen = max(targets, key=lambda target: difflib.SequenceMatcher(a=output.strip(), b=target).ratio())

    def where(place: int) -> str:
        if place == _HELD:
            return "held-out"
        if place == _TABLE:
            return "table"
        return "training" if place < train_size else "generated"

    seen = any(where(place) == "training" for place in targets.values())
    return Reference(text=chosen, where=where(targets[chosen]), others=len(targets) - 1, source_seen=seen)


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
