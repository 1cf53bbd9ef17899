"""Learn → Tokenization: one text cut by MiniLM's WordPiece, the character vocabulary built here, jieba and the
byte-level BPE, with [UNK] counted from the real tokenizers, and the coverage of the held-out Chinese reviews."""

from __future__ import annotations

import pytest

from conftest import TINY_SEGMENTER, _train_once, open_page


@pytest.fixture(scope="module")
def character_vocabulary():
    """The tiny segmenter of the segmentation tests (the same run, from the shared cache): its character vocabulary."""
    return _train_once("segment-zh", TINY_SEGMENTER)


def test_minilm_wordpiece_loses_most_of_a_chinese_sentence():
    from core import catalog, loading
    from core.tasks.tokenization import cut

    tokens = cut("wordpiece", loading.load_tokenizer(catalog.MINILM), "这部电影很好看，我非常喜欢。")
    # the example, token for token: [CLS] and [SEP] are not part of the text
    assert tokens.tokens == ["[UNK]", "部", "[UNK]", "[UNK]", "[UNK]", "[UNK]", "[UNK]", "，", "我", "[UNK]", "[UNK]",
                             "[UNK]", "[UNK]", "。"]  # fmt: skip
    assert sum(tokens.unknown) == 10 and tokens.characters == 14 and tokens.vocabulary == 30522
    typed = cut("wordpiece", loading.load_tokenizer(catalog.MINILM), "a [UNK] b [SEP]")
    assert not any(typed.unknown) and "[SEP]" not in typed.tokens  # typed brackets are text, not special tokens


def test_jieba_words_flag_only_chinese_words_outside_its_dictionary():
    from core.tasks.tokenization import cut

    tokens = cut("jieba", None, "我爱北京天安门，OK！")
    assert tokens.tokens == ["我", "爱", "北京", "天安门", "，", "OK", "！"]
    assert not any(tokens.unknown) and tokens.vocabulary > 300_000  # punctuation and Latin are not "unknown"


def test_coverage_of_held_out_reviews_counts_unknown_tokens(character_vocabulary):
    from core import catalog, loading
    from core.tasks.tokenization import BY_KEY, coverage, held_out_reviews, source

    reviews = held_out_reviews()
    assert len(reviews) == 2000
    minilm = coverage("wordpiece", loading.load_tokenizer(catalog.MINILM), reviews[:100])
    assert minilm["texts"] == 100 and minilm["unknown_share"] > 0.5 and minilm["texts_with_unknown"] > 0.9
    spec = source(BY_KEY["characters"])
    assert spec is not None and spec.key in ("zh-bert-mlm", "segment-zh")  # whichever Chinese model is trained
    chars = coverage("characters", loading.load_tokenizer(spec), reviews[:100])
    assert chars["unknown_share"] < minilm["unknown_share"] / 5 and 0.9 < chars["tokens_per_character"] <= 1.0


def test_the_page_cuts_one_text_four_ways_in_chinese(character_vocabulary):
    at = open_page("pages/tokenization.py", lang="zh")
    assert not at.error
    captions = " ".join(c.value for c in at.caption)
    assert "30,522" in captions and "来自" in captions  # counts and sources, in Chinese
    at.button(key="tokenization-coverage").click().run()
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    assert len(table) >= 3 and table.iloc[0, 2] > 50  # MiniLM: most tokens of the reviews are [UNK]
    at.text_area(key="tokenization-text").set_value("").run()
    assert at.error  # empty text: a clear message, nothing else breaks
