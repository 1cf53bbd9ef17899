"""中译英: the generated grammar read from the Chinese side, a tiny encoder-decoder trained for real, its benchmark on
the same held-out pairs reversed, and the Translate page's direction switch."""

from __future__ import annotations

import pytest

from conftest import _train_once, open_page


@pytest.fixture(scope="module")
def tiny_zh_en():
    return _train_once("translate-zh-en", {"examples": 2000, "epochs": 3, "learning_rate": 2e-3,
                                           "scratch": {"d_model": 64, "layers": 1, "heads": 2, "ffn": 128}})  # fmt: skip


def test_the_same_pairs_read_from_the_chinese_side():
    from core.data import translation
    from core.tasks.translate import ZH_EN, direction

    pair = translation.corpus(train_size=5).train[0]
    source_of, target_of = direction(ZH_EN)
    assert (source_of(pair), target_of(pair)) == (pair.chinese, pair.english)
    assert direction("translation")[0](pair) == pair.english


def test_a_tiny_chinese_to_english_model_trains_and_writes_english(tiny_zh_en):
    from core import catalog
    from core.errors import InputError
    from core.tasks.translate import Translator

    card = catalog.read_metadata("translate-zh-en")
    assert card["task"] == "translation-zh-en" and card.metrics["chrf"]["n"] == 400
    sample = card["samples"][0]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in sample["source"]) and sample["reference"][0].isupper()
    translator = Translator(catalog.get_spec("translate-zh-en"))
    result = translator.translate("汤姆没有买车。")
    assert result.text and not any("\u4e00" <= ch <= "\u9fff" for ch in result.text)  # English out
    assert result.cross_attentions is not None and result.cross_attentions.shape[-1] == len(result.source_tokens)
    with pytest.raises(InputError):
        translator.translate("Tom did not buy a car.")  # it reads Chinese only
    assert set(translator.unseen_words("汤姆买了龘。😀")) == {"😀", "龘"}  # characters it never saw, Chinese or not
    with pytest.raises(InputError, match="no words"):
        translator.translate("。。。123")  # not "your text is English"


def test_the_benchmark_scores_it_on_the_held_out_pairs_reversed(tiny_zh_en):
    from core import catalog
    from core.bench.run import run

    result = run("translation-zh-en", ["translate-zh-en"], repeats=3)
    row = result.rows[0]
    assert row.n == 400 and row.value == pytest.approx(catalog.read_metadata("translate-zh-en").metrics["chrf"]["value"])
    assert result.texts[0] and any("\u4e00" <= ch <= "\u9fff" for ch in result.texts[0])  # Chinese sources


def test_the_translate_page_switches_direction(tiny_zh_en):
    at = open_page("pages/translate.py", model="translate-zh-en", lang="zh")
    assert at.session_state["translate-direction"] == "zh-en"
    assert at.text_area(key="translate-text").value == "玛丽买了两只猫。"
    at.button(key="translate-run").click().run()
    assert not at.exception and not at.error
    assert any(c.value.startswith("由 ONNX Runtime fp32 在服务器的 CPU 上计算") for c in at.caption), [c.value for c in at.caption]
    # from Chinese the grammar's English is one right answer of several: a difference is a note, not a warning
    output = at.session_state["translate-result"][1].text.strip()
    if output == "Mary bought two cats.":
        assert any(s.value.startswith("与这套语法给出的译文一致。") for s in at.success)
    else:
        shown = next(i.value for i in at.info if i.value.startswith("这套语法给出的译文：Mary bought two cats."))
        assert "中文常常不说出时态" in shown and not any("这套语法给出的译文" in w.value for w in at.warning)
    at.session_state["translate-direction"] = "en-zh"
    at.run()
    assert at.selectbox(key="translate-model").value == "translate-en-zh"
