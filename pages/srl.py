"""Apply → Semantic roles: who did what to whom, when and where — one frame per predicate."""

import streamlit as st

from ui import article, scenario, srl
from ui.i18n import N_, _
from ui.runtime import through_router

through_router()

st.title(_("Semantic role labeling"))
st.markdown(
    _("For each verb (the **predicate**), semantic role labeling finds its frame: who acted (**ARG0**), on what "
      "(**ARG1**), to whom (**ARG2** here: the recipient of give, send, sell…; PropBank's ARG2 differs from verb to "
      "verb), and when, where, how and why (**ARGM-…**), in PropBank's labels. The default model is the packaged "
      "MiniLM fine-tuned here as a token classifier on sentences LM Lab generates with exact gold roles — a "
      "classroom model, measured below on constructions it never saw.")
)
spec, ready = scenario.model_header("srl", "srl", default="srl-minilm", fallback=N_("the examples once it is ready"))
text = scenario.text_box("srl", srl.EXAMPLES, label=_("Sentence"))
predicates = srl.predicate_choice(text)
if st.button(_("Label roles"), key="srl-run", type="primary", disabled=not ready):
    if not predicates:
        st.error(_("Choose at least one predicate (a verb of the sentence) — or enter a sentence first."))
    else:
        srl.label(spec, text, predicates)
srl.show(spec)
if ready:
    srl.quality(spec)
article.erratum("srl")
