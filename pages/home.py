"""Home: what LM Lab is, where it runs, which models it has."""

import streamlit as st

from ui import home
from ui.i18n import _
from ui.runtime import through_router

through_router()  # before anything is drawn

st.title("LM Lab")
st.markdown(
    _("See, run, train and measure Transformer language models — in your browser, on your own "
      "machine, with or without internet.")
    + "\n\n"
    + _("A language model assigns probabilities to text. LM Lab lets you watch one at work on real "
        "tasks: every result comes from a real model that runs here, every number says how it was "
        "measured, and every neural model that is not downloaded is trained on this machine with the same "
        "Hugging Face `Trainer` you would use yourself.")
)
home.environment()
home.sections()
home.model_table()
