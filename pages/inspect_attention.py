"""Inspect: look inside a model's attention with bertviz (offline) and native plotly views; compare two models."""

import numpy as np
import pandas as pd
import streamlit as st

from core import catalog
from core.attention import INSPECT_TOKENS, compare, rollout, statistics_by_layer
from core.errors import CoreError
from core.viz import bertviz_html, heatmaps
from ui import i18n, language, render, safe
from ui import inspect as inspect_ui
from ui.i18n import N_, _
from ui.runtime import through_router

through_router()

st.title(_("Inspect attention"))
st.markdown(
    _("Every layer of a Transformer encoder has several attention heads; each head decides, for every "
      "token, how much to read from every other token. Pick a model and a sentence (or a pair) and look.")
)
ENCODER, SEQ2SEQ = N_("Encoder"), N_("Encoder-decoder (translation)")
architecture = st.segmented_control(
    _("Architecture"), [ENCODER, SEQ2SEQ], key="inspect-architecture", required=True,
    default=SEQ2SEQ if st.query_params.get("architecture") == "seq2seq" else ENCODER,
    format_func=i18n.labels([ENCODER, SEQ2SEQ]),
)  # fmt: skip
if architecture != ENCODER:
    inspect_ui.translation_views()
    st.stop()
spec = inspect_ui.picker(_("Model"), key="inspect-model", default="minilm-l6")
text = st.text_input(
    _("Sentence"), st.query_params.get("text", "The cat sat on the mat because it was warm."), key="inspect-text"
)
pair = st.toggle(_("Add a second sentence (BERT reads pairs as [CLS] A [SEP] B [SEP])"), key="inspect-pair-on")
text_b = st.text_input(_("Second sentence"), "It fell asleep.", key="inspect-text-b") if pair else None
if not catalog.availability(spec).ready:
    st.stop()
language.warn_text(" ".join(filter(None, [text, text_b])), spec.languages, i18n.title(spec))
try:
    full = inspect_ui.attention_model(spec).attend(text, text_b, max_tokens=INSPECT_TOKENS)
except CoreError as error:
    safe.error(error)
    st.stop()

n_layers, n_heads, n_tokens = full.weights.shape[0], full.weights.shape[1], len(full.tokens)
if full.truncated:
    st.warning(
        _("The text has {length} tokens; this page reads at most {limit} (every view here is redrawn for each "
          "student's click), so the rest was cut.", length=full.n_tokens_input, limit=n_tokens)
    )  # fmt: skip
left, right = st.columns(2)
size, start = n_tokens, 0
if n_tokens > 4:
    size = left.slider(_("Tokens shown"), 4, min(128, n_tokens), min(48, n_tokens), key="inspect-window",
                       help=_("bertviz slows down beyond ~100 tokens; the views show this window."))  # fmt: skip
if n_tokens > size:
    start = right.slider(_("Window starts at token"), 0, n_tokens - size, 0, key="inspect-start")
shown = full.window(start, size)
if len(shown.tokens) < n_tokens:
    st.info(
        _("Showing tokens {first}–{last} of {count}. Attention from these tokens to tokens outside the window is not "
          "drawn, so rows may sum to less than 1.", first=start, last=start + len(shown.tokens) - 1, count=n_tokens),
        icon=":material/crop:",
    )  # fmt: skip

views = st.tabs(
    [_("bertviz: heads"), _("bertviz: model"), _("All heads"), _("One head"), _("Head statistics"), _("Rollout"),
     _("Compare")]
)
with views[0]:
    st.caption(
        _("Hover over a token to see where it looks; click a colour to toggle a head; choose the layer above the view.")
    )
    inspect_ui.bertviz(
        lambda labels: bertviz_html.head_view(shown.weights, shown.tokens, shown.sentence_b_start, labels=labels),
        height=160 + 24 * len(shown.tokens), key="inspect-bertviz-heads",
    )
with views[1]:
    st.caption(_("Every layer (rows) × head (columns). Click a thumbnail to enlarge it."))
    inspect_ui.bertviz(
        lambda labels: bertviz_html.model_view(shown.weights, shown.tokens, shown.sentence_b_start, labels=labels),
        height=180 * n_layers + 120, key="inspect-bertviz-model",
    )
with views[2]:
    most = heatmaps.grid_tokens(n_layers, n_heads)
    grid = shown.window(0, most) if len(shown.tokens) > most else shown
    if grid is not shown:
        st.caption(_("The grid draws the first {most} tokens of the window ({maps} maps); the other views show all of "
                     "them.", most=most, maps=n_layers * n_heads))  # fmt: skip
    render.figure(heatmaps.layer_head_grid(grid.weights, grid.tokens, title=_("Every layer × head"), offset=start),
                  key="inspect-grid", stem=f"attention-{spec.key}",
                  numbers={"model": spec.key, "tokens": grid.tokens, "first_token": start,
                           "weights (layer, head, query, key)": grid.weights})  # fmt: skip
