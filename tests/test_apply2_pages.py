"""Translate, Semantic roles and Generate in AppTest, on tiny models trained for real, with bad inputs."""

import pytest

from conftest import open_page

pytestmark = pytest.mark.usefixtures("clear_streamlit_caches")


def test_translate_page(translate_tiny_model):
    at = open_page("pages/translate.py")
    assert at.selectbox(key="translate-model").value == "translate-en-zh"
    assert any("chrF" in c.value for c in at.caption), "the picker shows the held-out chrF"
    at.button(key="translate-run").click().run()
    assert not at.exception and not at.error
    assert any(m.label == "Latency" for m in at.metric)
    assert any(m.label == "Decoding" and m.value == "greedy" for m in at.metric)
    assert any(c.value == "Computed by ONNX Runtime fp32 on the server's CPU." for c in at.caption)
    assert any("AutoModelForSeq2SeqLM" in c.value for c in at.code)
    assert any("Cross-attention" in m.value for m in at.markdown)
    # the grammar's own translation beside the model's: a match, or what the model's lacks and adds
    output = at.session_state["translate-result"][1].text.strip()
    if output == "汤姆昨天在图书馆看了一本书。":
        assert any(s.value.startswith("Matches the grammar's own translation.") for s in at.success)
    else:
        shown = next(w.value for w in at.warning if w.value.startswith("The grammar's own translation:"))
        assert "汤姆昨天在图书馆看了一本书。" in shown and "grammar table below" in shown
        assert "Only in the reference" in shown or "Only in the model's translation" in shown
    at.button_group(key="translate-example").set_value(at.button_group(key="translate-example").options[1]).run()
    at.button(key="translate-run").click().run()
    assert any("400 held-out sentences" in block.value for block in [*at.success, *at.warning])
    # beam search, another layer and head of the alignment
    at.segmented_control(key="translate-decoding").set_value("Beam search").run()
    at.slider(key="translate-beams").set_value(3).run()
    at.button(key="translate-run").click().run()
    assert any(m.label == "Decoding" and "3 beams" in m.value for m in at.metric)
    assert any(c.value.startswith("Computed by PyTorch fp32 on the server's CPU")  # markdown: \( draws (
               and "beam search decodes on PyTorch" in c.value for c in at.caption)
    at.segmented_control(key="translate-head").set_value("1").run()
    assert not at.exception
    # a sentence outside the grammar is translated, with a warning naming the unseen words
    at.button_group(key="translate-example").set_value(
        at.button_group(key="translate-example").options[-1]
    ).run()
    at.button(key="translate-run").click().run()
    assert any("Never seen in training" in w.value and "Sydney" in w.value for w in at.warning)
    assert any(c.value.startswith("No reference: this sentence is not one of") for c in at.caption)
    # bad input: empty, then odd Unicode only
    at.text_area(key="translate-text").input("").run()
    at.button(key="translate-run").click().run()
    assert any("Please enter some text" in e.value for e in at.error)
    at.text_area(key="translate-text").input("\u200b\u0000 ").run()
    at.button(key="translate-run").click().run()
    assert any("Please enter some text" in e.value for e in at.error)
    at.text_area(key="translate-text").input("word " * 3000).run()
    at.button(key="translate-run").click().run()
    assert any("limit" in e.value for e in at.error)


def test_translate_page_without_the_model_offers_training(fresh_cache):
    at = open_page("pages/translate.py")
    assert any("not trained yet" in c.value for c in at.caption)
    assert at.button(key="train-translate-en-zh") is not None
    assert at.button(key="translate-run").disabled


def test_srl_page(srl_tiny_model):
    at = open_page("pages/srl.py")
    assert any("span F1" in c.value for c in at.caption)
    chosen = [ms for ms in at.multiselect if ms.key.startswith("srl-predicates-")][0]
    assert chosen.value == [2], "the verb 'gave' (word 3) is pre-selected"
    at.button(key="srl-run").click().run()
    assert not at.exception and not at.error
    html = " ".join(str(element.proto) for element in at.get("html"))
    assert "Frame of “gave”" in html and "ARG0" in html or "V" in html
    assert any("AutoModelForTokenClassification" in c.value for c in at.code)
    # two predicates in one sentence
    at.button_group(key="srl-example").set_value(at.button_group(key="srl-example").options[2]).run()
    chosen = [ms for ms in at.multiselect if ms.key.startswith("srl-predicates-")][0]
    assert len(chosen.value) == 2  # said, ate
    at.button(key="srl-run").click().run()
    html = " ".join(str(element.proto) for element in at.get("html"))
    assert "Frame of “said”" in html and "Frame of “ate”" in html
    # no predicate chosen; markup in the text is shown, never run
    chosen.set_value([]).run()
    at.button(key="srl-run").click().run()
    assert any("Choose at least one predicate" in e.value for e in at.error)
    at.text_area(key="srl-text").input("<script>alert(1)</script> The cat ate fish.").run()
    at.button(key="srl-run").click().run()
    html = " ".join(str(element.proto) for element in at.get("html"))
    assert "<script>" not in html


