"""Apply → Translate: English to Chinese and back with encoder-decoders trained here, cross-attention drawn."""

import streamlit as st

from ui import i18n, scenario, translate
from ui.i18n import N_, _
from ui.runtime import through_router

through_router()

st.title(_("Machine translation"))
st.markdown(
    _("The article's encoder-decoder made real: the **encoder** reads the source sentence, the **decoder** writes "
      "the translation token by token, and at every step its **cross-attention** looks back at the source. The "
      "default models are small classroom models LM Lab trains itself, one per direction, on sentences it generates "
      "from a grammar with the hard parts of English and Chinese: word order, measure words, tense and plural "
      "marking, questions and negation.")
)
task, default, examples, label = translate.DIRECTIONS[translate.direction()]
spec, ready = scenario.model_header(task, "translate", default=default, fallback=N_("the examples once it is ready"))
text = scenario.text_box("translate", examples, label=_(label))
left, right = st.columns([1, 2])
GREEDY, BEAM = N_("Greedy"), N_("Beam search")
decoding = left.segmented_control(_("Decoding"), [GREEDY, BEAM], default=GREEDY, key="translate-decoding",
                                  required=True, format_func=i18n.labels([GREEDY, BEAM]))  # fmt: skip
beams = 1
if decoding == BEAM:
    beams = right.slider(_("Beams"), 2, 8, 4, key="translate-beams",
                         help=_("Keep the n best partial translations at each step instead of only the best one."))  # fmt: skip
if st.button(_("Translate"), key="translate-run", type="primary", disabled=not ready):
    translate.translate(spec, text, beams)
with st.container(key="translate-answer"):
    translate.show(spec)
if ready:
    translate.held_out(spec)
translate.grammar_rules()
