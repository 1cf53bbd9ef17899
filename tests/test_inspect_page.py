"""The Inspect page in AppTest: models, sentences, pairs, layer/head choice, compare mode."""

import pytest

from conftest import TINY_KEY, open_page

pytestmark = pytest.mark.usefixtures("clear_streamlit_caches")


def test_inspect_minilm_views_and_controls():
    at = open_page("pages/inspect_attention.py")
    assert len(at.get("iframe")) == 2  # bertviz head view and model view
    assert len(at.get("plotly_chart")) >= 4  # all heads, one head, statistics, rollout
    # every view downloads: the two bertviz views as their offline HTML, the charts as HTML and as their numbers
    keys = {button.key for button in at.get("download_button")}
    assert {"inspect-bertviz-heads-html", "inspect-bertviz-model-html"} <= keys
    for view in ("inspect-grid", "inspect-one", "inspect-stats", "inspect-rollout"):
        assert {f"{view}-html", f"{view}-json"} <= keys, (view, keys)
    at.slider(key="inspect-layer").set_value(2).run()
    at.slider(key="inspect-head").set_value(7).run()
    at.selectbox(key="inspect-stat").set_value("mean distance (tokens)").run()
    at.toggle(key="inspect-pair-on").set_value(True).run()
    at.text_input(key="inspect-text-b").input("It purred loudly.").run()
    assert not at.exception
    at.text_input(key="inspect-text").input(" ".join(["long"] * 90)).run()
    at.slider(key="inspect-window").set_value(20).run()
    at.slider(key="inspect-start").set_value(30).run()
    assert not at.exception
    assert any("Showing tokens 30–49" in i.value for i in at.info)


def test_compare_mode_and_a_trained_model(tiny_model):
    at = open_page("pages/inspect_attention.py")
    at.selectbox(key="inspect-other").set_value("minilm-l6").run()
    assert not at.exception
    assert any("Most changed" in c.value and "0.000" in c.value for c in at.caption)
    at.selectbox(key="inspect-model").set_value(TINY_KEY).run()
    assert not at.exception
    assert any("different shapes" in e.value for e in at.error)


def test_untrained_model_and_empty_text(fresh_cache):
    at = open_page("pages/inspect_attention.py")
    at.selectbox(key="inspect-model").set_value("sentiment-minilm").run()
    assert any("not trained yet" in w.value for w in at.warning)
    at.selectbox(key="inspect-model").set_value("minilm-l6").run()
    at.text_input(key="inspect-text").input("").run()
    assert any("Please enter some text" in e.value for e in at.error)
