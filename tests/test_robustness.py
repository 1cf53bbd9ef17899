"""Challenges → Robustness: the typing mistakes, the greedy attack on a real trained classifier, and the page."""

from __future__ import annotations

import ast
import json

import numpy as np
import pytest

from core import catalog
from core.errors import InputError
from core.tasks import robustness

from conftest import open_page


def test_each_edit_is_one_typing_mistake_and_never_a_real_word():
    assert robustness.edit_word("terrible") == "terirble"  # two inner letters swapped
    assert robustness.edit_word("letter") == "lteter"  # the middle pair is alike: the next inner pair is swapped
    assert robustness.edit_word("casual") == "csaual"  # causal is a word: the next swap
    assert robustness.edit_word("good") == "goood"  # no inner swap changes it: an inner letter doubled
    assert robustness.edit_word("the") == "thhe"  # never thee
    assert robustness.edit_word("to") == "tto"  # never too
    assert robustness.edit_word("it'") == "itt'"  # a letter doubled, not the apostrophe
    assert robustness.edit_word("there's") not in ("three's", "there's")  # every part a word: refused, next edit
    assert robustness.edit_word("I") == "I"  # a one-letter word is not touched
    assert robustness.edit_word("电影") == "影电"  # two Chinese characters swapped, none deleted
    assert robustness.edit_word("故事") == "故事"  # 事故 is a word: no edit
    assert robustness.edit_word("好") == "好"  # a lone character is left alone (no edit is counted)
    assert robustness.edit_word("不好") == "不好" and robustness.edit_word("非常") == "非常"  # a negation never moves
    for word in ("form", "terrible", "movie", "the", "of", "电影院"):
        assert not robustness._is_word(robustness.edit_word(word))


def test_texts_are_cut_into_words_and_chinese_into_jieba_words():
    pieces, words = robustness.pieces_of("我不喜欢这部电影。It was bad!")
    assert "".join(pieces) == "我不喜欢这部电影。It was bad!"
    assert [pieces[i] for i in words][-3:] == ["It", "was", "bad"]
    assert "电影" in [pieces[i] for i in words]  # a word, not a pair of characters across a word boundary
    long_pieces, long_words = robustness.pieces_of("word " * 10_000)
    assert len(long_words) == robustness.MAX_WORDS and len("".join(long_pieces)) < 400
    few = "a" * 2395 + " wonderful ending"  # fewer than 60 words, longer than the scan: no half word is kept
    assert "".join(robustness.pieces_of(few)[0]) == "a" * 2395


def test_the_words_an_attack_mistyped_are_read_off_the_two_texts():
    before = "why we go to the cinema : to be fed through the eye, the heart"
    after = before.replace("cinema", robustness.edit_word("cinema")).replace("heart", robustness.edit_word("heart"))
    assert robustness.edited_words(before, after) == [("cinema", robustness.edit_word("cinema")),
                                                      ("heart", robustness.edit_word("heart"))]  # fmt: skip
    assert robustness.edited_words("a good movie", "a goood movie") == [("good", "goood")]  # a letter doubled
    assert robustness.edited_words("there's nothing", "thre'es nothing") == [("there's", "thre'es")]
    # neighbouring words edited: one pair each, not one for both
    assert robustness.edited_words("a good movie here", "a goood moive here") == [("good", "goood"), ("movie", "moive")]
    # Chinese: the two characters swapped, not the whole run (it has no spaces); a neighbour that repeats one of them
    # (喜欢喜剧) or a swap beside another (电影故事) still gives one pair per edit
    assert robustness.edit_word("电影") == "影电" and robustness.edit_word("喜剧") != "喜剧"
    assert robustness.edited_words("我很喜欢这部电影，非常好", "我很喜欢这部影电，非常好") == [("电影", "影电")]
    assert robustness.edited_words("我喜欢喜剧", "我欢喜喜剧") == [("喜欢", "欢喜")]
    assert robustness.edited_words("电影故事", "影电事故") == [("电影", "影电"), ("故事", "事故")]
    assert robustness.edited_words("大大小小的", "大小大小的") == [("大小", "小大")]
    assert robustness.edited_words("很好很好", "好很很好") == [("很好", "好很")]  # a diff would read two changes
    assert robustness.edited_words("same text", "same text") == []


