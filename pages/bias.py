"""Challenges → Bias (数据偏差): counterfactual probes, an embedding association test, and the data's shortcuts."""

import streamlit as st

from ui import bias
from ui.i18n import _
from ui.runtime import through_router

through_router()

st.title(_("Bias: what the data taught the model"))
st.markdown(
    _("The article names **data bias** (数据偏差) as a challenge: a model learns whatever its training data "
      "contains, including preferences nobody meant to teach. Here it is measured on LM Lab's own models, with "
      "sentences and word lists you can edit.")
)
probes, association, data = st.tabs([_("Counterfactual probes"), _("Embedding association (WEAT)"),
                                     _("Training data")])  # fmt: skip
with probes:
    st.markdown(_("Sentences in which only a group term changes (\"**he** wrote this review\" / \"**she** wrote this "
                  "review\"): a classifier that judged only the text's content would give both the same answer."))
    bias.probes_panel()
with association:
    st.markdown(_("Does the MiniLM encoder place some names closer to career words and others closer to family "
                  "words? The Word Embedding Association Test compares cosine similarities."))
    bias.weat_panel()
with data:
    st.markdown(_("What a model can learn as a shortcut: each training set's class balance, and the words that "
                  "predict a class most strongly."))
    bias.data_panel()
    bias.skew_panel()
