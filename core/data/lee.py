"""The Lee news corpus in the gensim wheel: 300 short Australian news articles (2001), one per line."""

from __future__ import annotations

import functools

from core.catalog import package_path
from core.errors import DataError
from core.messages import Message

LOCATION = "package:gensim/test/test_data/lee_background.cor"


@functools.cache
def articles() -> tuple[str, ...]:
    try:
        raw = package_path(LOCATION).read_bytes()
    except OSError as error:
        raise DataError(Message("Could not read the Lee corpus from gensim: {error}. Reinstall gensim.",
                                error=str(error)[:200])) from None  # fmt: skip
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
    found = tuple(" ".join(line.split()) for line in text.splitlines() if len(line.split()) >= 40)
    if not found:
        raise DataError("The Lee corpus file holds no articles.")
    return found


def lm_split(test_articles: int = 30, seed: int = 17) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(training, held-out) articles for language modelling: whole articles are held out, never parts."""
    import random

    found = list(articles())
    random.Random(seed).shuffle(found)
    return tuple(found[test_articles:]), tuple(found[:test_articles])
