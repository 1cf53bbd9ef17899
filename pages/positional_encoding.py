"""Learn → Positional encoding: the paper's sinusoids, the article's formula, BERT's learned table, RoPE."""

import numpy as np
import streamlit as st

from core.transformer import positional as pe
from core.viz import heatmaps
from ui import learn, render
from ui.runtime import through_router

through_router()

st.title("Positional encoding")
st.markdown(
    "Attention alone cannot tell 'dog bites man' from 'man bites dog': without a causal mask it treats the "
    "tokens as a set (permute the input and the output is permuted the same way). A "
    "positional encoding adds a position-dependent vector to each token. The original Transformer uses "
    "sines and cosines of geometrically spaced frequencies, interleaved:"
)
st.latex(r"PE_{(pos,2i)}=\sin\!\left(\frac{pos}{\text{base}^{2i/d_{model}}}\right),\qquad "
         r"PE_{(pos,2i+1)}=\cos\!\left(\frac{pos}{\text{base}^{2i/d_{model}}}\right)")  # fmt: skip
st.warning(
    "The article this app is built from gives PE(i, j) = sin(i / 10000^(2j/d)) + cos(i / 10000^(2j/d)) for "
    "every dimension j. That is not the paper's formula: it adds sine and cosine in every dimension instead "
    "of putting them in alternate dimensions. The cost is shown below — the shift by k positions is no longer "
    "one fixed linear map for every position, which is the property that lets attention find relative positions "
    "easily.",
    icon=":material/report:",
)
left, middle, right = st.columns(3)
d_model = left.select_slider("d_model", [8, 16, 32, 64, 128, 256, 384, 512], value=64, key="pe-dmodel")
length = middle.slider("positions", 8, 512, 100, key="pe-length")
base = right.select_slider("base", [10, 100, 1_000, 10_000, 100_000], value=10_000, key="pe-base")

paper = pe.sinusoidal(length, d_model, base)
variant = pe.article_variant(length, d_model, base)
left, right = st.columns(2)
with left:
    render.figure(heatmaps.heatmap(paper, title="Paper: sin / cos interleaved", x_title="dimension",
                                   y_title="position", colorscale="RdBu", zmin=-1.5, zmax=1.5, height=420), key="pe-paper")  # fmt: skip
with right:
    render.figure(heatmaps.heatmap(variant, title="Article: sin + cos in every dimension", x_title="dimension",
                                   y_title="position", colorscale="RdBu", zmin=-1.5, zmax=1.5, height=420), key="pe-variant")  # fmt: skip

st.subheader("Each dimension is a wave")
chosen = st.multiselect("Dimensions", list(range(d_model)), default=[0, 1, min(6, d_model - 1), min(7, d_model - 1)],
                        key="pe-dims")  # fmt: skip
render.figure(
    heatmaps.lines(np.arange(length), {f"dim {d}": paper[:, d] for d in chosen}, title="Paper's encoding, chosen dimensions",
                   x_title="position", y_title="value"),
    key="pe-curves",
)  # fmt: skip

st.subheader("Similarity by distance")
offsets, paper_sim = pe.similarity_by_offset(paper)
_, variant_sim = pe.similarity_by_offset(variant)
render.figure(
    heatmaps.lines(offsets, {"paper": paper_sim, "article variant": variant_sim},
                   title="Mean PE(pos) · PE(pos + k)", x_title="offset k", y_title="dot product"),
    key="pe-offset",
)  # fmt: skip
first_rise = next((int(o) for o in offsets[1:-1] if paper_sim[o + 1] > paper_sim[o] + 1e-9), None)
st.caption(
    "Nearby positions are most alike. "
    + (f"The fall is not monotonic here: for the paper's encoding the dot product first rises again after offset "
       f"{first_rise} (the fastest waves come back into phase), while the slow waves keep the overall trend."
       if first_rise is not None else "At these settings the paper's curve falls all the way.")
)  # fmt: skip

st.subheader("Relative positions: PE(pos + k) as a linear function of PE(pos)")
k = st.slider("Shift k", 1, min(50, length - 2), 3, key="pe-shift")
exact = np.abs(paper[k:] - paper[:-k] @ pe.shift_matrix(d_model, k, base).T).max()
n_fit = pe.fit_positions(d_model, length)
_, paper_fit = pe.best_linear_shift(pe.sinusoidal(n_fit + k, d_model, base), k)
_, variant_fit = pe.best_linear_shift(pe.article_variant(n_fit + k, d_model, base), k)
left, middle, right = st.columns(3)
left.metric(
    "Paper, with the rotation M_k", f"{exact:.1e}", help="max |PE(pos+k) − M_k PE(pos)| over the positions shown"
)
middle.metric("Paper, best single matrix", f"{paper_fit:.1e}",
              help=f"Least squares over {n_fit} positions; the worst error.")  # fmt: skip
