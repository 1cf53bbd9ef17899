"""Apply → Summarize: extractive summaries that work offline (TextRank + MMR on MiniLM embeddings), a lead
baseline, and abstractive Hub models when online."""

import streamlit as st

from core import catalog, settings
from core.errors import CoreError
from core.tasks import summarize
from ui import i18n, language, safe
from ui import summarize as summarize_ui
from ui.i18n import N_, _
from ui.runtime import through_router

through_router()

st.title(_("Summarization"))
st.markdown(
    _("An **extractive** summary picks the text's most central sentences and keeps them word for word; an "
      "**abstractive** one writes new sentences (a sequence-to-sequence model, online here). The extractive "
      "method below embeds every sentence with MiniLM, ranks them by TextRank centrality, and picks within your "
      "word budget while penalising sentences similar to those already chosen (the redundancy penalty).")
)
articles = summarize_ui.examples()
choice = st.selectbox(_("Example article (Lee news corpus, 2001)"), range(len(articles)),
                      format_func=lambda i: f"{i + 1}. {articles[i][:90]}…", key="sum-example")  # fmt: skip
if st.session_state.get("sum-loaded") != choice:
    st.session_state["sum-text"] = articles[choice]
    st.session_state["sum-loaded"] = choice
text = st.text_area(_("Text to summarize (or paste your own)"), key="sum-text", height=200)
left, middle, right = st.columns(3)
budget = left.slider(_("Word budget"), 15, 200, 60, key="sum-budget",
                     help=_("Words of the summary at most (in Chinese, characters: Chinese writes no spaces)."))
diversity = middle.slider(_("Redundancy penalty (MMR)"), 0.0, 1.0, 0.3, 0.05, key="sum-diversity",
                          help=_("0: pick by centrality only; higher: penalise sentences similar to ones already "
                                 "chosen; at 1 centrality is ignored and only novelty counts."))  # fmt: skip
TEXTRANK, LEAD = N_("TextRank + MMR"), N_("Lead (baseline)")
method = right.segmented_control(_("Method"), [TEXTRANK, LEAD], default=TEXTRANK, key="sum-method", required=True,
                                 format_func=i18n.labels([TEXTRANK, LEAD]))  # fmt: skip
st.caption(
    _("Up to {chars} characters and {sentences} sentences. Press **Summarize** to embed the sentences; afterwards "
      "the sliders re-pick at once.", chars=f"{settings.limits().max_chars:,}", sentences=summarize.MAX_SENTENCES)
)  # fmt: skip
clicked = st.button(_("Summarize"), key="sum-run", type="primary", icon=":material/summarize:")
if method == TEXTRANK:  # the lead baseline reads no words; TextRank compares MiniLM's embeddings
    language.warn_text(text, catalog.MINILM.languages, i18n.title(catalog.MINILM))
try:
    result = summarize_ui.summary(text, method, budget, diversity, clicked=clicked)
except CoreError as error:
    safe.error(error)
    st.stop()
if result is None:
    st.info(_("Press **Summarize** to summarize the text in the box."), icon=":material/summarize:")
    st.stop()
summarize_ui.show(result, key="extractive" if method == TEXTRANK else "lead")
summarize_ui.abstractive_section(text, result.summary)
