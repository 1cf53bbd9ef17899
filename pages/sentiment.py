"""Sentiment: a label and class probabilities for your sentence, from real models side by side."""

import streamlit as st

from ui import scenario, sentiment
from ui.i18n import _
from ui.runtime import through_router

through_router()  # before anything is drawn

st.title(_("Sentiment analysis"))
st.markdown(
    _("Is a sentence positive or negative? A classifier reads the tokens, and its last layer gives one "
      "score per class; softmax turns the scores into probabilities that add up to 1.")
)

reviews = sentiment.review_language()
task, default, fallback, examples = sentiment.LANGUAGES[reviews]
spec, ready = scenario.model_header(task, "sentiment", default=default, fallback=fallback)
sentiment.why_this_default(reviews, spec)
text = scenario.text_box("sentiment", examples, label=_("Your text"), height=110,
                         placeholder=_(sentiment.PLACEHOLDERS[reviews]))  # fmt: skip
compare = st.toggle(_("Compare ready models"), key="sentiment-compare",
                    help=_("The chosen model next to the other ready ones, at most {most}, and the task's baselines: TF-IDF + "
                           "logistic regression and the majority class, fitted here on the training split.",
                           most=sentiment.MAX_COMPARE))  # fmt: skip
clicked = st.button(_("Analyse"), key="sentiment-run", type="primary", disabled=not (ready or compare))

if clicked:
    sentiment.run(spec, text, compare=compare)
with st.container(key="sentiment-answer"):  # a stable hook for browser checks of the answer
    sentiment.show_results()
if ready and st.session_state.get("sentiment-results"):
    with st.expander(
        _("Explain the prediction, and try a what-if"), expanded=True, icon=":material/psychology:"
    ):
        sentiment.explain(spec)
        sentiment.what_if(spec)
sentiment.model_card(spec)
