"""Inspect → Patch: activation patching — copy one vector of a clean run into a corrupted run and see how much of
the clean answer comes back, for every position after every layer."""

import streamlit as st

from ui import patch
from ui.i18n import _
from ui.runtime import through_router

through_router()

st.title(_("Activation patching: where the difference lives"))
st.markdown(
    _("Two texts that differ in one word get two different answers. Run the second (corrupted) text again, but "
      "copy one vector of the first (clean) run into it — the hidden state at one position, after one layer (for a GPT, the residual stream) — "
      "and see how much of the clean answer's lead comes back. The grid does that for every position after every "
      "layer, with hooks on the real model: it shows where one vector alone is enough to restore the answer, and "
      "how that place moves from the changed word to where the answer is read.")
)
patch.page()
