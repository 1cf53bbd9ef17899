"""Learn → Tokenization: the article's step 1, data preprocessing — the same text cut five ways, as a model gets it."""

import streamlit as st

from core.tasks.tokenization import MAX_CHARS
from ui import scenario, tokenization
from ui.i18n import _
from ui.runtime import through_router

through_router()

st.title(_("Tokenization"))
st.markdown(
    _("A model never reads text: the first step of every pipeline (数据预处理, data preprocessing) cuts it into "
      "**tokens** from a fixed vocabulary and hands the model their ids. What the vocabulary lacks is lost "
      "(**[UNK]**, unknown) or spread over several tokens, and every token costs the model work: self-attention "
      "compares every token with every other, so twice the tokens is four times the attention scores (the rest of "
      "the model only doubles). Type a text and see it cut five ways; the highlighted chips are what the way does "
      "not know.")
)  # fmt: skip
text = scenario.text_box("tokenization", tokenization.EXAMPLES, label=_("Text"), max_chars=MAX_CHARS,
                         help=_("Up to {most} characters.", most=f"{MAX_CHARS:,}"))  # fmt: skip
with st.container(key="tokenization-answer"):  # a stable hook for checks of the answer (the classroom test)
    tokenization.show(text)
tokenization.coverage()
tokenization.probe()
