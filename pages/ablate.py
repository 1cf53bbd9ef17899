"""Inspect → Ablate: switch heads and MLPs of a GPT, a classifier or a translation model off with hooks on the real
model, and see what it costs."""

import streamlit as st

from ui import ablate, ablate_classifier, ablate_translation, i18n, language, lens
from ui.i18n import N_, _
from ui.runtime import through_router

through_router()

st.title(_("Ablation: switch parts of the model off"))
st.markdown(
    _("Which parts of a Transformer does a prediction depend on? Switch attention heads (their output zeroed "
      "before W_O, or replaced by its mean on held-out text) or whole MLPs off, with hooks on the real model, and see what changes — a language model's "
      "probability of each token and its perplexity, a classifier's answer and accuracy, a translation and its chrF; "
      "then rank every head by what switching it off alone costs on held-out data.")
)
# One kind of model at a time: a sweep in progress (its bar waits for the shared run) holds up only its own section.
KINDS = {"lm": N_("A language model"), "classifier": N_("A classifier"), "translation": N_("A translation model")}
st.session_state.setdefault("ablate-kind", "lm")
kind = st.segmented_control(_("Model"), list(KINDS), key="ablate-kind", required=True,
                            format_func=lambda name: _(KINDS[name]))  # fmt: skip
if kind == "lm":
    spec = lens.pick_model("ablate")
    text = st.text_input(_("Text"), key="ablate-text")
    if spec is not None:
        language.warn_text(text, spec.languages, i18n.title(spec), lens.candidates())
        chosen = ablate.choices(spec)
        if chosen is not None:
            if st.button(_("Run with these switched off"), key="ablate-run", type="primary"):
                ablate.run(spec, text, *chosen)
            with st.container(key="ablate-answer"):
                ablate.show(spec)
            st.subheader(_("Every head, ranked"))
            ablate.sweep(spec)
elif kind == "classifier":
    st.header(_("A classifier's heads"))
    st.markdown(
        _("The same switches on a classifier — the sentiment and topic models trained here, the Chinese ones, the "
          "Hub's when online: its class probabilities for your text with and without the chosen heads and MLPs and, "
          "for a model trained here, its accuracy on the held-out texts of its data both ways, and every head ranked "
          "by the accuracy it costs.")
    )
    ablate_classifier.section()
else:
    st.header(_("A translation model's heads"))
    st.markdown(
        _("An encoder-decoder has three kinds of attention: the encoder's self-attention reads the source, the "
          "decoder's self-attention reads what it has written so far, and cross-attention is where the decoder reads "
          "the source. Switch any of their heads (or either stack's MLPs) off and see the translation change and, for "
          "the models trained here, their chrF on held-out sentence pairs; then rank every head.")
    )
    ablate_translation.section()
