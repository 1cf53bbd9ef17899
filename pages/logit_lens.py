"""Inspect → Layers: the logit lens on every causal language model LM Lab has."""

import streamlit as st

from ui import i18n, language, lens
from ui.i18n import _
from ui.runtime import through_router

through_router()

st.title(_("Layers: the logit lens"))
st.markdown(
    _("A GPT (the article's decoder) turns its input into one vector per token and lets every block add to it; only "
      "at the very end does the final layer norm and the output matrix turn that vector into a probability for "
      "every token of the vocabulary. The **logit lens** applies that same ending after every block, so you can "
      "watch the prediction form layer by layer. The Chinese BERT pretrained here is in the list too, read with its "
      "masked-language-model head; MiniLM is not: it ships without that head, so there is nothing to decode its "
      "layers with.")
)
spec = lens.pick_model(masked=True)
text = st.text_input(_("Text"), key="lens-text", help=lens.limits())
if spec is not None:
    language.warn_text(text, spec.languages, i18n.title(spec), lens.candidates(masked=True))
    if st.button(_("Read the layers"), key="lens-run", type="primary"):
        lens.run(spec, text)
    with st.container(key="lens-answer"):
        lens.show(spec)
