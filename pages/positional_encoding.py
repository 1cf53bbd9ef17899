"""Learn → Positional encoding: the paper's sinusoids, the article's formula, BERT's learned table, RoPE."""

import numpy as np
import streamlit as st

from core.errors import CoreError
from core.transformer import positional as pe
from core.viz import heatmaps
from ui import i18n, learn, render, safe
from ui.i18n import _
from ui.runtime import through_router

through_router()

st.title(_("Positional encoding"))
st.markdown(
    _("Attention alone cannot tell 'dog bites man' from 'man bites dog': without a causal mask it treats the "
      "tokens as a set (permute the input and the output is permuted the same way). A "
      "positional encoding adds a position-dependent vector to each token. The original Transformer uses "
      "sines and cosines of geometrically spaced frequencies, interleaved:")
)
st.latex(r"PE_{(pos,2i)}=\sin\!\left(\frac{pos}{\text{base}^{2i/d_{model}}}\right),\qquad "
         r"PE_{(pos,2i+1)}=\cos\!\left(\frac{pos}{\text{base}^{2i/d_{model}}}\right)")  # fmt: skip
st.warning(
    _("The article this app is built from gives PE(i, j) = sin(i / 10000^(2j/d)) + cos(i / 10000^(2j/d)) for "
      "every dimension j. That is not the paper's formula: it adds sine and cosine in every dimension instead "
      "of putting them in alternate dimensions. The cost is shown below — the shift by k positions is no longer "
      "one fixed linear map for every position, which is the property that lets attention find relative "
      "positions easily."),
    icon=":material/report:",
)
left, middle, right = st.columns(3)
d_model = left.select_slider("d_model", [8, 16, 32, 64, 128, 256, 384, 512], value=64, key="pe-dmodel")
length = middle.slider(_("positions"), 8, 512, 100, key="pe-length")
base = right.select_slider(_("base"), [10, 100, 1_000, 10_000, 100_000], value=10_000, key="pe-base")

paper = pe.sinusoidal(length, d_model, base)
variant = pe.article_variant(length, d_model, base)
left, right = st.columns(2)
with left:
    render.figure(heatmaps.heatmap(paper, title=_("Paper: sin / cos interleaved"), x_title=_("dimension"),
                                   y_title=_("position"), colorscale="RdBu", zmin=-1.5, zmax=1.5, height=420), key="pe-paper")  # fmt: skip
with right:
    render.figure(heatmaps.heatmap(variant, title=_("Article: sin + cos in every dimension"), x_title=_("dimension"),
                                   y_title=_("position"), colorscale="RdBu", zmin=-1.5, zmax=1.5, height=420), key="pe-variant")  # fmt: skip

st.subheader(_("Each dimension is a wave"))
chosen = st.multiselect(_("Dimensions"), list(range(d_model)), default=[0, 1, min(6, d_model - 1), min(7, d_model - 1)],
                        placeholder=_("Choose options"), key="pe-dims")  # fmt: skip
render.figure(
    heatmaps.lines(np.arange(length), {_("dim {number}", number=d): paper[:, d] for d in chosen},
                   title=_("Paper's encoding, chosen dimensions"), x_title=_("position"), y_title=_("value")),
    key="pe-curves",
)  # fmt: skip

st.subheader(_("Similarity by distance"))
offsets, paper_sim = pe.similarity_by_offset(paper)
variant_sim = pe.similarity_by_offset(variant)[1]
render.figure(
    heatmaps.lines(offsets, {_("paper"): paper_sim, _("article variant"): variant_sim},
                   title=_("Mean PE(pos) · PE(pos + k)"), x_title=_("offset k"), y_title=_("dot product")),
    key="pe-offset",
)  # fmt: skip
first_rise = pe.first_visible_rise(offsets, paper_sim)
st.caption(
    i18n.sentences(_("Nearby positions are most alike."),
    (_("The fall is not monotonic here: for the paper's encoding the dot product first rises again after offset "
         "{offset} (the fastest waves come back into phase), while the slow waves keep the overall trend.",
         offset=first_rise)
       if first_rise is not None else _("At these settings the paper's curve falls all the way.")))
)  # fmt: skip

st.subheader(_("Relative positions: PE(pos + k) as a linear function of PE(pos)"))
k = st.slider(_("Shift k"), 1, min(50, length - 2), 3, key="pe-shift")
exact = np.abs(paper[k:] - paper[:-k] @ pe.shift_matrix(d_model, k, base).T).max()
n_fit = pe.fit_positions(d_model, length)
paper_fit = pe.best_linear_shift(pe.sinusoidal(n_fit + k, d_model, base), k)[1]
variant_fit = pe.best_linear_shift(pe.article_variant(n_fit + k, d_model, base), k)[1]
left, middle, right = st.columns(3)
left.metric(
    _("Paper, with the rotation M_k"), f"{exact:.1e}", help=_("max |PE(pos+k) − M_k PE(pos)| over the positions shown")
)
fit_help = _("Least squares over {count} positions; the worst error.", count=n_fit)
middle.metric(_("Paper, best single matrix"), f"{paper_fit:.1e}", help=fit_help)
right.metric(_("Article variant, best single matrix"), f"{variant_fit:.2f}", help=fit_help)
st.markdown(
    _("The best single matrix is fitted by least squares over {count} positions — at least twice d_model: with "
      "fewer positions than dimensions some matrix maps any sequence onto its shift exactly, which would prove "
      "nothing. For the paper's encoding, each (sin, cos) pair at frequency ω is rotated by the angle ω·k — one "
      "fixed rotation M_k for every position, at any d_model, so a layer can learn 'look k tokens back'. In the "
      "article's version each dimension is one wave √2·sin(ω_j·pos + π/4) with its own frequency; shifting it "
      "needs the matching cosine, which no other dimension holds, so no single matrix works for all positions.",
      count=n_fit)
)