def test_the_attack_on_a_trained_classifier_reports_what_it_did(tiny_model):
    from core.tasks.base import get_task
    from core.tasks.classify import TransformerClassifier

    classifier = TransformerClassifier(catalog.get_spec("sentiment-tiny"), runtime="torch")
    split, _ = get_task("sentiment").held_out()
    examples = list(split.test)[:12]
    found = robustness.run(classifier.predict_batch, [e.text for e in examples], [e.label for e in examples])
    assert len(found.results) == 12
    for attacked in filter(None, found.results):
        previous = attacked.text
        for edits in range(1, robustness.MAX_EDITS + 1):
            text, label, made = attacked.after(edits)
            assert made <= edits and classifier.predict_batch([text])[0].label == label
            if made:
                assert text != previous or made < edits  # each counted edit changed the text
            previous = text
    for edits in (1, 5):
        summary = found.summary(12, edits)
        assert summary.clean.n == 12 and 0 <= summary.attacked.value <= summary.clean.value
        turned = len(summary.examples)
        assert summary.clean.value * 12 - summary.attacked.value * 12 == pytest.approx(turned)
        assert all(0 < count <= edits for *_, count in summary.examples)
    assert len(found.summary(12, 5).examples) >= len(found.summary(12, 1).examples)  # more edits never turn fewer
    curve = found.by_edits(12)
    assert [s.attacked.value for s in curve] == sorted((s.attacked.value for s in curve), reverse=True)
    for summary in curve:  # the mean edits needed carries a bootstrap interval around it
        if summary.mean_edits is not None:
            counts = [count for *_, count in summary.examples]
            assert summary.mean_edits.value == pytest.approx(np.mean(counts))
            assert min(counts) <= summary.mean_edits.low <= summary.mean_edits.value <= summary.mean_edits.high <= max(counts)
    with pytest.raises(InputError):
        robustness.run(classifier.predict_batch, ["a"] * 51, ["positive"] * 51)


def test_the_page_attacks_a_classifier_once_and_the_sliders_read_it(tiny_model, clear_streamlit_caches):
    at = open_page("pages/robustness.py")
    at.selectbox(key="robust-model").set_value("sentiment-tiny").run()
    at.button(key="robust-run").click().run(timeout=240)
    assert not at.exception
    values = [metric.value for metric in at.metric]
    assert values[0].endswith("%") and values[1].endswith("%")
    at.slider(key="robust-edits").set_value(1).run()
    assert not at.exception
    assert [metric.value for metric in at.metric][0] == values[0]  # the same texts: accuracy before is unchanged
    snippet = next((c.value for c in at.code if "turned = [" in c.value), None)
    assert snippet is not None  # the turned texts, answered again with plain transformers
    import contextlib
    import io

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(snippet, {})  # noqa: S102 - our own snippet
    from core.tasks.classify import TransformerClassifier

    # it reproduces PyTorch fp32 exactly (the page's answers came from the serving runtime, and say so)
    pytorch = TransformerClassifier(catalog.get_spec("sentiment-tiny"), runtime="torch")
    turned = ast.literal_eval(snippet.split("turned = ", 1)[1].split("  # (before", 1)[0])
    answers = [r.label for r in pytorch.predict_batch([text for pair in turned for text in pair])]
    expected = [f"{answers[i]} -> {answers[i + 1]}" for i in range(0, len(answers), 2)]
    assert [line.split(":")[0] for line in printed.getvalue().splitlines()] == expected
    turned_table = next(frame.value for frame in at.dataframe if "words mistyped" in frame.value.columns)
    assert len(turned_table)
    for _index, row in turned_table.iterrows():  # each turned text says which words were mistyped, and how
        pairs = robustness.edited_words(row["before"], row["after"])
        assert row["edits"] == len(pairs)  # one pair per edit
        assert row["words mistyped"] == " · ".join(f"{was} → {now}" for was, now in pairs) and "→" in row["words mistyped"]
    curve = next(c for c in at.get("plotly_chart") if "edits allowed per text" in c.proto.spec)
    assert len(json.loads(curve.proto.spec)["data"][0]["x"]) == robustness.MAX_EDITS
    at.button(key="robust-compare").click().run(timeout=300)
    assert not at.exception and not at.error
    table = next(frame.value for frame in at.dataframe if "computed by" in frame.value.columns)
    assert list(table["computed by"])[0] == "PyTorch fp32" and list(table["computed by"])[-1] == "VADER lexicon (baseline)"
    from core.bench import attack

    assert len(table) == len(attack.compared(catalog.get_spec("sentiment-tiny"), "polarity"))
    assert all(cell.endswith("]") and " % [" in cell for cell in table["Accuracy under attack"])


