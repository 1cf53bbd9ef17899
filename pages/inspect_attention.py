"""Inspect: look inside a model's attention with bertviz (offline) and native plotly views; compare two models."""

import numpy as np
import pandas as pd
import streamlit as st

from core import catalog
from core.attention import compare, rollout, statistics_by_layer
from core.errors import CoreError
from core.viz import bertviz_html, heatmaps
from ui import inspect as inspect_ui
from ui import render, safe
from ui.runtime import through_router

through_router()

st.title("Inspect attention")
st.markdown(
    "Every layer of a Transformer encoder has several attention heads; each head decides, for every "
    "token, how much to read from every other token. Pick a model and a sentence (or a pair) and look."
)
architecture = st.segmented_control(
    "Architecture", ["Encoder", "Encoder-decoder (translation)"], key="inspect-architecture", required=True,
    default="Encoder-decoder (translation)" if st.query_params.get("architecture") == "seq2seq" else "Encoder",
)  # fmt: skip
if architecture != "Encoder":
    inspect_ui.translation_views()
    st.stop()
spec = inspect_ui.picker("Model", key="inspect-model", default="minilm-l6")
text = st.text_input(
    "Sentence", st.query_params.get("text", "The cat sat on the mat because it was warm."), key="inspect-text"
)
pair = st.toggle("Add a second sentence (BERT reads pairs as [CLS] A [SEP] B [SEP])", key="inspect-pair-on")
text_b = st.text_input("Second sentence", "It fell asleep.", key="inspect-text-b") if pair else None
if not catalog.availability(spec).ready:
    st.stop()
try:
    full = inspect_ui.attention_model(spec).attend(text, text_b)
except CoreError as error:
    safe.error(error)
    st.stop()

n_layers, n_heads, n_tokens = full.weights.shape[0], full.weights.shape[1], len(full.tokens)
if full.truncated:
    st.warning(
        f"The text has {full.n_tokens_input} tokens; {safe.md(spec.title)} reads at most {n_tokens}, so the rest was cut."
    )
left, right = st.columns(2)
size, start = n_tokens, 0
if n_tokens > 4:
    size = left.slider("Tokens shown", 4, min(128, n_tokens), min(48, n_tokens), key="inspect-window",
                       help="bertviz slows down beyond ~100 tokens; the views show this window.")  # fmt: skip
if n_tokens > size:
    start = right.slider("Window starts at token", 0, n_tokens - size, 0, key="inspect-start")
shown = full.window(start, size)
if len(shown.tokens) < n_tokens:
    st.info(
        f"Showing tokens {start}–{start + len(shown.tokens) - 1} of {n_tokens}. Attention from these tokens to tokens "
        "outside the window is not drawn, so rows may sum to less than 1.", icon=":material/crop:"
    )  # fmt: skip

views = st.tabs(
    ["bertviz: heads", "bertviz: model", "All heads", "One head", "Head statistics", "Rollout", "Compare"]
)
with views[0]:
    st.caption(
        "Hover over a token to see where it looks; click a colour to toggle a head; choose the layer above the view."
    )
    inspect_ui.bertviz(
        bertviz_html.head_view(shown.weights, shown.tokens, shown.sentence_b_start),
        height=160 + 24 * len(shown.tokens),
    )
with views[1]:
    st.caption("Every layer (rows) × head (columns). Click a thumbnail to enlarge it.")
    inspect_ui.bertviz(
        bertviz_html.model_view(shown.weights, shown.tokens, shown.sentence_b_start),
        height=180 * n_layers + 120,
    )
with views[2]:
    most = heatmaps.grid_tokens(n_layers, n_heads)
    grid = shown.window(0, most) if len(shown.tokens) > most else shown
    if grid is not shown:
        st.caption(f"The grid draws the first {most} tokens of the window ({n_layers * n_heads} maps); the "
                   "other views show all of them.")  # fmt: skip
    render.figure(heatmaps.layer_head_grid(grid.weights, grid.tokens, title="Every layer × head", offset=start),
                  key="inspect-grid")  # fmt: skip
with views[3]:
    left, right = st.columns(2)
    layer = left.slider("Layer", 0, n_layers - 1, n_layers - 1, key="inspect-layer")
    head = right.slider("Head", 0, n_heads - 1, 0, key="inspect-head")
    render.figure(
        heatmaps.heatmap(shown.weights[layer, head], title=f"{spec.title}: layer {layer}, head {head}",
                         x_labels=shown.tokens, y_labels=shown.tokens, x_title="key", y_title="query", zmin=0, zmax=1),
        key="inspect-one",
    )  # fmt: skip
with views[4]:
    stats = statistics_by_layer(full)
    statistic = st.selectbox("Statistic", list(stats), key="inspect-stat")
    render.figure(
        heatmaps.heatmap(stats[statistic], title=f"{statistic}, per layer and head (all {n_tokens} tokens)",
                         x_title="head", y_title="layer", colorscale="Viridis", text_values=True, height=360),
        key="inspect-stats",
    )  # fmt: skip
with views[5]:
    flow = rollout(full.weights)
    st.markdown(
        "Attention **rollout** (Abnar & Zuidema, 2020) follows attention through all layers: average the heads, "
        "add the residual connection, multiply the layers. Row *i* is a heuristic estimate of how much each input "
        "token flows into position *i* at the top of the model. It ignores the values, the output projection W_O "
        "and the feed-forward layers, so read it as a hint of what [CLS] gathered, not as a measurement."
    )
    target = st.selectbox("Position", list(range(n_tokens)), format_func=lambda i: f"{i}: {full.tokens[i]}",
                          key="inspect-rollout-target")  # fmt: skip
    render.figure(heatmaps.bars([f"{i}:{t}" for i, t in enumerate(full.tokens)], flow[target],
                                title=f"Rollout into {full.tokens[target]!r}", y_title="share"), key="inspect-rollout")  # fmt: skip
with views[6]:
    other = inspect_ui.picker("Compare with", key="inspect-other", default="sentiment-minilm")
    if catalog.availability(other).ready:
        try:
            second = inspect_ui.attention_model(other).attend(text, text_b)
            distance = compare(full, second)
        except CoreError as error:
            safe.error(error)
        else:
            layer_most, head_most = np.unravel_index(np.argmax(distance), distance.shape)
            render.figure(
                heatmaps.heatmap(distance, title="Jensen–Shannon distance per head (0 = same attention, 1 = disjoint)",
                                 x_title="head", y_title="layer", colorscale="Reds", zmin=0, text_values=True, height=360),
                key="inspect-compare",
            )  # fmt: skip
            st.caption(f"Most changed: layer {layer_most}, head {head_most} (distance {distance.max():.3f}).")
            left, right = st.columns(2)
            sides = ((spec.title, shown), (other.title, second.window(start, size)))
            for index, (column, (label, result)) in enumerate(zip((left, right), sides, strict=True)):
                with column:
                    render.figure(
                        heatmaps.heatmap(result.weights[layer_most, head_most], title=label, x_labels=result.tokens,
                                         y_labels=result.tokens, zmin=0, zmax=1, height=420),
                        key=f"inspect-side-{index}",
                    )  # fmt: skip
            frame = pd.DataFrame(distance, columns=[f"head {h}" for h in range(n_heads)])
            st.dataframe(frame.round(3), key="inspect-compare-table")
