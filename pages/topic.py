"""Apply → Topic: which subject is a text about — with a trained classifier or zero-shot with your labels."""

import streamlit as st

from core import catalog
from ui import i18n, scenario, topic
from ui.i18n import N_, _
from ui.runtime import through_router

through_router()

st.title(_("Topic classification"))
st.markdown(
    _("Text classification sorts a text into one of a fixed set of classes. A **trained** classifier learned its "
      "classes from labelled examples; **zero-shot** classification takes classes you type now and compares "
      "meanings, with no training on them at all.")
)
TRAINED, ZERO_SHOT = N_("Trained classifier"), N_("Zero-shot (your labels)")
mode = st.segmented_control(_("Mode"), [TRAINED, ZERO_SHOT], default=TRAINED, key="topic-mode", required=True,
                            format_func=i18n.labels([TRAINED, ZERO_SHOT]))  # fmt: skip
text = scenario.text_box("topic", topic.EXAMPLES, label=_("Your text"), height=120)

if mode == TRAINED:
    spec, ready = scenario.model_header("topic", "topic", default="topic-minilm", fallback=N_("the zero-shot mode"))
    st.caption(_("The newsgroup models know two topics: atheism and space."))
    if st.button(_("Classify"), key="topic-run", type="primary", disabled=not ready):
        topic.classify(spec, text)
else:
    left, right = st.columns([2, 1])
    labels = left.text_input(
        topic.labels_prompt(),
        "space, religion, sports, politics",
        key="topic-labels",
        max_chars=1000,
    )
    template = right.text_input(
        _("Label template"), "This text is about {label}.", key="topic-template", max_chars=200,
        help=_("Must contain {label} once; no other braces."),
    )  # fmt: skip
    method = topic.zero_shot_method()
    blocked = method == "nli" and not catalog.availability(catalog.BART_MNLI).ready
    clicked = st.button(_("Classify"), key="topic-zs-run", type="primary", disabled=blocked)
    with st.container(key="topic-answer"):
        topic.zero_shot(text, labels, template, method, clicked=clicked)
