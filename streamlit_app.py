"""LM Lab's router: page config, the page list in sections, and nothing else."""

import streamlit as st

from ui.runtime import boot, sidebar_status

st.set_page_config(page_title="LM Lab", page_icon=":material/neurology:", layout="wide")
boot()  # online/offline decided before any page can import transformers

pages = {
    "LM Lab": [
        st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    ],
    "Apply": [
        st.Page(
            "pages/sentiment.py",
            title="Sentiment",
            icon=":material/sentiment_satisfied:",
            url_path="sentiment",
        ),
    ],
}
sidebar_status()
st.navigation(pages).run()
