"""Tokenization, the article's step 1 (数据预处理): the same text cut four ways, as a model receives it.

A model never sees text, only the ids of its vocabulary's tokens; what the vocabulary lacks becomes [UNK]
(or, for a byte-level vocabulary, several byte tokens), and every extra token costs attention, which grows
with the square of the length. ``WAYS`` are the four LM Lab can show offline: the packaged MiniLM's English
WordPiece, the character vocabulary built here for Chinese, jieba's dictionary words, and the byte-level BPE
built here from English news. ``cut`` tokenizes one text; ``coverage`` measures a way on the held-out Chinese
reviews.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from core import catalog
from core.messages import N_
from core.tasks.inputs import check_text

MAX_CHARS = 1000


@dataclass(frozen=True)
class Way:
    key: str
    title: str
    how: str
    models: tuple[str, ...]  # the catalog models whose tokenizer this is (the first ready one is used); () for jieba


WAYS = (
    Way("wordpiece", N_("MiniLM's WordPiece (English)"),
        N_("30,522 entries of bert-base-uncased: whole English words and word pieces (##ing); a character it lacks "
           "becomes [UNK]. Only 244 entries are single Chinese characters."), (catalog.MINILM.key,)),
    Way("characters", N_("Character vocabulary built here (Chinese)"),
        N_("At most 6,000 entries, built with the tokenizers library from People's Daily and the training reviews: "
           "one token per Chinese character seen at least three times, NFKC first (full-width ，becomes ,)."), ("zh-bert-mlm", "segment-zh")),
    Way("jieba", N_("jieba's words"),
        N_("Whole words from jieba's dictionary, and its HMM's guesses for words the dictionary lacks (highlighted). "
           "No model here reads words: a vocabulary of words needs hundreds of thousands of entries and still meets "
           "new ones."), ()),
    Way("bpe", N_("Byte-level BPE built here (English news)"),
        N_("2,000 entries learnt from English news by merging frequent byte pairs: nothing is ever [UNK], but a "
           "Chinese character is three UTF-8 bytes and often three tokens (Ġ marks a leading space)."),
        ("lm-lee-gpt",)),
)  # fmt: skip
BY_KEY = {way.key: way for way in WAYS}


def source(way: Way) -> catalog.ModelSpec | None:
    """The ready model whose tokenizer a way uses, or None (jieba, or nothing trained yet)."""
    for key in way.models:
        spec = catalog.get_spec(key)
        if catalog.availability(spec).ready:
            return spec
    return None


@dataclass(frozen=True)
class Tokens:
    tokens: list[str]
    unknown: list[bool]  # [UNK] (for jieba: a word its dictionary lacks)
    characters: int  # the text's characters, white space left out
    vocabulary: int

    @property
    def per_character(self) -> float:
        return len(self.tokens) / self.characters if self.characters else 0.0


@functools.lru_cache(maxsize=1)
def _jieba_dictionary() -> tuple[dict, int]:
    """jieba's word frequencies (prefixes are in it with frequency 0) and its number of words."""
    import jieba

    from core.tasks.segment import jieba_words

    jieba_words("预热")  # loads the dictionary once
    return jieba.dt.FREQ, sum(1 for count in jieba.dt.FREQ.values() if count)


def cut(way_key: str, tokenizer, text: str) -> Tokens:
    """One text's tokens by one way (``tokenizer``: that way's, None for jieba)."""
    text = check_text(text, max_chars=MAX_CHARS)
    characters = sum(1 for char in text if not char.isspace())
    if way_key == "jieba":
        from core.data.text import has_han
        from core.tasks.segment import jieba_words

        words, (dictionary, size) = jieba_words(text), _jieba_dictionary()
        return Tokens(words, [has_han(word) and not dictionary.get(word) for word in words], characters, size)
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    unk = tokenizer.unk_token_id
    return Tokens(tokenizer.convert_ids_to_tokens(ids), [i == unk for i in ids], characters, len(tokenizer))


def coverage(way_key: str, tokenizer, texts: Sequence[str]) -> dict:
    """How a way fits a set of texts: tokens per character, the share of tokens that are [UNK] and of texts with
    at least one, and the vocabulary's size."""
    tokens = unknown = characters = with_unknown = 0
    for text in texts:
        found = cut(way_key, tokenizer, text[:MAX_CHARS])
        tokens += len(found.tokens)
        characters += found.characters
        unknown += sum(found.unknown)
        with_unknown += any(found.unknown)
        vocabulary = found.vocabulary
    return {"texts": len(texts), "tokens_per_character": tokens / max(characters, 1),
            "unknown_share": unknown / max(tokens, 1), "texts_with_unknown": with_unknown / max(len(texts), 1),
            "vocabulary": vocabulary if texts else 0}  # fmt: skip


def held_out_reviews() -> list[str]:
    """The 2,000 held-out Chinese reviews (the sentiment split's test set): the coverage measurement's texts."""
    from core.data import reviews_zh

    return [example.text for example in reviews_zh.split().test]