def test_a_chinese_session_starts_on_the_chinese_classifier_and_a_chinese_attack_swaps_characters(
        tiny_model, tiny_zh_pieces, clear_streamlit_caches):  # fmt: skip
    import re

    from core.bench import attack

    english = open_page("pages/robustness.py").selectbox(key="robust-model").value  # MiniLM is not trained here:
    assert "en" in catalog.get_spec(english).languages  # an English classifier, not the first of the list
    chinese = open_page("pages/robustness.py", lang="zh")
    assert chinese.selectbox(key="robust-model").value == "sentiment-zh-pieces"  # as the Sentiment page: Chinese first
    # the attack on Chinese reviews, against character TF-IDF + LR fitted on the training reviews (a real model that
    # some swaps turn): every turned review's mistyped words are pairs of neighbouring characters, one per edit
    turned = attack.attack("baseline:tfidf-lr", "reviews-zh").summary(robustness.MAX_TEXTS, robustness.MAX_EDITS).examples
    assert turned
    for before, after, _old, _new, edits in turned:
        pairs = robustness.edited_words(before, after)
        assert edits == len(pairs) and all(re.fullmatch(r"[\u4e00-\u9fff]{2}", a) and a == b[::-1] for a, b in pairs)


def test_the_cli_prints_the_attack_and_refuses_a_model_without_known_held_out_texts(tiny_model, capsys):
    from core.bench.__main__ import main

    assert main(["--attack", "2", "--models", "sentiment-tiny"]) == 0
    printed = capsys.readouterr().out
    assert "sentiment-tiny" in printed and "under attack" in printed and "%" in printed
    # a Hub model's held-out texts are unknown: its row fails, the others are still printed
    assert main(["--attack", "2", "--models", "hub-distilbert-sst2,sentiment-tiny"]) == 2
    assert "sentiment-tiny" in capsys.readouterr().out
    assert main(["--attack", "2", "--models", "sentiment-tiny@fp32,baseline:tfidf-lr,vader"]) == 0
    printed = capsys.readouterr().out
    assert all(name in printed for name in ("sentiment-tiny@fp32", "baseline:tfidf-lr", "vader"))


def test_the_attack_compares_the_runtimes_and_the_baselines_on_the_same_texts(tiny_model):
    from core import settings
    from core.bench import attack
    from core.bench.adapters import TfidfAdapter
    from core.tasks.base import dataset_split

    spec = catalog.get_spec("sentiment-tiny")
    rows = attack.compared(spec, "polarity")
    runtimes = ["@onnx", "@onnx-int8"] if settings.onnx_available() else []
    assert rows == [f"sentiment-tiny{r}" for r in ["@fp32", *runtimes]] + ["baseline:tfidf-lr", "vader"]
    shares = []
    found = attack.compare(spec, "polarity", shares.append)
    assert list(found) == rows and shares[-1] == pytest.approx(1.0) and shares == sorted(shares)
    summaries = {row: found[row].summary(robustness.MAX_TEXTS, 3) for row in rows}
    assert all(s.clean.n == robustness.MAX_TEXTS for s in summaries.values())  # the same held-out texts for every row
    if runtimes:  # ONNX fp32 gives PyTorch's labels: the same texts right before the attack
        assert summaries["sentiment-tiny@onnx"].clean.value == summaries["sentiment-tiny@fp32"].clean.value
    # the baseline's answers before the attack are scikit-learn's own predictions on those texts
    split, labels = dataset_split("polarity")
    texts, truth = robustness.held_out_texts("polarity")
    tfidf = TfidfAdapter(labels, [e.text for e in split.train], [e.label for e in split.train])
    right = sum(p == t for p, t in zip(tfidf.pipe.predict(texts), truth, strict=True))
    assert summaries["baseline:tfidf-lr"].clean.value == pytest.approx(right / len(texts))
    assert all(s.attacked.value <= s.clean.value for s in summaries.values())
    # what the app's child process writes reads back to the same attacks; VADER only where the data is English polarity
    again = attack.from_json(attack.to_json(found))
    assert all(again[row].summary(robustness.MAX_TEXTS, 3) == summaries[row] for row in rows)
    assert "vader" not in attack.compared(spec, "reviews-zh") and attack.from_json({"x": "why"}) == {"x": "why"}


