"""Tokenization, the article's step 1 (数据预处理): the same text cut five ways, as a model receives it.

A model never sees text, only the ids of its vocabulary's tokens; what the vocabulary lacks becomes [UNK]
(or, for a byte-level vocabulary, several byte tokens), and every extra token costs attention, which grows
with the square of the length. ``WAYS`` are the five LM Lab can show offline: the packaged MiniLM's English
WordPiece, the character vocabulary built here for Chinese, the Chinese pieces (BPE) built here from the training
reviews, jieba's dictionary words, and the byte-level BPE built here from English news. ``cut`` tokenizes one text; ``coverage`` measures a way on the held-out Chinese
reviews.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from core import catalog
from core.errors import CoreError
from core.messages import N_, Message
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
        N_("30,522 entries of bert-base-uncased: whole English words and word pieces (##ing); a word with a piece it "
           "lacks becomes [UNK], and each Chinese character counts as a word. Only 244 entries are single Chinese "
           "characters, many of them Japanese kanji or radicals: 我, 的 and 不 are there, 好, 很, 是, 了 and 这 "
           "are not."), (catalog.MINILM.key,)),
    Way("characters", N_("Character vocabulary built here (Chinese)"),
        N_("6,000 entries, built with the tokenizers library from People's Daily and the training reviews: one token "
           "for every Chinese character in that text, plus English and number pieces; NFKC first (full-width ，"
           "becomes ,)."), ("zh-bert-mlm", "segment-zh")),
    Way("pieces", N_("Chinese pieces built here (BPE)"),
        N_("8,000 entries learnt from the training reviews by byte-pair encoding: every character first, then the "
           "most frequent neighbours merged, into pieces of up to three characters (很好, 失望); text is first cut at "
           "white space, punctuation and symbols. The default Chinese sentiment model reads them; the Benchmark page "
           "(task Chinese sentiment) compares it with the same model reading characters."),
        ("sentiment-zh-pieces",)),
    Way("jieba", N_("jieba's words"),
        N_("Whole words from jieba's dictionary, and its HMM's guesses for words the dictionary lacks (highlighted). "
           "No neural model here reads words: a vocabulary of words needs hundreds of thousands of entries and still "
           "meets new ones."), ()),
    Way("bpe", N_("Byte-level BPE built here (English news)"),
        N_("2,000 entries learnt from English news by merging frequent byte pairs: nothing is ever [UNK], but a "
           "Chinese character is three UTF-8 bytes and, with this English vocabulary, three tokens, shown as odd "
           "Latin symbols (è, ¿, Ļ); Ġ marks a leading space. Nothing is highlighted, yet the model knows nothing "
           "about those bytes."),
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
    """One student's text, checked and capped, cut by one way (``tokenizer``: that way's, None for jieba)."""
    return _tokens(way_key, tokenizer, check_text(text, max_chars=MAX_CHARS))


def _tokens(way_key: str, tokenizer, text: str) -> Tokens:
    characters = sum(1 for char in text if not char.isspace())
    if way_key == "jieba":
        from core.data.text import has_han
        from core.tasks.segment import jieba_words

        words, (dictionary, size) = jieba_words(text), _jieba_dictionary()
        return Tokens(words, [has_han(word) and not dictionary.get(word) for word in words], characters, size)
    encoding = tokenizer.encode(text, add_special_tokens=False)
    unk = _unknown_id(tokenizer)
    return Tokens(list(encoding.tokens), [i == unk for i in encoding.ids], characters,
                  tokenizer.get_vocab_size(with_added_tokens=True))  # fmt: skip


def load(spec: catalog.ModelSpec):
    """A model's own tokenizer, read from its verified folder's tokenizer.json with the tokenizers library (so a
    fresh server's page need not wait for transformers to load). A typed "[UNK]" or "[SEP]" is text like any
    other, not the special token itself."""
    from core.loading import local_dir, read_tokenizer

    tokenizer = read_tokenizer(local_dir(spec))
    tokenizer.encode_special_tokens = True
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


def _unknown_id(tokenizer) -> int | None:
    """The id of the vocabulary's unknown token; None for a byte-level vocabulary, which has none."""
    unknown = getattr(tokenizer.model, "unk_token", None)
    return tokenizer.token_to_id(unknown) if unknown else None


def coverage(way_key: str, tokenizer, texts: Sequence[str]) -> dict:
    """How a way fits a set of texts: tokens per character, the share of tokens that are [UNK] and of texts with
    at least one, and the vocabulary's size."""
    tokens = unknown = characters = with_unknown = 0
    for text in texts:  # whole reviews: the data is LM Lab's, not a student's
        found = _tokens(way_key, tokenizer, text)
        tokens += len(found.tokens)
        characters += found.characters
        unknown += sum(found.unknown)
        with_unknown += any(found.unknown)
        vocabulary = found.vocabulary
    return {"texts": len(texts), "tokens_per_character": tokens / max(characters, 1),
            "unknown_share": unknown / max(tokens, 1), "texts_with_unknown": with_unknown / max(len(texts), 1),
            "vocabulary": vocabulary if texts else 0}  # fmt: skip


def linear_probe(way_key: str, tokenizer, train: Sequence, test: Sequence) -> dict:
    """What a way's tokens let a model learn: ``probe`` on the tokens the way cuts each review into."""
    return probe(lambda text: _tokens(way_key, tokenizer, text).tokens, train, test)


def probe(tokens_of, train: Sequence, test: Sequence) -> dict:
    """Logistic regression on TF-IDF of ``tokens_of(text)`` and of each pair of neighbouring tokens, trained on
    ``train`` and scored on ``test`` (examples with ``.text`` and ``.label``): held-out accuracy with its 95 %
    bootstrap interval. The same simple model whatever the tokens: the differences come from them (what they keep,
    and how much text a pair of neighbours spans)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from core.stats import accuracy_with_ci

    def grams(text: str) -> list[str]:
        tokens = tokens_of(text)
        return tokens + [a + " " + b for a, b in zip(tokens, tokens[1:], strict=False)]

    vectorizer = TfidfVectorizer(analyzer=grams, sublinear_tf=True, min_df=2)
    model = LogisticRegression(C=3, max_iter=2000)
    try:
        model.fit(vectorizer.fit_transform([e.text for e in train]), [e.label for e in train])
        vectorizer.stop_words_ = None  # the n-grams min_df dropped: not needed to score
        predicted = model.predict(vectorizer.transform([e.text for e in test]))
    except ValueError as error:  # e.g. a tokenizer that leaves no token in two reviews: nothing to learn from
        raise CoreError(Message("Could not train the linear model on these tokens: {error}",
                                error=str(error)[:200])) from None
    labels = [e.label for e in test]
    found = accuracy_with_ci(list(predicted), labels)
    majority = max(labels.count(label) for label in set(labels)) / len(labels)
    return {"accuracy": found.value, "low": found.low, "high": found.high, "train": len(train), "test": len(test),
            "majority": majority}


def held_out_reviews() -> list[str]:
    """The 2,000 held-out Chinese reviews (the sentiment split's test set): the coverage measurement's texts."""
    from core.data import reviews_zh

    return [example.text for example in reviews_zh.split().test]
