"""Learn → Encoder and decoder: masks, cross-attention and shapes, through LM Lab's own layers."""

import pandas as pd
import streamlit as st

from core.errors import CoreError
from core.viz import heatmaps
from ui import article, learn, render, safe
from ui.i18n import _
from ui.runtime import through_router

through_router()

st.title(_("Encoder and decoder"))
st.markdown(
    _("The **encoder** reads the whole source at once: every token may attend to every other (padding "
      "excepted). The **decoder** writes the output one token at a time: its self-attention is *causal* — "
      "position i sees only positions ≤ i, because during generation the later tokens do not exist yet — "
      "and its **cross-attention** lets each target position look at the encoder's output (queries from the "
      "decoder, keys and values from the encoder). BERT is an encoder only, GPT a decoder only (no "
      "cross-attention), the original Transformer, T5 and Marian translators use both.")
)
left, right = st.columns(2)
source = left.text_input(_("Source sentence"), "the cat sat on the mat", key="ed-source")
target = right.text_input(_("Target sentence"), "le chat était assis", key="ed-target")
a, b, c, d = st.columns(4)
d_model = a.select_slider("d_model", [8, 16, 32, 64], value=16, key="ed-dmodel")
n_heads = b.select_slider(_("heads"), [1, 2, 4], value=2, key="ed-heads")
n_pad = c.slider(_("padding tokens"), 0, 4, 2, key="ed-pad")
seed = d.number_input(_("seed"), 0, 9999, 0, key="ed-seed")
try:
    walk = learn.walkthrough(source, target, d_model, n_heads, n_pad, int(seed))
except (CoreError, ValueError) as error:
    safe.error(error)
    st.stop()

st.subheader(_("The masks"))
columns = st.columns(3)
masks = (
    (_("Encoder self-attention: padding hidden"), walk.encoder_mask, walk.source_tokens, walk.source_tokens),
    (_("Decoder self-attention: causal"), walk.causal_mask, walk.target_tokens, walk.target_tokens),
    (_("Cross-attention: target → source"), walk.cross_mask, walk.source_tokens, walk.target_tokens),
)
for index, (column, (title, mask, keys, queries)) in enumerate(zip(columns, masks, strict=True)):
    with column:
        render.figure(
            heatmaps.heatmap(mask.astype(float), title=title, x_labels=keys, y_labels=queries, x_title=_("key"),
                             y_title=_("query"), zmin=0, zmax=1, colorscale="Greys", height=360),
            key=f"ed-mask-{index}",
        )  # fmt: skip
st.caption(_("Dark = may attend, white = masked (its score is set to −∞ before the softmax)."))

st.subheader(_("Attention weights (head 0)"))
columns = st.columns(3)
weights = (
    (_("Encoder self-attention"), walk.encoder_weights[0], walk.source_tokens, walk.source_tokens),
    (_("Decoder self-attention"), walk.decoder_weights[0], walk.target_tokens, walk.target_tokens),
    (_("Cross-attention"), walk.cross_weights[0], walk.source_tokens, walk.target_tokens),
)
for index, (column, (title, matrix, keys, queries)) in enumerate(zip(columns, weights, strict=True)):
    with column:
        render.figure(
            heatmaps.heatmap(matrix, title=title, x_labels=keys, y_labels=queries, x_title=_("key"), y_title=_("query"),
                             zmin=0, zmax=1, height=360),
            key=f"ed-weights-{index}",
        )  # fmt: skip
st.caption(
    _("The layers are randomly initialised, so the weights show the masks at work, not learned alignments.")
)

st.subheader(_("Shapes, step by step"))
safe.table(
    pd.DataFrame([{_("step"): _(name), _("shape"): " × ".join(map(str, shape))} for name, shape in walk.trace]),
    hide_index=True,
    key="ed-trace",
)
st.markdown(
    _("**Generation** repeats the decoder: feed `<bos>`, take the most likely next token, append it, run again. "
      "Thanks to the causal mask, training can score every position of a known target in one pass (teacher "
      "forcing).")
)
left, right = st.columns(2)
with left, st.expander("EncoderLayer.forward", icon=":material/code:"):
    st.code(learn.source_of("EncoderLayer.forward"), language="python")
with right, st.expander("DecoderLayer.forward", icon=":material/code:"):
    st.code(learn.source_of("DecoderLayer.forward"), language="python")
st.subheader(_("Checked against PyTorch"))
learn.verification_table(learn.checked())
article.erratum("decoder")
article.erratum("polarization")
