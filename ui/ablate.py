"""Inspect → Ablate glue: switch heads and MLPs of a GPT off on the user's text, and rank every head on held-out text."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from core import catalog
from core.errors import CoreError
from core.tasks import ablation, snippets
from core.viz import charts, heatmaps
from ui import models, render, safe, shared_runs
from ui.i18n import _


def choices(spec: catalog.ModelSpec) -> tuple[list[tuple[int, int]], list[int]] | None:
    """The heads and MLPs to switch off, chosen by the user; None if the model cannot be loaded."""
    try:
        layers, heads = ablation.shape(models.task_model(spec).model)
    except CoreError as error:
        safe.error(error)
        return None
    every_head = [(layer, head) for layer in range(layers) for head in range(heads)]
    left, right = st.columns([2, 1])
    chosen = left.multiselect(_("Heads to switch off"), every_head, key=f"ablate-heads-{spec.key}",
                              format_func=lambda pair: f"L{pair[0]} H{pair[1]}",
                              help=_("L = layer, H = head, both from 0 (layer 0 is block 1 on the Layers page)."))  # fmt: skip
    mlps = right.multiselect(_("MLPs to switch off"), list(range(layers)), key=f"ablate-mlps-{spec.key}",
                             format_func=lambda layer: f"MLP L{layer}")  # fmt: skip
    return chosen, mlps


def run(spec: catalog.ModelSpec, text: str, heads, mlps) -> None:
    try:
        found = ablation.effect_on(models.task_model(spec), text, heads, mlps)
    except CoreError as error:
        safe.error(error)
        return
    st.session_state["ablate-result"] = (spec.key, text, list(heads), list(mlps), found)


def show(spec: catalog.ModelSpec) -> None:
    stored = st.session_state.get("ablate-result")
    if not stored or stored[0] != spec.key:
        return
    text, heads, mlps, found = stored[1:]
    left, right = st.columns(2)
    left.metric(_("Perplexity, whole model"), f"{found.perplexity_before:.1f}")
    right.metric(_("Perplexity with {count} switched off", count=len(heads) + len(mlps)),
                 f"{found.perplexity_after:.1f}", f"{found.perplexity_after - found.perplexity_before:+.1f}",
                 delta_color="inverse")  # fmt: skip
    render.figure(charts.token_logprobs(found.tokens, {_("whole model"): found.before,
                                                       _("switched off"): found.after}), key="ablate-tokens")  # fmt: skip
    st.caption(_("Each bar: the log-probability of that token given the ones before it. Where the whole model's bar "
                 "is higher, the parts you switched off helped predict that token; where it is lower, they worked "
                 "against it."))  # fmt: skip
    with st.expander(_("Code to reproduce this"), icon=":material/code:"):
        st.code(snippets.ablation(spec, text, heads, mlps), language="python")


def sweep(spec: catalog.ModelSpec) -> None:
    lm = models.task_model(spec)
    layers, heads = ablation.shape(lm.model)
    if layers * heads > ablation.MAX_SWEEP_HEADS:
        st.caption(_("This model has {count} heads; a sweep here scores at most {most} (one held-out pass per head). "
                     "Switch heads off by hand instead.", count=layers * heads, most=ablation.MAX_SWEEP_HEADS))  # fmt: skip
        return
    key = ("ablation", spec.key, catalog.weights_sha256(spec))
    state = shared_runs.state(key)
    if (state is None or "error" in state) and st.button(_("Rank every head on held-out text"), key="ablate-sweep"):
        state = shared_runs.start(key, lambda progress: ablation.sweep_model(lm, progress))
    if state is None:
        return
    shared_runs.wait(state, _("Switching each head off in turn…"))
    if "error" in state:
        safe.error(state["error"])
    else:
        _show_sweep(state["result"])


def _show_sweep(found: dict) -> None:
    layers, heads = found["delta"].shape
    render.figure(heatmaps.heatmap(found["delta"], title=_("Δ perplexity when one head is switched off"),
                                   x_labels=[f"H{h}" for h in range(heads)], y_labels=[f"L{n}" for n in range(layers)],
                                   x_title=_("head"), y_title=_("layer"), colorscale="Reds", text_values=True),
                  key="ablate-sweep-map", stem="ablation-sweep",
                  numbers={"delta_perplexity": found["delta"], "low": found["low"], "high": found["high"],
                           "base_perplexity": float(found["base"]), "documents": int(found["documents"])})  # fmt: skip
    rows = [{_("head"): f"L{layer} H{head}", _("Δ perplexity"): round(found["delta"][layer, head], 2),
             _("95 % CI"): f"[{found['low'][layer, head]:.2f}, {found['high'][layer, head]:.2f}]"}
            for layer in range(layers) for head in range(heads)]  # fmt: skip
    order = np.argsort(-found["delta"].ravel(), kind="stable")
    st.dataframe(pd.DataFrame([rows[i] for i in order]), hide_index=True, key="ablate-sweep-table")
    st.caption(_("Perplexity of the whole model on {count} held-out documents: {base}. Each head is switched off "
                 "alone (its output zeroed before W_O); the CI resamples the same documents for both (paired "
                 "bootstrap). A large Δ marks a head the model relies on; one near 0 costs little on its own (heads that back "
                 "each other up can still cost a lot together).",
                 count=int(found["documents"]), base=f"{float(found['base']):.1f}"))  # fmt: skip
