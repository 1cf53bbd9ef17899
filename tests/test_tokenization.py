"""Learn → Tokenization: one text cut by MiniLM's WordPiece, the character vocabulary built here, jieba and the
byte-level BPE, with [UNK] counted from the real tokenizers, and the coverage of the held-out Chinese reviews."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import TINY_SEGMENTER, _train_once, open_page


@pytest.fixture(scope="module")
def character_vocabulary():
    """The tiny segmenter of the segmentation tests (the same run, from the shared cache): its character vocabulary."""
    return _train_once("segment-zh", TINY_SEGMENTER)


def test_minilm_wordpiece_loses_most_of_a_chinese_sentence():
    from core import catalog
    from core.tasks.tokenization import cut, load

    tokens = cut("wordpiece", load(catalog.MINILM), "这部电影很好看，我非常喜欢。")
    # the example, token for token: [CLS] and [SEP] are not part of the text
    assert tokens.tokens == ["[UNK]", "部", "[UNK]", "[UNK]", "[UNK]", "[UNK]", "[UNK]", "，", "我", "[UNK]", "[UNK]",
                             "[UNK]", "[UNK]", "。"]  # fmt: skip
    assert sum(tokens.unknown) == 10 and tokens.characters == 14 and tokens.vocabulary == 30522
    typed = cut("wordpiece", load(catalog.MINILM), "a [UNK] b [SEP]")
    assert not any(typed.unknown) and "[SEP]" not in typed.tokens  # typed brackets are text, not special tokens


TEXTS = ["这部电影很好看，我非常喜欢。", "The film was great, and I loved it.", "a [UNK] b [SEP] [CLS][MASK]",
         "Ｗｉ－Ｆｉ 很慢 🙂 e\u0301 x\u200by", "自然语言处理（NLP）让计算机理解人类语言。"]


@pytest.mark.parametrize("key", ["minilm-l6", "segment-zh", "lm-lee-gpt"])
def test_the_tokenizers_library_cuts_as_transformers_does(key, character_vocabulary, lm_tiny_model):
    """The page reads each model's tokenizer.json with the tokenizers library: the same tokens, [UNK]s and vocabulary
    size as the model's transformers tokenizer, typed special tokens treated as text."""
    from core import catalog, loading
    from core.tasks.inputs import check_text
    from core.tasks.tokenization import MAX_CHARS, cut, load

    spec = catalog.get_spec(key)
    ours, theirs = load(spec), loading.load_tokenizer(spec)
    for text in TEXTS:
        found = cut("wordpiece", ours, text)  # the text as checked for the page (NFC, control characters)
        ids = theirs(check_text(text, max_chars=MAX_CHARS), add_special_tokens=False, split_special_tokens=True)["input_ids"]
        assert found.tokens == theirs.convert_ids_to_tokens(ids), text
        assert found.unknown == [i == theirs.unk_token_id for i in ids] and found.vocabulary == len(theirs)


def test_jieba_words_flag_only_chinese_words_outside_its_dictionary():
    from core.tasks.tokenization import cut

    tokens = cut("jieba", None, "我爱北京天安门，OK！")
    assert tokens.tokens == ["我", "爱", "北京", "天安门", "，", "OK", "！"]
    assert not any(tokens.unknown) and tokens.vocabulary > 300_000  # punctuation and Latin are not "unknown"


def test_coverage_of_held_out_reviews_counts_unknown_tokens(character_vocabulary):
    from core import catalog
    from core.tasks.tokenization import BY_KEY, coverage, held_out_reviews, load, source

    reviews = held_out_reviews()
    assert len(reviews) == 2000
    minilm = coverage("wordpiece", load(catalog.MINILM), reviews[:100])
    assert minilm["texts"] == 100 and minilm["unknown_share"] > 0.5 and minilm["texts_with_unknown"] > 0.9
    spec = source(BY_KEY["characters"])
    assert spec is not None and spec.key in ("zh-bert-mlm", "segment-zh")  # whichever Chinese model is trained
    chars = coverage("characters", load(spec), reviews[:100])
    assert chars["unknown_share"] < minilm["unknown_share"] / 5 and 0.9 < chars["tokens_per_character"] <= 1.0


def test_a_linear_model_learns_less_from_minilm_s_tokens_than_from_characters(character_vocabulary):
    from core import catalog
    from core.data import reviews_zh
    from core.tasks.tokenization import BY_KEY, linear_probe, load, source

    split = reviews_zh.split()
    train, test = split.train[:4000], split.test[:600]
    minilm = linear_probe("wordpiece", load(catalog.MINILM), train, test)
    chars = linear_probe("characters", load(source(BY_KEY["characters"])), train, test)
    words = linear_probe("jieba", None, train, test)
    assert minilm["train"] == 4000 and minilm["test"] == 600 and 0.5 <= minilm["majority"] < 0.6
    assert minilm["low"] <= minilm["accuracy"] <= minilm["high"]
    # the characters lost to [UNK] cost the same model about 14 points on the full split (71 against 85 %): well
    # outside both CIs here
    assert chars["low"] > minilm["high"] and words["low"] > minilm["high"]
    assert minilm["accuracy"] > minilm["majority"] + 0.05  # the 244 characters MiniLM knows still carry something
    # nothing of the held-out labels reaches the model: with the training labels shuffled it learns nothing
    rng = np.random.default_rng(0)
    labels = rng.permutation([e.label for e in train])
    shuffled = [type(e)(e.text, label) for e, label in zip(train, labels, strict=True)]
    blind = linear_probe("characters", load(source(BY_KEY["characters"])), shuffled, test)
    assert blind["accuracy"] < blind["majority"] + 0.03, blind


def test_the_page_cuts_one_text_four_ways_in_chinese(character_vocabulary):
    at = open_page("pages/tokenization.py", lang="zh")
    assert not at.error
    captions = " ".join(c.value for c in at.caption)
    assert "30,522" in captions and "所用模型" in captions  # counts and sources, in Chinese
    at.button(key="tokenization-coverage").click().run()
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    assert len(table) >= 3 and table.iloc[0, 2] > 50  # MiniLM: most tokens of the reviews are [UNK]
    at.button(key="tokenization-probe").click().run(timeout=120)
    assert not at.exception and not at.error
    assert len(at.dataframe) == 2 and at.dataframe[0].value.equals(table)  # the coverage stays, to read side by side
    probed = at.dataframe[1].value
    assert len(probed) == len(table) and probed.iloc[:, 4].eq(2000).all()  # every ready way, the whole split
    accuracy = dict(zip(probed.iloc[:, 0], probed.iloc[:, 1], strict=True))
    minilm = next(v for k, v in accuracy.items() if "MiniLM" in k)
    assert minilm + 8 < min(v for k, v in accuracy.items() if "MiniLM" not in k)
    at.text_area(key="tokenization-text").set_value("").run()
    assert at.error  # empty text: a clear message, nothing else breaks
