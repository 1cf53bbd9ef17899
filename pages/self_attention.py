"""Learn → Self-attention, step by step: tokens → vectors → Q, K, V → scores → softmax → weighted sum."""

import streamlit as st

from core.errors import CoreError
from core.viz import heatmaps
from ui import i18n, language, learn, render, safe
from ui.i18n import N_, _
from ui.runtime import through_router

through_router()

st.title(_("Self-attention, step by step"))
st.markdown(
    _("Each token asks a question (its **query**), offers a label (its **key**) and carries content (its "
      "**value**). A token's new vector is a mix of every value, weighted by how well its query matches "
      "each key. Here is one attention head doing exactly that, stage by stage.")
)
st.latex(r"\mathrm{Attention}(Q,K,V)=\mathrm{softmax}\!\left(\frac{QK^\top}{\sqrt{d_k}}\right)V")

REAL, TOY = N_("A sentence through a real head (MiniLM or the Chinese BERT)"), N_("A toy example")
mode = st.segmented_control(_("Input"), [REAL, TOY], default=REAL, key="attn-mode", required=True,
                            format_func=i18n.labels([REAL, TOY]))
causal = st.toggle(
    _("Causal mask (each token sees only itself and earlier tokens, as in a decoder)"), key="attn-causal"
)
try:
    if mode == TOY:
        left, middle, right = st.columns(3)
        words = st.text_input(_("Words"), "the cat sat on the mat", key="attn-words")
        d_model = left.select_slider("d_model", [4, 8, 16, 32], value=8, key="attn-dmodel")
        d_k = middle.select_slider("d_k", [2, 4, 8, 16], value=4, key="attn-dk")
        seed = right.number_input(_("seed"), 0, 9999, 0, key="attn-seed")
        steps = learn.toy_steps(words, d_model, d_k, causal, int(seed))
    else:
        spec = learn.encoder_choice("attn", "attn-text", fallback=N_("the toy example, or MiniLM"))
        if spec is None:
            st.stop()
        layers, heads, _width = learn.shape(spec)
        text = st.text_input(_("Sentence"), key="attn-text")
        left, right = st.columns(2)
        layer = learn.pick(left, _("Layer"), layers, "attn-layer")
        head = learn.pick(right, _("Head"), heads, "attn-head")
        language.warn_text(text, spec.languages, i18n.title(spec), learn.encoders())
        steps = learn.head_steps(text, layer, head, causal, spec)
        st.caption(_("The embeddings and the head's weights are read from the model's weight file; the layers below "
                     "the chosen one are computed by LM Lab's own BERT code (shown at the bottom), not by transformers. "
                     "The test suite checks what enters every layer against transformers' hidden states."))
        if layer > 0:
            st.caption(_("X is what enters layer {layer}: the output of the layers below, which already mixed every "
                         "token of the sentence (only layer 0 reads the embeddings themselves).", layer=layer))
        if causal and layer > 0:
            st.caption(_("The causal mask here hides later tokens from this one head only: its input already carries "
                         "them through the layers below, so this is not yet a decoder. Layer 0 or the toy example "
                         "shows a truly causal computation."))
except (CoreError, ValueError) as error:
    safe.error(error)
    st.stop()

tokens = steps.tokens
small = steps.d_k <= 8 and len(tokens) <= 12
st.caption(_("{source} · {count} tokens · d_k = {d_k}", source=_(steps.source), count=len(tokens), d_k=steps.d_k))
st.subheader(_("1 · Tokens → vectors"))
render.figure(
    heatmaps.heatmap(
        steps.x, title=_("X: one vector per token"), y_labels=tokens, x_title=_("dimension"), colorscale="RdBu"
    ),
    key="attn-x",
)
st.subheader(_("2 · Queries, keys, values"))
if steps.rotated:
    st.caption(_("This model is a RoFormer: BERT's layers with rotary position embeddings (RoPE, on the Positional "
                 "encoding page). Its embeddings carry no position. Instead RoPE turns each pair of coordinates of a "
                 "query at position m and of a key at position n by m·ωᵢ and n·ωᵢ, so the turn brings position into a "
                 "score only through the signed offset m − n. From layer 1 on, X has already mixed in its neighbours "
                 "and can carry position of its own. Q and K below are after the turn; V is not turned."))  # fmt: skip
