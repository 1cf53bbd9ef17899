"""Learn → Multi-head attention: a real MiniLM (or Chinese BERT) layer split into its heads, recomputed by our code."""

import pandas as pd
import streamlit as st

from core.errors import CoreError
from core.viz import heatmaps
from ui import i18n, language, learn, render, safe
from ui.i18n import N_, _
from ui.runtime import through_router

through_router()

st.title(_("Multi-head attention"))
st.markdown(
    _("One head can look for one kind of relation. A layer runs several heads side by side, each with its "
      "own W_Q, W_K, W_V of size d_model × d_k (d_k = d_model / h), concatenates what they found and mixes it "
      "with W_O. Below: one layer of the packaged MiniLM (d_model = 384, h = 12, d_k = 32) or of the Chinese BERT "
      "pretrained here (d_model = 128, h = 4, d_k = 32), recomputed by LM Lab's own code from the layer's real "
      "weights, and further down compared with Hugging Face's result.")
)
st.latex(r"\mathrm{MultiHead}(Q,K,V)=\mathrm{Concat}(\mathrm{head}_1,\dots,\mathrm{head}_h)\,W^O,\quad"
         r"\mathrm{head}_i=\mathrm{Attention}(QW_i^Q,\,KW_i^K,\,VW_i^V)")  # fmt: skip

spec = learn.encoder_choice("mha", "mha-text", fallback=N_("the MiniLM encoder"))
if spec is None:
    st.stop()
try:
    layers, heads, width = learn.shape(spec)
except CoreError as error:
    safe.error(error)
    st.stop()
text = st.text_input(_("Sentence"), key="mha-text")
layer = learn.pick(st, _("Layer"), layers, "mha-layer", default=2)
language.warn_text(text, spec.languages, i18n.title(spec), learn.encoders())
try:
    report = learn.layer_report(text, layer, spec)
except (CoreError, ValueError) as error:
    safe.error(error)
    st.stop()

render.figure(
    heatmaps.head_grid(report.ours, report.tokens, title=_("Layer {layer}: the {heads} heads", layer=layer, heads=heads),
                       titles=[_("head {number}", number=h) for h in range(heads)]), key="mha-grid"
)  # fmt: skip

if report.rotary:
    st.caption(_("This model is a RoFormer: before the scores, every head turns its queries and keys by their "
                 "positions (RoPE, on the Positional encoding page). Our recomputation does the same "
                 "(MultiHeadAttention.forward, in the code further down the page)."))  # fmt: skip
st.subheader(_("How the heads differ"))
stats = pd.DataFrame(report.stats)
metric = st.selectbox(_("Statistic"), list(report.stats), key="mha-stat", format_func=i18n.labels(report.stats))
render.figure(heatmaps.bars([_("head {number}", number=h) for h in range(len(stats))], stats[metric].to_numpy(),
                            title=_(metric), y_title=_(metric)), key="mha-bars")  # fmt: skip
stats = stats.rename(columns=_)
stats.insert(0, _("head"), range(len(stats)))
safe.table(stats.round(3), decimals=3, hide_index=True, key="mha-table")
st.caption(
    _("Entropy near 0: a head that looks at one token; near log T: a head that spreads evenly. Mean distance: "
      "how far, in tokens, a head looks. Heads that pour weight on [CLS] or [SEP] often use them as a 'no-op' "
      "place to park attention when nothing relevant is found.")
)

st.subheader(_("One head, enlarged"))
head = st.slider(_("Head"), 0, report.ours.shape[0] - 1, 0, key="mha-head")
render.figure(
    heatmaps.heatmap(report.ours[head], title=_("Layer {layer}, head {head}", layer=layer, head=head),
                     x_labels=report.tokens, y_labels=report.tokens, x_title=_("key"), y_title=_("query"), zmin=0,
                     zmax=1),
    key="mha-one",
)  # fmt: skip
st.subheader(_("Concat and W_O"))
d_k = report.head_outputs.shape[-1]
st.markdown(
    _("Each head returns a {rows} × {columns} matrix; the {heads} are placed side by side into {rows} × "
      "{all_columns}, and W_O ({width} × {width}) lets every output dimension draw on every head.",
      rows=len(report.tokens), columns=d_k, heads=heads, all_columns=heads * d_k, width=width)
)  # fmt: skip
concat = report.head_outputs.transpose(1, 0, 2).reshape(len(report.tokens), -1)
render.figure(
    heatmaps.heatmap(concat, title=_("Concat(head_0, …, head_{last}): {d_k} columns per head, side by side",
                                     last=heads - 1, d_k=d_k),
                     y_labels=report.tokens, x_title=_("dimension (head h owns {d_k}h … {d_k}h+{last})", d_k=d_k,
                                                       last=d_k - 1), colorscale="RdBu"),
    key="mha-concat",
)  # fmt: skip
with st.expander(_("The code that computed this"), icon=":material/code:"):
    st.code(learn.source_of("MultiHeadAttention.forward"), language="python")
st.subheader(_("Checked against Hugging Face"))
st.caption(_("Everything above was computed by LM Lab's own code from the weight file. Here transformers runs the "
             "same sentence through the same layer, and the two are compared."))  # fmt: skip
try:
    agreement = learn.layer_check(report, text, spec)
except (CoreError, ValueError) as error:
    safe.error(error)
else:
    left, right = st.columns(2)
    left.metric(_("Max |ours − Hugging Face|, attention probabilities"), f"{agreement.weights_diff:.1e}")
    right.metric(_("Max |ours − Hugging Face|, attention block output"), f"{agreement.output_diff:.1e}",
                 help=_("After W_O, the residual connection and LayerNorm (the output of transformers' BertAttention, or "
                        "RoFormerAttention for the Chinese BERT)."))  # fmt: skip
    if agreement.precision != "float32":
        st.caption(_("LM Lab serves this model in {precision}, and Hugging Face's side computes in it while ours "
                     "computes in float32 from the weight file. bfloat16 keeps only 2 to 3 significant digits and "
                     "float16 about 3, so absolute differences up to a few hundredths are expected here; far larger ones would be a "
                     "mistake.", precision=agreement.precision))  # fmt: skip
st.subheader(_("Checked against PyTorch"))
learn.verification_table(learn.checked())
