"""Apply → Topic: which subject is a text about — with a trained classifier or zero-shot with your labels."""

import streamlit as st

from core import catalog
from ui import scenario, topic
from ui.runtime import through_router

through_router()

st.title("Topic classification")
st.markdown(
    "Text classification sorts a text into one of a fixed set of classes. A **trained** classifier learned its "
    "classes from labelled examples; **zero-shot** classification takes classes you type now and compares "
    "meanings, with no training on them at all."
)
mode = st.segmented_control("Mode", ["Trained classifier", "Zero-shot (your labels)"], default="Trained classifier",
                            key="topic-mode", required=True)  # fmt: skip
text = scenario.text_box("topic", topic.EXAMPLES, label="Your text", height=120)

if mode == "Trained classifier":
    spec, ready = scenario.model_header("topic", "topic", default="topic-minilm", fallback="the zero-shot mode")
    st.caption("The newsgroup models know two topics: atheism and space.")
    if st.button("Classify", key="topic-run", type="primary", disabled=not ready):
        topic.classify(spec, text)
else:
    left, right = st.columns([2, 1])
    labels = left.text_input(
        "Candidate labels, comma-separated (2 to 12, each up to 60 characters)",
        "space, religion, sports, politics",
        key="topic-labels",
        max_chars=1000,
    )
    template = right.text_input(
        "Label template", "This text is about {label}.", key="topic-template", max_chars=200,
        help="Must contain {label} once; no other braces.",
    )  # fmt: skip
    method = topic.zero_shot_method()
    blocked = method == "nli" and not catalog.availability(catalog.BART_MNLI).ready
    clicked = st.button("Classify", key="topic-zs-run", type="primary", disabled=blocked)
    with st.container(key="topic-answer"):
        topic.zero_shot(text, labels, template, method, clicked=clicked)
