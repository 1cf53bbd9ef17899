"""Honest about language: every page says what a model makes of a text in a language it does not read."""

from __future__ import annotations

import pytest

from core.errors import InputError

from conftest import TINY_KEY, open_page

CHINESE = "这部电影很好看，我非常喜欢。"


def test_the_language_of_a_text_and_its_words_as_a_reader_counts_them():
    from core.data.text import count_words, han_share, language_of

    assert language_of(CHINESE) == "zh" and language_of("The film was great.") == "en"
    assert language_of("我爱 this wonderful movie") == "en" and han_share("123 !!") == 0.0
    assert count_words(CHINESE) == 12  # one per character, the full-width comma and stop are no words
    assert count_words("“你好”他说。") == 4
    assert count_words("a - b  c") == len(["a", "-", "b", "c"])  # English exactly as before


def test_chinese_sentences_are_split_on_full_width_stops_and_joined_without_spaces():
    from core.tasks.summarize import lead, split_sentences

    text = "人工智能正在改变世界。它帮助医生诊断疾病！你相信吗？\n我们还需要更多研究；未来会更好。"
    assert [text[s:e] for s, e in split_sentences(text)] == [
        "人工智能正在改变世界。", "它帮助医生诊断疾病！", "你相信吗？", "我们还需要更多研究；", "未来会更好。"]  # fmt: skip
    summary = lead(text, budget_words=20)
    assert summary.summary == "人工智能正在改变世界。它帮助医生诊断疾病！" and summary.words_out == 19


def test_a_classifier_counts_the_unknown_tokens_of_a_chinese_text(tiny_model):
    from core import catalog, loading
    from core.tasks.classify import make_classifier
    from core.tasks.sentiment import VaderSentiment

    result = make_classifier(catalog.get_spec(TINY_KEY)).predict(CHINESE)
    fit = result.language
    assert fit.text_language == "zh" and not fit.fits and fit.model_languages == ("en",)
    tokenizer = loading.load_tokenizer(catalog.get_spec(TINY_KEY))
    ids = tokenizer(CHINESE, add_special_tokens=False)["input_ids"]
    assert (fit.unknown, fit.tokens) == (ids.count(tokenizer.unk_token_id), len(ids)) and fit.unknown > 0
    english = make_classifier(catalog.get_spec(TINY_KEY)).predict("A fine and moving film.").language
    assert english.fits and english.unknown_share < 0.25
    vader = VaderSentiment().predict(CHINESE).language
    assert not vader.fits and vader.unknown is None  # a lexicon has no [UNK] to count


def test_the_sentiment_page_says_so_before_the_answer(tiny_model):
    at = open_page("pages/sentiment.py", model=TINY_KEY)
    at.text_area(key="sentiment-text").input(CHINESE).run()
    at.button(key="sentiment-run").click().run()
    assert not at.exception and not at.error
    warning = next(w.value for w in at.warning if "[UNK]" in w.value)
    assert "English" in warning and "Chinese" in warning and "guess" in warning
    chinese = open_page("pages/sentiment.py", model=TINY_KEY, lang="zh")
    chinese.text_area(key="sentiment-text").input(CHINESE).run()
    chinese.button(key="sentiment-run").click().run()
    assert any("不认识" in w.value and "[UNK]" in w.value for w in chinese.warning)
    assert any("本页还提供能读中文的模型" in w.value for w in chinese.warning)  # the Chinese reviews' model
    at.text_area(key="sentiment-text").input("The plot was dull and the acting was awful.").run()
    at.button(key="sentiment-run").click().run()
    assert not any("[UNK]" in w.value for w in at.warning)  # an English text: nothing to say


def test_translation_and_role_labels_refuse_chinese_with_a_clear_message(translate_tiny_model, srl_tiny_model):
    from core import catalog
    from core.tasks.srl import SrlLabeler
    from core.tasks.translate import Translator

    with pytest.raises(InputError, match="reads English only; your text is Chinese"):
        Translator(catalog.get_spec("translate-en-zh")).translate(CHINESE)
    with pytest.raises(InputError, match="reads English only"):
        SrlLabeler(catalog.get_spec("srl-minilm")).label("玛丽上周买了两辆红色的汽车。")


def test_the_summarize_and_generate_pages_warn_for_chinese_text():
    at = open_page("pages/summarize.py")
    at.text_area(key="sum-text").input("人工智能正在改变世界。它帮助医生诊断疾病！你相信吗？").run()
    assert any("MiniLM" in w.value and "Chinese" in w.value for w in at.warning)
    at.segmented_control(key="sum-method").set_value("Lead (baseline)").run()
    assert not any("MiniLM" in w.value for w in at.warning)  # the lead baseline reads no words
    assert any(m.label == "Words" for m in at.metric)
    generate = open_page("pages/generate.py")
    generate.text_input(key="generate-prompt").input("今天天气很好").run()
    assert any("Chinese" in w.value for w in generate.warning)
    # the page's other language leads to a model that reads Chinese: the warning names it
    assert any("also offers a model that reads Chinese: Chinese character GPT" in w.value for w in generate.warning)


def test_the_learn_and_inspect_pages_say_minilm_reads_english():
    learn = open_page("pages/self_attention.py")
    learn.text_input(key="attn-text").input(CHINESE).run()
    assert any("MiniLM" in w.value and "Chinese" in w.value for w in learn.warning)
    assert any("reads Chinese: Small Chinese BERT" in w.value for w in learn.warning)  # the page's other encoder
    inspect = open_page("pages/inspect_attention.py", text=CHINESE)
    assert any("Chinese" in w.value for w in inspect.warning)
    english = open_page("pages/self_attention.py")
    assert not any("Chinese" in w.value for w in english.warning)


def test_every_model_says_which_languages_it_reads():
    home = open_page("pages/home.py")
    table = next(frame.value for frame in home.dataframe if "reads" in frame.value.columns)
    reads = dict(zip(table["key"], table["reads"], strict=True))
    assert reads["minilm-l6"] == "English" and reads["zh-char-gpt"] == "Chinese" and reads["translate-zh-en"] == "Chinese"
    assert set(reads.values()) <= {"English", "Chinese", "English and Chinese"}
    chinese = open_page("pages/home.py", lang="zh")
    table = next(frame.value for frame in chinese.dataframe if "能读的语言" in frame.value.columns)
    assert "中文" in set(table["能读的语言"])