st.subheader(_("BERT learns its positions instead"))
n_learned = min(length, 512)
try:
    learned = learn.learned_positions(n_learned)
except (CoreError, ValueError) as error:
    safe.error(error)
    learned = None
if learned is not None:
    left, right = st.columns(2)
    with left:
        render.figure(heatmaps.heatmap(pe.cosine_similarity(learned), title=_("MiniLM's learned positions (first {count})", count=n_learned),
                                       x_title=_("position"), y_title=_("position"), colorscale="Viridis", height=420), key="pe-learned")  # fmt: skip
    with right:
        render.figure(heatmaps.heatmap(pe.cosine_similarity(pe.sinusoidal(n_learned, 384)), title=_("Sinusoidal, d_model = 384"),
                                       x_title=_("position"), y_title=_("position"), colorscale="Viridis", height=420), key="pe-sinsim")  # fmt: skip
    learned_sim, sinusoid_sim = pe.cosine_similarity(learned), pe.cosine_similarity(pe.sinusoidal(n_learned, 384))
    offset = min(20, n_learned - 1)
    near = np.diagonal(learned_sim, offset=offset).mean(), np.diagonal(sinusoid_sim, offset=offset).mean()
    upper = np.triu_indices(n_learned, 1)
    agreement = np.corrcoef(learned_sim[upper], sinusoid_sim[upper])[0, 1]
    st.caption(
        _("Cosine similarity between positions. In both tables nearby positions are alike; the two similarity "
          "matrices correlate only moderately (r = {r}), and far apart they differ: at offset {offset} the "
          "mean cosine is {learned} for MiniLM and {sinusoids} for the sinusoids.", r=f"{agreement:.2f}", offset=offset,
          learned=f"{near[0]:.2f}", sinusoids=f"{near[1]:.2f}")
    )  # fmt: skip


st.subheader(_("Rotary position embedding (RoPE)"))
st.markdown(
    _("Modern decoders (LLaMA, Qwen, …) rotate queries and keys instead of adding a vector: the pair "
      "(x₂ᵢ, x₂ᵢ₊₁) at position m turns by m·ωᵢ (LM Lab and RoFormer pair neighbouring coordinates; Hugging "
      "Face's LLaMA and Qwen code pairs xᵢ with xᵢ₊d/2 — the same rotation, the coordinates in another order). "
      "A query at m and a key at n then meet at angle (m − n)·ωᵢ, so their dot product depends only on the "
      "signed offset m − n: the same for (10, 3) and (17, 10), but in general not the same for (10, 3) and "
      "(3, 10).")
)
st.caption(_("Two of LM Lab's own Chinese models use it too: the Chinese BERT (with the classifiers fine-tuned from "
             "it) and the word segmenter, both RoFormers. "
             "Measured here: with BERT's learned position table, the Chinese BERT's pretraining (one pass, a few "
             "CPU-minutes) stayed on the plateau of guessing the commonest characters everywhere — 4 % of held-out "
             "hidden characters right; with rotary positions the same pass got 10–17 % right (the runs measured here)."))  # fmt: skip
left, right = st.columns(2)
pair = left.slider(_("Pair i"), 0, d_model // 2 - 1, 0, key="pe-pair")
steps = right.slider(_("Positions shown"), 2, 16, 8, key="pe-rope-steps")
path = pe.rope_pair_path(d_model, pair, steps, base=base)
omega = pe.frequencies(d_model, base)[pair]
render.figure(heatmaps.rotation_plot(path, title=_("A query's pair {pair} at positions 0…{last}: turned by m·ω, ω = {omega}",
                                                   pair=pair, last=steps - 1, omega=f"{omega:.4g}")),
              key="pe-rope-pair")  # fmt: skip
scores, spread = pe.rope_scores(d_model, min(length, 64), base=base)
render.figure(heatmaps.heatmap(scores, title=_("⟨RoPE(q, m), RoPE(k, n)⟩ for one q and k"), x_title=_("key position n"),
                               y_title=_("query position m"), colorscale="RdBu", height=420), key="pe-rope")  # fmt: skip
st.metric(_("Largest spread along a diagonal (m − n fixed)"), f"{spread:.1e}")
with st.expander(_("The code that computed this"), icon=":material/code:"):
    st.code(learn.source_of("sinusoidal") + "\n\n" + learn.source_of("rope_rotate"), language="python")
