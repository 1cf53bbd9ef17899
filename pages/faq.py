"""Challenges → FAQ: the article's five questions, answered with LM Lab's own measurements."""

import streamlit as st

from ui import faq
from ui.i18n import _
from ui.runtime import through_router

through_router()

st.title(_("FAQ: the article's questions, measured"))
st.markdown(
    _("The article ends with five questions (附录：常见问题与解答) and answers each in a sentence or two. Here each "
      "answer is followed by what LM Lab measured on this machine — read from the model cards of what was trained "
      "here, so it grows as the class trains models — and a link to the page that shows it live.")
)
faq.page()
