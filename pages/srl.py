"""Apply → Semantic roles: who did what to whom, when and where — one frame per predicate."""

import streamlit as st

from ui import jobs, models, scenario, srl
from ui.runtime import through_router

through_router()

st.title("Semantic role labeling")
st.markdown(
    "For each verb (the **predicate**), semantic role labeling finds its frame: who acted (**ARG0**), on what "
    "(**ARG1**), to whom (**ARG2** here: the recipient of give, send, sell…; PropBank's ARG2 differs from verb to verb), and when, where, how and why (**ARGM-…**), in PropBank's labels. The "
    "default model is the packaged MiniLM fine-tuned here as a token classifier on sentences LM Lab generates with "
    "exact gold roles — a classroom model, measured below on constructions it never saw."
)
spec = models.picker("srl", key="srl-model", default="srl-minilm")
ready = scenario.ensure_ready(spec, fallback="the examples once it is ready")
if spec.trained_here:
    jobs.panel(spec.key, title=spec.title)
if "srl-text" not in st.session_state:
    st.session_state["srl-text"] = st.query_params.get("text", srl.EXAMPLES[0])
st.pills(
    "Examples",
    srl.EXAMPLES,
    key="srl-example",
    on_change=scenario.copy_example,
    args=("srl-example", "srl-text"),
)
text = st.text_area("Sentence", key="srl-text", height=80)
predicates = srl.predicate_choice(text)
if st.button("Label roles", key="srl-run", type="primary", disabled=not ready):
    if not predicates:
        st.error("Choose at least one predicate (a verb of the sentence) — or enter a sentence first.")
    else:
        srl.label(spec, text, predicates)
srl.show(spec)
if ready:
    srl.quality(spec)