rope = "RoPE({})" if steps.rotated else "{}"
columns = st.columns(3)
for column, (name, matrix) in zip(
    columns, (("Q = " + rope.format("X W_Q + b_Q"), steps.q), ("K = " + rope.format("X W_K + b_K"), steps.k),
              ("V = X W_V + b_V", steps.v)), strict=True  # fmt: skip
):
    with column:
        render.figure(
            heatmaps.heatmap(
                matrix, title=name, y_labels=tokens, x_title="d_k", colorscale="RdBu", text_values=small
            ),
            key=f"attn-{name[0]}",
        )
st.subheader(_("3 · Scores: how well each query matches each key"))
render.figure(
    heatmaps.heatmap(steps.scores, title=_("Q Kᵀ / √d_k  (blank = masked, −∞)"), x_labels=tokens, y_labels=tokens,
                     x_title=_("key"), y_title=_("query"), colorscale="RdBu", text_values=len(tokens) <= 12),
    key="attn-scores",
)  # fmt: skip
st.subheader(_("4 · Softmax: each row becomes weights that sum to 1"))
render.figure(
    heatmaps.heatmap(steps.weights, title=_("attention weights"), x_labels=tokens, y_labels=tokens, x_title=_("key"),
                     y_title=_("query"), zmin=0, zmax=1, text_values=len(tokens) <= 12),
    key="attn-weights",
)  # fmt: skip
st.caption(_("Row sums: min {low}, max {high}.", low=f"{steps.weights.sum(axis=1).min():.6f}",
             high=f"{steps.weights.sum(axis=1).max():.6f}"))  # fmt: skip
st.subheader(_("5 · Weighted sum of the values"))
render.figure(
    heatmaps.heatmap(steps.output, title=_("output = weights · V"), y_labels=tokens, x_title="d_k", colorscale="RdBu",
                     text_values=small),
    key="attn-output",
)  # fmt: skip
st.metric(
    _("Max |ours − torch.nn.functional.scaled_dot_product_attention|"), f"{steps.diff_vs_torch:.1e}",
    help=_("The same Q, K, V (and mask) through PyTorch's own attention."),
)  # fmt: skip

st.header(_("Why divide by √d_k?"))
st.markdown(
    _("If the entries of q and k have variance 1, their dot product has variance d_k. Without scaling, "
      "scores grow with the head size, the softmax saturates — one key takes almost all the weight — and "
      "its gradients vanish. Dividing by √d_k brings the variance back to 1.")
)
n_keys = st.slider(_("Number of keys"), 4, 128, 32, key="attn-nkeys")
demo = learn.scaling((1, 2, 4, 8, 16, 32, 64, 128, 256, 512), n_keys)
left, right = st.columns(2)
with left:
    render.figure(
        heatmaps.lines(demo["d_k"], {_("scaled by √d_k"): demo["entropy scaled"], _("unscaled"): demo["entropy unscaled"],
                                     _("uniform (log n)"): demo["uniform entropy"]},
                       title=_("Softmax entropy (nats)"), x_title="d_k", y_title=_("entropy"), log_x=True),
        key="attn-entropy",
    )  # fmt: skip
with right:
    render.figure(
        heatmaps.lines(demo["d_k"], {_("scaled by √d_k"): demo["top weight scaled"], _("unscaled"): demo["top weight unscaled"]},
                       title=_("Largest weight in a row"), x_title="d_k", y_title=_("weight"), log_x=True),
        key="attn-top",
    )  # fmt: skip
with st.expander(_("The code that computed this"), icon=":material/code:"):
    st.code(learn.source_of("scaled_dot_product_attention"), language="python")
    if mode == REAL:
        st.caption(_("One BERT layer, as the sentence's vectors pass through the layers below the chosen one:"))
        st.code(learn.source_of("bert_weights.encoder_layer"), language="python")
        if steps.rotated:
            st.caption(_("The turn of the queries and keys (RoPE):"))
            st.code(learn.source_of("rope_heads"), language="python")