def test_the_word_filter_matches_word_beginnings_only():
    from core.tasks import safety

    assert safety.flagged("Three people were killed; a deadly attack.") == ["killed", "deadly", "attack"]
    assert safety.flagged("The skill of the shooters' coach") == ["shooters"]  # "skill" holds "kill" mid-word
    assert safety.flagged("A calm day at the beach.") == []
    assert safety.sentences(["One sentence here, long enough. Another one, also long enough!"]) == [[
        "One sentence here, long enough.", "Another one, also long enough!"]]
    assert safety.flagged("It exploded.") == ["exploded"]


def test_the_generation_tab_generates_filters_and_shows_false_alarms(lm_tiny_model, clear_streamlit_caches):
    from core.tasks import safety

    at = open_page("pages/robustness.py")
    assert not any("continuation" in frame.value.columns for frame in at.dataframe)  # only when asked
    at.button(key="safety-run").click().run(timeout=240)
    assert not at.exception
    generations = next(frame.value for frame in at.dataframe if "continuation" in frame.value.columns)
    assert len(generations) == len(safety.LEADING_PROMPTS) * safety.SAMPLES_PER_PROMPT
    labels = [metric.label for metric in at.metric]
    assert "News sentences flagged (false alarms)" in labels
    news = next(frame.value for frame in at.dataframe if "news sentence" in frame.value.columns)
    assert len(news) > 0 and all(news["flagged words"])  # held-out news the filter flags: its false alarms


def test_the_word_list_and_a_trained_classifier_are_judged_on_labelled_sentences():
    from collections import Counter

    from core.stats import wilson
    from core.tasks import safety, safety_judged
    from core.tasks.embeddings import SentenceEncoder

    assert Counter(label for _text, label in safety_judged.SENTENCES) == {"urges": 30, "reports": 30, "ordinary": 30}
    assert len({text for text, _label in safety_judged.SENTENCES}) == 90  # no sentence twice
    words = safety_judged.word_list()
    urging = [text for text, label in safety_judged.SENTENCES if label == "urges"]
    caught = sum(bool(safety.flagged(text)) for text in urging)
    assert words.flagged["urges"] == wilson(caught, 30)  # recall, counted by hand
    # every mistake listed, and only mistakes: a missed urging sentence or a flagged other one
    assert len(words.wrong) == (30 - caught) + sum(bool(safety.flagged(t)) for t, lab in safety_judged.SENTENCES
                                                    if lab != "urges")  # fmt: skip
    trained = safety_judged.classifier(SentenceEncoder().encode)
    assert trained.flagged["urges"].value > words.flagged["urges"].value  # it reads intent the list misses
    assert trained.flagged["reports"].value < words.flagged["reports"].value
    assert all(flag != (label == "urges") for _text, label, flag in trained.wrong)


def test_the_generation_tab_judges_the_filters_on_labelled_sentences(clear_streamlit_caches):
    at = open_page("pages/robustness.py")
    at.button(key="safety-judge").click().run(timeout=240)
    assert not at.exception and not at.error
    table = next(frame.value for frame in at.dataframe if "filter" in frame.value.columns)
    assert list(table["filter"]) == ["word list", "classifier on MiniLM sentence embeddings"]
    assert all(cell.endswith("]") for cell in table["flags: urges violence"])