right.metric("Article variant, best single matrix", f"{variant_fit:.2f}",
             help=f"Least squares over {n_fit} positions; the worst error.")  # fmt: skip
st.markdown(
    f"The best single matrix is fitted by least squares over {n_fit} positions — at least twice d_model: with "
    "fewer positions than dimensions some matrix maps any sequence onto its shift exactly, which would prove "
    "nothing. For the paper's encoding, each (sin, cos) pair at frequency ω is rotated by the angle ω·k — one "
    "fixed rotation M_k for every position, at any d_model, so a layer can learn 'look k tokens back'. In the "
    "article's version each dimension is one wave √2·sin(ω_j·pos + π/4) with its own frequency; shifting it "
    "needs the matching cosine, which no other dimension holds, so no single matrix works for all positions."
)

st.subheader("BERT learns its positions instead")
n_learned = min(length, 512)
learned = learn.learned_positions(n_learned)
left, right = st.columns(2)
with left:
    render.figure(heatmaps.heatmap(pe.cosine_similarity(learned), title=f"MiniLM's learned positions (first {n_learned})",
                                   x_title="position", y_title="position", colorscale="Viridis", height=420), key="pe-learned")  # fmt: skip
with right:
    render.figure(heatmaps.heatmap(pe.cosine_similarity(pe.sinusoidal(n_learned, 384)), title="Sinusoidal, d_model = 384",
                                   x_title="position", y_title="position", colorscale="Viridis", height=420), key="pe-sinsim")  # fmt: skip
learned_sim, sinusoid_sim = pe.cosine_similarity(learned), pe.cosine_similarity(pe.sinusoidal(n_learned, 384))
offset = min(20, n_learned - 1)
near = np.diagonal(learned_sim, offset=offset).mean(), np.diagonal(sinusoid_sim, offset=offset).mean()
upper = np.triu_indices(n_learned, 1)
agreement = np.corrcoef(learned_sim[upper], sinusoid_sim[upper])[0, 1]
st.caption(
    f"Cosine similarity between positions. In both tables nearby positions are alike; the two similarity "
    f"matrices correlate only moderately (r = {agreement:.2f}), and far apart they differ: at offset {offset} the "
    f"mean cosine is {near[0]:.2f} for MiniLM and {near[1]:.2f} for the sinusoids."
)

st.subheader("Rotary position embedding (RoPE)")
st.markdown(
    "Modern decoders (LLaMA, Qwen, …) rotate queries and keys instead of adding a vector: the pair "
    "(x₂ᵢ, x₂ᵢ₊₁) at position m turns by m·ωᵢ. A query at m and a key at n then meet at angle (m − n)·ωᵢ, so "
    "their dot product depends only on the signed offset m − n: the same for (10, 3) and (17, 10), but in "
    "general not the same for (10, 3) and (3, 10)."
)
left, right = st.columns(2)
pair = left.slider("Pair i", 0, d_model // 2 - 1, 0, key="pe-pair")
steps = right.slider("Positions shown", 2, 16, 8, key="pe-rope-steps")
path = pe.rope_pair_path(d_model, pair, steps, base=base)
omega = pe.frequencies(d_model, base)[pair]
render.figure(heatmaps.rotation_plot(path, title=f"A query's pair {pair} at positions 0…{steps - 1}: turned by m·ω, ω = {omega:.4g}"),
              key="pe-rope-pair")  # fmt: skip
scores, spread = pe.rope_scores(d_model, min(length, 64), base=base)
render.figure(heatmaps.heatmap(scores, title="⟨RoPE(q, m), RoPE(k, n)⟩ for one q and k", x_title="key position n",
                               y_title="query position m", colorscale="RdBu", height=420), key="pe-rope")  # fmt: skip
st.metric("Largest spread along a diagonal (m − n fixed)", f"{spread:.1e}")
with st.expander("The code that computed this", icon=":material/code:"):
    st.code(learn.source_of("sinusoidal") + "\n\n" + learn.source_of("rope_rotate"), language="python")