with views[3]:
    left, right = st.columns(2)
    layer = left.slider(_("Layer"), 0, n_layers - 1, n_layers - 1, key="inspect-layer")
    head = right.slider(_("Head"), 0, n_heads - 1, 0, key="inspect-head")
    render.figure(
        heatmaps.heatmap(shown.weights[layer, head], title=_("{model}: layer {layer}, head {head}", model=i18n.title(spec),
                                                             layer=layer, head=head),
                         x_labels=shown.tokens, y_labels=shown.tokens, x_title=_("key"), y_title=_("query"), zmin=0,
                         zmax=1),
        key="inspect-one", stem=f"attention-{spec.key}-L{layer}-H{head}",
        numbers={"model": spec.key, "layer": layer, "head": head, "tokens": shown.tokens,
                 "weights (query, key)": shown.weights[layer, head]},
    )  # fmt: skip
with views[4]:
    stats = statistics_by_layer(full)
    statistic = st.selectbox(_("Statistic"), list(stats), key="inspect-stat", format_func=i18n.labels(stats))
    render.figure(
        heatmaps.heatmap(stats[statistic], title=_("{statistic}, per layer and head (all {count} tokens)",
                                                   statistic=_(statistic), count=n_tokens),
                         x_title=_("head"), y_title=_("layer"), colorscale="Viridis", text_values=True, height=360),
        key="inspect-stats", stem=f"head-statistics-{spec.key}",
        numbers={"model": spec.key, "tokens": full.tokens, **{name: values for name, values in stats.items()}},
    )  # fmt: skip
with views[5]:
    flow = rollout(full.weights)
    st.markdown(
        _("Attention **rollout** (Abnar & Zuidema, 2020) follows attention through all layers: average the heads, "
          "add the residual connection, multiply the layers. Row *i* is a heuristic estimate of how much each input "
          "token flows into position *i* at the top of the model. It ignores the values, the output projection W_O "
          "and the feed-forward layers, so read it as a hint of what [CLS] gathered, not as a measurement.")
    )
    target = st.selectbox(_("Position"), list(range(n_tokens)), format_func=lambda i: f"{i}: {full.tokens[i]}",
                          key="inspect-rollout-target")  # fmt: skip
    render.figure(heatmaps.bars([f"{i}:{t}" for i, t in enumerate(full.tokens)], flow[target],
                                title=_("Rollout into {token}", token=f"“{full.tokens[target]}”"), y_title=_("share")),
                  key="inspect-rollout", stem=f"rollout-{spec.key}",
                  numbers={"model": spec.key, "tokens": full.tokens, "rollout (position, input token)": flow})  # fmt: skip
with views[6]:
    other = inspect_ui.picker(_("Compare with"), key="inspect-other", default="sentiment-minilm")
    if catalog.availability(other).ready:
        try:
            second = inspect_ui.attention_model(other).attend(text, text_b, max_tokens=INSPECT_TOKENS)
            distance = compare(full, second)
        except CoreError as error:
            safe.error(error)
        else:
            layer_most, head_most = np.unravel_index(np.argmax(distance), distance.shape)
            render.figure(
                heatmaps.heatmap(distance, title=_("Jensen–Shannon distance per head (0 = same attention, 1 = disjoint)"),
                                 x_title=_("head"), y_title=_("layer"), colorscale="Reds", zmin=0, text_values=True, height=360),
                key="inspect-compare", stem=f"compare-{spec.key}-{other.key}",
                numbers={"models": [spec.key, other.key], "tokens": full.tokens,
                         "Jensen-Shannon distance (layer, head)": distance},
            )  # fmt: skip
            st.caption(_("Most changed: layer {layer}, head {head} (distance {distance}).", layer=layer_most,
                         head=head_most, distance=f"{distance.max():.3f}"))  # fmt: skip
            left, right = st.columns(2)
            sides = ((i18n.title(spec), shown), (i18n.title(other), second.window(start, size)))
            for index, (column, (label, result)) in enumerate(zip((left, right), sides, strict=True)):
                with column:
                    render.figure(
                        heatmaps.heatmap(result.weights[layer_most, head_most], title=label, x_labels=result.tokens,
                                         y_labels=result.tokens, zmin=0, zmax=1, height=420),
                        key=f"inspect-side-{index}",
                    )  # fmt: skip
            frame = pd.DataFrame(distance, columns=[_("head {number}", number=h) for h in range(n_heads)])
            safe.table(frame.round(3), decimals=3, key="inspect-compare-table")
