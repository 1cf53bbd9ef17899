"""Challenges → Robustness and safety (鲁棒性与安全性): typing mistakes against a classifier, and a filter on what a GPT writes."""

import streamlit as st

from ui import robustness
from ui.i18n import _
from ui.runtime import through_router

through_router()

st.title(_("Robustness: a few typos against a model"))
st.markdown(
    _("The article names **safety** (安全性) as a challenge: a language model may produce unethical or misleading "
      "text. The second tab shows that side: a small GPT is given leading prompts, and a word filter is run on what "
      "it writes and on news that reports violence — then judged, beside a trained classifier, on sentences "
      "labelled by what they do. The first tab is LM Lab's addition, **robustness** (鲁棒性): a model that a few "
      "small, deliberate changes can fool cannot be trusted with decisions. There a classifier is attacked with "
      "typing mistakes in the words its answer leans on most (found by removing each word once), on held-out texts "
      "it never saw in training.")
)
classifiers, generation = st.tabs([_("Classifiers: typing mistakes"), _("Generation: leading prompts and a filter")])
with classifiers:
    robustness.panel()
with generation:
    robustness.generation_panel()
    robustness.judged_panel()