def test_generate_page(lm_tiny_model):
    at = open_page("pages/generate.py")
    assert any(m.label.startswith("Held-out perplexity — Transformer") for m in at.metric)
    assert any(m.label == "Entropy — Transformer" for m in at.metric), "next-token bars on first view"
    at.button(key="generate-append").click().run()
    assert at.text_input(key="generate-prompt").value != "The Prime Minister said"
    at.slider(key="generate-temperature").set_value(1.2).run()
    at.slider(key="generate-length").set_value(10).run()
    at.button(key="generate-run").click().run()
    assert not at.exception and not at.error
    first = [m.value for m in at.markdown if m.value.startswith("> ")]
    at.button(key="generate-run").click().run()
    assert [m.value for m in at.markdown if m.value.startswith("> ")] == first, "same seed, same text"
    assert any("AutoModelForCausalLM" in c.value for c in at.code)
    at.button(key="generate-score-run").click().run()
    assert any(m.label == "Kneser–Ney trigram" for m in at.metric)
    at.button(key="generate-compare-run").click().run()
    assert not at.exception and not at.error
    assert any("more likely" in m.value for m in at.markdown)
    # bad input
    at.text_input(key="generate-score-text").input("").run()
    at.button(key="generate-score-run").click().run()
    assert any("Please enter some text" in e.value for e in at.error)


def test_translate_page_in_chinese_names_its_decoding_and_grammar_rules_in_chinese(translate_tiny_model):
    at = open_page("pages/translate.py", lang="zh")
    rules = next(frame.value for frame in at.dataframe if "规则" in frame.value.columns)
    assert "时间和地点放在动词前" in list(rules.iloc[:, 0]) and "Time and place" not in rules.to_string()
    at.segmented_control(key="translate-decoding").set_value("Beam search").run()
    at.slider(key="translate-beams").set_value(3).run()
    at.button(key="translate-run").click().run()
    assert not at.exception and any(m.value == "束搜索（3 束）" for m in at.metric), [m.value for m in at.metric]


def test_inspect_shows_a_translation_models_attention(translate_tiny_model, monkeypatch):
    from core.tasks.translate import Translator

    at = open_page("pages/inspect_attention.py", architecture="seq2seq", text="Tom read a book.")
    assert at.segmented_control(key="inspect-architecture").value == "Encoder-decoder (translation)"
    assert any(m.value.startswith("**Tom read a book.** →") for m in at.markdown)
    calls, original = [], Translator.translate
    monkeypatch.setattr(Translator, "translate", lambda self, text, **kw: calls.append(text) or original(self, text, **kw))
    at.run()
    assert not calls and any(m.value.startswith("**Tom read a book.** →") for m in at.markdown)  # read back
    at.text_input(key="inspect-seq2seq-text").input("Mary sold the house.").run()
    assert calls == ["Mary sold the house."]
    at.text_input(key="inspect-seq2seq-text").input("").run()
    assert any("Please enter some text" in e.value for e in at.error)
    at.segmented_control(key="inspect-architecture").set_value("Encoder").run()
    assert not at.exception and at.selectbox(key="inspect-model").value == "minilm-l6"


def test_train_page_offers_conll_srl_only_online(srl_tiny_model, fresh_cache, monkeypatch):
    import shutil

    from core import settings

    at = open_page("pages/train.py")
    assert at.button(key="train-conll").disabled
    assert any("needs internet" in c.value for c in at.caption)
    assert any("conll2012_ontonotesv5" in m.value for m in at.markdown)
    monkeypatch.setattr(settings, "current_mode", lambda: settings.Mode(True, "test", 0.0))  # as if the Hub answered
    at.run()
    assert not at.button(key="train-conll").disabled  # not trained yet: anyone online may start the class's run
    shutil.copytree(srl_tiny_model, fresh_cache / "models" / "srl-conll")  # once it is there, nobody redoes it
    at.run()
    assert at.button(key="train-conll").disabled and any("only the command above" in c.value for c in at.caption)
