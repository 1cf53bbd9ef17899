"""Summarize page glue: the shared sentence encoder, example articles, abstractive models when online."""

from __future__ import annotations

import streamlit as st

from core import catalog
from core.errors import CoreError
from core.viz import attribution, charts
from ui import i18n, models, render, safe
from ui.i18n import _


def encoder():
    return models.sentence_encoder()


def summary(text: str, method: str, budget: int, diversity: float, *, clicked: bool):
    """The summary of ``text``, or None until the user presses the button for this text.

    Embedding is the expensive half (one MiniLM pass per sentence, under the inference gate): it runs
    only on a click and is kept in this session for this text, so moving a slider re-picks sentences
    without embedding them again.
    """
    from core.tasks import summarize

    if method != "TextRank + MMR":
        return summarize.lead(text, budget_words=budget)  # linear in the text: no button needed
    if clicked:
        with st.spinner(render.queue_note(_("Embedding the sentences…"))):
            st.session_state["sum-embedded"] = summarize.embed(encoder(), text)
    embedded = _embedded_for(text)
    return summarize.select(embedded, budget_words=budget, diversity=diversity) if embedded else None


def _embedded_for(text: str):
    from core.tasks.inputs import clean_text

    embedded = st.session_state.get("sum-embedded")
    if embedded is None or len(text) > 4 * len(embedded.text) + 100:  # a far longer text cannot clean down to it
        return None
    return embedded if embedded.text == clean_text(text) else None


@st.cache_data(show_spinner=False)
def examples() -> list[str]:
    from core.data import lee

    return list(lee.articles()[:30])


@st.cache_resource(max_entries=1, show_spinner=False)
def _abstractive(key: str):
    from core.tasks.summarize import AbstractiveSummarizer

    return AbstractiveSummarizer(catalog.get_spec(key))


def abstractive(key: str):
    with st.spinner(_("Loading the summarization model from the Hub…")):
        return _abstractive(key)


def show(summary, *, key: str) -> None:
    left, middle, right = st.columns(3)
    left.metric(_("Words"), f"{summary.words_out} / {summary.words_in}")
    middle.metric(_("Compression"), f"{100 * summary.compression:.0f} %", help=_("summary words ÷ input words"))
    right.metric(_("Latency"), f"{summary.latency_ms:.0f} ms")
    st.markdown("**" + _("Summary") + "**")
    st.success(safe.md(summary.summary) if summary.summary else _("(empty)"))
    spans = [(s.start, s.end, s.chosen, s.pick_order) for s in summary.sentences]
    with st.expander(_("The chosen sentences in the original text"), expanded=key == "extractive"):
        st.html(attribution.highlighted_sentences(summary.text, spans))
    if any(s.centrality for s in summary.sentences):
        render.figure(
            charts.sentence_scores([s.index for s in summary.sentences], [s.centrality for s in summary.sentences],
                                   [s.chosen for s in summary.sentences]),
            key=f"sum-scores-{key}",
        )  # fmt: skip


def abstractive_section(text: str, extractive_summary: str) -> None:
    specs = [s for s in catalog.specs_for_task("summarization") if s.source == catalog.HUB]
    st.subheader(_("Abstractive (writes new sentences)"))
    chosen = specs[
        st.selectbox(
            _("Model"), range(len(specs)), format_func=lambda i: i18n.title(specs[i]), key="sum-abstractive-model"
        )
    ]
    state = catalog.availability(chosen)
    if not state.ready:
        st.info(
            _("{model}: {reason}. Extractive summaries above work offline.", model=safe.md(i18n.title(chosen)),
              reason=_(state.reason)),
            icon=":material/cloud_off:",
        )  # fmt: skip
        return
    left, right = st.columns(2)
    low = left.slider(_("Minimum words"), 5, 60, 20, key="sum-min")
    high = right.slider(_("Maximum words"), 20, 200, 80, key="sum-max")
    if not st.button(_("Write an abstractive summary"), key="sum-abstractive-run"):
        return
    try:
        output, truncated, latency = abstractive(chosen.key).summarize(text, low, max(low + 5, high))
    except CoreError as error:
        safe.error(error)
        return
    st.success(safe.md(output))
    st.caption(
        f"{latency:.0f} ms"
        + (" · " + _("the input was longer than the model reads; its end was cut.") if truncated else "")
    )
    from core.bench import metrics

    scores = metrics.load("rouge").compute(predictions=[output], references=[extractive_summary])
    st.caption(_("ROUGE between the abstractive and the extractive summary (agreement, not quality):") + " "
               + ", ".join(f"{k} {v:.2f}" for k, v in scores.items()))  # fmt: skip
