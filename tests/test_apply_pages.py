"""Topic, Summarize and the explained Sentiment page in AppTest, with real models and bad inputs."""

import pytest

from conftest import TINY_KEY, open_page

pytestmark = pytest.mark.usefixtures("clear_streamlit_caches")


def test_topic_with_a_trained_model(topic_tiny_model):
    at = open_page("pages/topic.py", model="topic-tiny")
    assert at.selectbox(key="topic-model").value == "topic-tiny"
    at.button_group(key="topic-example").set_value(at.button_group(key="topic-example").options[2]).run()
    at.button(key="topic-run").click().run()
    assert not at.exception and not at.error
    assert any(m.label == "Latency" for m in at.metric)
    assert any("held-out accuracy" in c.value for c in at.caption)
    assert any("pipeline" in c.value for c in at.code)
    at.text_area(key="topic-text").input("").run()
    at.button(key="topic-run").click().run()
    assert any("Please enter some text" in e.value for e in at.error)


def test_zero_shot_with_custom_labels():
    at = open_page("pages/topic.py")
    at.segmented_control(key="topic-mode").set_value("Zero-shot (your labels)").run()
    at.text_area(key="topic-text").input("The striker scored twice and the team won the cup final.").run()
    at.text_input(key="topic-labels").input("football, astronomy, cooking").run()
    at.button(key="topic-zs-run").click().run()
    assert not at.exception and not at.error
    assert any("Zero-shot: **football**" in m.value for m in at.markdown)
    assert any("never trained on these labels" in c.value for c in at.caption)
    at.segmented_control(key="topic-zs-method").set_value("BART-large MNLI (Hub)").run()
    assert any("needs internet" in w.value for w in at.warning) and at.button(key="topic-zs-run").disabled
    at.segmented_control(key="topic-zs-method").set_value("MiniLM similarity (offline)").run()
    at.text_input(key="topic-labels").input("football").run()
    at.button(key="topic-zs-run").click().run()
    assert any("at least two candidate labels" in e.value for e in at.error)


def test_sentiment_explanation_and_what_if(tiny_model):
    at = open_page("pages/sentiment.py", model=TINY_KEY)
    at.text_area(key="sentiment-text").input("The plot was dull and the acting was awful.").run()
    at.button(key="sentiment-run").click().run()
    assert not at.exception and not at.error
    assert not at.get("html")  # attributions wait for their button
    at.button(key="sentiment-explain-run").click().run()
    assert not at.exception and not at.error
    html = " ".join(str(element.proto) for element in at.get("html"))
    assert "Occlusion" in html and "Integrated gradients" in html and "awful" in html
    assert at.text_area(key="sentiment-whatif").value == "The plot was not dull and the acting was awful."
    at.text_area(key="sentiment-whatif").input("The plot was lively and the acting was superb.").run()
    assert not at.exception
    assert any("points" in c.value for c in at.caption)
    at.segmented_control(key="sentiment-explain-target").set_value("negative").run()
    assert not at.exception and not at.get("html")  # another class: explained again only on a click
    at.button(key="sentiment-explain-run").click().run()
    assert not at.exception and at.get("html")
    at.text_area(key="sentiment-text").input("The film is a delight.").run()
    at.button(key="sentiment-run").click().run()  # a new sentence analysed: the what-if starts again from it
    assert at.text_area(key="sentiment-whatif").value == "The film is not a delight."


def test_summarizeopen_page():
    at = open_page("pages/summarize.py")
    assert not at.metric and any("Press **Summarize**" in i.value for i in at.info)  # nothing runs unasked
    at.button(key="sum-run").click().run()
    assert any(m.label == "Compression" for m in at.metric)
    at.slider(key="sum-budget").set_value(100).run()
    words = next(m.value for m in at.metric if m.label == "Words")
    assert 60 < int(words.split("/")[0]) <= 100
    at.segmented_control(key="sum-method").set_value("Lead (baseline)").run()
    at.selectbox(key="sum-example").set_value(4).run()
    assert not at.exception
    assert any("needs internet" in i.value for i in at.info)  # abstractive models are greyed out offline
    at.segmented_control(key="sum-method").set_value("TextRank + MMR").run()
    at.text_area(key="sum-text").input("Only one sentence here").run()
    at.button(key="sum-run").click().run()
    assert any("at least two sentences" in e.value for e in at.error)
