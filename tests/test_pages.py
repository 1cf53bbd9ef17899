"""Every page rendered by Streamlit's AppTest, with real interactions on real (tiny) models."""

import pytest
from streamlit.testing.v1 import AppTest

from core import catalog
from core.training import jobs

from conftest import ROOT, TINY_KEY

TIMEOUT = 120  # model loading on a cold, busy 2-core machine


pytestmark = pytest.mark.usefixtures("clear_streamlit_caches")


def _app() -> AppTest:
    return AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT)


def _sentiment(at: AppTest) -> AppTest:
    return at.switch_page("pages/sentiment.py").run()


def _texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [e.value for e in at.error] + [w.value for w in at.warning] + [i.value for i in at.info]
    return "\n".join(str(p) for p in parts)


def test_home_renders_mode_device_and_models(tiny_model):
    at = _app().run()
    assert not at.exception
    assert at.title[0].value == "LM Lab"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Mode"] == "offline"
    assert "Device" in metrics
    table = at.dataframe[0].value
    assert {"minilm-l6", "sentiment-minilm", TINY_KEY, "vader", "hub-distilbert-sst2"} <= set(table["key"])
    tiny_row = table[table["key"] == TINY_KEY].iloc[0]
    assert tiny_row["status"] == "ready" and "%" in tiny_row["held-out quality"]
    hub_row = table[table["key"] == "hub-distilbert-sst2"].iloc[0]
    assert hub_row["status"] == "needs internet"


def test_sentiment_predicts_with_a_trained_model(tiny_model):
    at = _sentiment(_app())
    assert not at.exception
    at.selectbox(key="sentiment-model").set_value(TINY_KEY).run()
    at.text_area(key="sentiment-text").input("An utterly charming and funny film.").run()
    at.button(key="sentiment-run").click().run()
    assert not at.exception and not at.error
    text = _texts(at)
    assert "Tiny BERT" in text and ("positive" in text or "negative" in text)
    assert any(m.label == "Latency" and m.value.endswith("ms") for m in at.metric)
    assert at.get("plotly_chart"), "the probability bar chart is missing"
    assert "held-out accuracy" in text
    assert any("pipeline" in c.value for c in at.code), "copyable transformers snippet missing"


def test_sentiment_empty_input_gets_a_clear_message(tiny_model):
    at = _sentiment(_app())
    at.selectbox(key="sentiment-model").set_value(TINY_KEY).run()
    at.text_area(key="sentiment-text").input("   ").run()
    at.button(key="sentiment-run").click().run()
    assert not at.exception
    assert any("Please enter some text" in e.value for e in at.error)


def test_sentiment_long_input_is_truncated_with_a_note(tiny_model):
    at = _sentiment(_app())
    at.selectbox(key="sentiment-model").set_value(TINY_KEY).run()
    at.text_area(key="sentiment-text").input("a fine film " * 100).run()
    at.button(key="sentiment-run").click().run()
    assert any("only the first 128 tokens" in w.value for w in at.warning)


def test_sentiment_example_and_vader(tiny_model):
    at = _sentiment(_app())
    at.selectbox(key="sentiment-model").set_value("vader").run()
    at.button_group(key="sentiment-example").set_value("The plot is thin and the jokes fall flat.").run()
    assert at.text_area(key="sentiment-text").value == "The plot is thin and the jokes fall flat."
    at.button(key="sentiment-run").click().run()
    assert not at.exception
    assert "not probabilities" in _texts(at)


def test_sentiment_compare_runs_every_ready_model(tiny_model):
    at = _sentiment(_app())
    at.toggle(key="sentiment-compare").set_value(True).run()
    at.button(key="sentiment-run").click().run()
    assert not at.exception and not at.error
    text = _texts(at)
    assert "Tiny BERT" in text and "VADER" in text
    assert len(at.get("plotly_chart")) >= 2
    # the baselines beside them, fitted here, each with its held-out accuracy
    assert "logistic regression" in text and "No majority class, a tie" in text  # 75 and 75 training sentences
    assert sum("fitted here on the training split · held-out accuracy" in c.value for c in at.caption) == 2


def test_hub_model_offline_is_explained(tiny_model):
    at = _sentiment(_app())
    at.selectbox(key="sentiment-model").set_value("hub-distilbert-sst2").run()
    assert not at.exception
    assert any("needs internet" in w.value for w in at.warning)
    assert at.button(key="sentiment-run").disabled


def test_first_use_trains_in_the_background(fresh_cache, monkeypatch):
    """A trained-here model that is missing starts a background job; when it ends the page uses it."""
    monkeypatch.setenv("LMLAB_AUTOTRAIN", "1")
    at = _app()
    at.query_params["model"] = TINY_KEY  # open the page on the tiny model, as a link would
    at = _sentiment(at)
    assert not at.exception
    assert at.selectbox(key="sentiment-model").value == TINY_KEY
    assert jobs.status(TINY_KEY).state in ("starting", "running", "done")
    assert any("is training in the background now" in i.value for i in at.info)
    finished = jobs.wait(TINY_KEY, timeout=300)
    assert finished.state == "done", finished
    assert catalog.read_metadata(TINY_KEY) is not None
    at.run()
    assert not at.button(key="sentiment-run").disabled
    at.button(key="sentiment-run").click().run()
    assert not at.exception and any(m.label == "Latency" for m in at.metric)


def test_untrained_model_without_autotrain_offers_a_button(fresh_cache):
    at = _sentiment(_app())
    at.selectbox(key="sentiment-model").set_value(TINY_KEY).run()
    assert jobs.status(TINY_KEY).state == "none"
    assert any("Press “Train it now”" in i.value for i in at.info), "nothing trains yet, and the page says so"
    assert at.button(key=f"train-{TINY_KEY}")
    assert at.button(key="sentiment-run").disabled


def test_the_page_list_is_built_once_per_language_and_each_run_navigates_its_own_copy(monkeypatch):
    """Building an st.Page reads its script's path on disk: a class's reruns built all of them every time."""
    import streamlit as st

    from ui import runtime

    built = []
    real = st.Page
    monkeypatch.setattr(st, "Page", lambda *args, **kwargs: built.append(args[0]) or real(*args, **kwargs))
    monkeypatch.setattr(runtime, "_PAGES", {})
    english = _app().switch_page("pages/faq.py").run()
    pages = len(built)
    assert pages >= 20 and not english.exception
    chinese = _app()
    chinese.query_params["lang"] = "zh"
    chinese.switch_page("pages/faq.py").run()
    assert not chinese.exception and pages < len(built) <= 2 * pages  # the Chinese titles: built once more
    before = len(built)
    english.run()
    chinese.switch_page("pages/home.py").run()
    english.switch_page("pages/translate.py").run()
    assert len(built) == before and not english.exception and not chinese.exception  # reruns copy what was built
    assert len(runtime._PAGES) == before
