"""Challenges → Compute (计算资源): what a Transformer costs to run and to train, counted and measured here."""

import streamlit as st

from ui import compute
from ui.i18n import _
from ui.runtime import through_router

through_router()

st.title(_("Compute: what a model costs"))
st.markdown(
    _("The article names **compute** (计算资源) as a challenge of large models. Here it is counted and measured: the "
      "parameters of any model LM Lab has (or of a size you type), the floating-point operations per token, the memory "
      "to serve and to train it, this machine's own matrix throughput, and what training the article's models would "
      "take on it.")
)
shape = compute.pick_shape()
if shape is not None:
    compute.show_counts(shape)
st.subheader(_("This machine, measured"))
throughput = compute.measure_panel()
if throughput is not None:
    st.subheader(_("Runs trained here: predicted vs measured"))
    compute.show_runs(throughput)
    st.subheader(_("The article's models, on this machine"))
    compute.show_extrapolation(throughput)
compute.code()
