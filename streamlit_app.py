"""LM Lab's router: page config, the page list in sections, and nothing else."""

import streamlit as st

from ui.runtime import boot, favicon, run_page, sidebar_status

st.set_page_config(page_title="LM Lab", page_icon=favicon(), layout="wide")
boot()  # online/offline decided before any page can import transformers

pages = {
    "LM Lab": [
        st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    ],
    "Learn": [
        st.Page(
            "pages/self_attention.py",
            title="Self-attention",
            icon=":material/visibility:",
        ),
        st.Page(
            "pages/multi_head.py",
            title="Multi-head attention",
            icon=":material/grid_view:",
        ),
        st.Page(
            "pages/positional_encoding.py",
            title="Positional encoding",
            icon=":material/timeline:",
        ),
        st.Page(
            "pages/encoder_decoder.py",
            title="Encoder and decoder",
            icon=":material/swap_horiz:",
        ),
    ],
    "Train": [
        st.Page("pages/train.py", title="Train a classifier", icon=":material/model_training:"),
    ],
    "Evaluate": [
        st.Page("pages/evaluate.py", title="Benchmark", icon=":material/leaderboard:"),
    ],
    "Inspect": [
        st.Page("pages/inspect_attention.py", title="Attention", icon=":material/hub:"),
    ],
    "Apply": [
        st.Page(
            "pages/sentiment.py",
            title="Sentiment",
            icon=":material/sentiment_satisfied:",
        ),
        st.Page("pages/topic.py", title="Topic", icon=":material/topic:"),
        st.Page("pages/summarize.py", title="Summarize", icon=":material/summarize:"),
        st.Page("pages/translate.py", title="Translate", icon=":material/translate:"),
        st.Page("pages/srl.py", title="Semantic roles", icon=":material/account_tree:"),
        st.Page("pages/generate.py", title="Generate", icon=":material/edit_note:"),
    ],
}
sidebar_status()
run_page(st.navigation(pages))
