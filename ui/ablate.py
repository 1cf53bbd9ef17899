"""Inspect → Ablate glue: switch heads and MLPs of a GPT off (zeroed, or replaced by their mean output) on the
user's text and rank every head on held-out text; the helpers the classifier and translation sections share."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import streamlit as st

from core import catalog
from core.errors import CoreError
from core.tasks import ablation, ablation_code
from core.viz import charts, heatmaps
from ui import ablate_compare, models, render, safe, shared_runs
from ui.i18n import N_, _


def choices(spec: catalog.ModelSpec) -> tuple[list[tuple[int, int]], list[int], str] | None:
    """The heads and MLPs to switch off and how ("zero" or "mean"), chosen by the user; None if the model cannot be
    loaded."""
    try:
        layers, heads = ablation.shape(models.task_model(spec).model)
    except CoreError as error:
        safe.error(error)
        return None
    every_head = [(layer, head) for layer in range(layers) for head in range(heads)]
    left, right = st.columns([2, 1])
    chosen = left.multiselect(_("Heads to switch off"), every_head, placeholder=_("Choose options"), key=f"ablate-heads-{spec.key}",
                              format_func=lambda pair: f"L{pair[0]} H{pair[1]}",
                              help=_("L = layer, H = head, both from 0 (layer 0 is block 1 on the Layers page)."))  # fmt: skip
    mlps = right.multiselect(_("MLPs to switch off"), list(range(layers)), placeholder=_("Choose options"), key=f"ablate-mlps-{spec.key}",
                             format_func=lambda layer: f"MLP L{layer}")  # fmt: skip
    return chosen, mlps, switch_off_mode("ablate-mode")


def nothing_to_switch_off(heads, mlps) -> bool:
    """True, with a note, where no head and no MLP is chosen: a run would only show the whole model twice."""
    if heads or mlps:
        return False
    st.info(_("Choose at least one head or MLP to switch off first."), icon=":material/touch_app:")
    return True


def run(spec: catalog.ModelSpec, text: str, heads, mlps, mode: str = "zero") -> None:
    if nothing_to_switch_off(heads, mlps):
        return
    try:
        lm, version = models.task_model_and_version(spec)  # read together: a retrain in between cannot mix them
        means = means_if_asked(mode, heads, mlps, lambda: ablation.lm_means(lm, version))
        found = ablation.effect_on(lm, text, heads, mlps, means)
    except CoreError as error:
        safe.error(error)
        return
    st.session_state["ablate-result"] = (spec.key, text, list(heads), list(mlps), found, means["tokens"] if means else 0)


MEANS_NOTE = N_("Taking each part's mean output on held-out text (once per model for the whole class)…")


def means_if_asked(mode: str, heads, mlps, take: Callable[[], dict]) -> dict | None:
    """A hand-picked run's means: ``take()`` (cached per model version in core) when the mode is "mean" and some part
    is chosen, with a spinner; None to zero the parts."""
    if mode != "mean" or not (heads or mlps):
        return None
    with st.spinner(render.queue_note(_(MEANS_NOTE))):
        return take()


def hand_picked_mode(key: str, held_out) -> str:
    """How hand-picked parts are switched off: asked only where there are held-out data to average over."""
    return switch_off_mode(key) if held_out is not None and len(held_out[0]) else "zero"


def show(spec: catalog.ModelSpec) -> None:
    stored = st.session_state.get("ablate-result")
    if not stored or stored[0] != spec.key:
        return
    text, heads, mlps, found, means = stored[1:]
    left, right = st.columns(2)
    left.metric(_("Perplexity, whole model"), f"{found.perplexity_before:.1f}")
    change = found.perplexity_after - found.perplexity_before
    right.metric(_("Perplexity with {count} switched off", count=len(heads) + len(mlps)),
                 f"{found.perplexity_after:.1f}", f"{change:+.1f}",
                 delta_color="inverse" if round(change, 1) else "off")  # no change is neither better nor worse # fmt: skip
    render.figure(charts.token_logprobs(found.tokens, {_("whole model"): found.before,
                                                       _("switched off"): found.after}), key="ablate-tokens",
                  stem=f"ablation-{spec.key}",
                  numbers={"model": spec.key, "text": text, "heads_off": [list(h) for h in heads], "mlps_off": list(mlps),
                           "tokens": found.tokens, "logprob_whole_model": found.before, "logprob_switched_off": found.after,
                           "perplexity_whole_model": found.perplexity_before,
                           "perplexity_switched_off": found.perplexity_after, "switched_off_by": "mean" if means else "zero",
                           "mean_tokens": means})  # fmt: skip
    st.caption(_("Each bar: the log-probability of that token given the ones before it. Where the whole model's bar "
                 "is closer to 0 (shorter), the parts you switched off helped predict that token; where it is longer, they worked "
                 "against it.") + " " + how_switched_off(means))  # fmt: skip
    with st.expander(_("Code to reproduce this"), icon=":material/code:"):
        st.code(ablation_code.ablation(spec, text, heads, mlps, mean=bool(means)), language="python")


def how_switched_off(means: int) -> str:
    """A sentence saying how a hand-picked run switched its parts off: zeroed, or replaced by their means over
    ``means`` held-out tokens (the sweep's means)."""
    if not means:
        return _("The parts were switched off by zeroing their output.")
    return _("The parts were switched off by replacing each one's output with its mean over the first {tokens} "
             "held-out tokens the ranking below reads: the means it uses when run in that mode.", tokens=f"{means:,}")


def sweep(spec: catalog.ModelSpec) -> None:
    lm, version = models.task_model_and_version(spec)
    layers, heads = ablation.shape(lm.model)
    st.caption(_("The sweep scores the held-out documents once with the whole model, once per head ({count} heads) "
                 "and once per layer's MLP ({layers}), "
                 "in the background, once for the whole class (mean ablation first reads them once more for the means). "
                 "Its work is capped at (parts + passes for the whole model and the means) × tokens read × "
                 "weights ≤ {budget}: a model too large to read every document reads blocks of at most {block} tokens "
                 "cut from them instead, as many as fit, drawn at random, and says how many (GPT-2 small, 144 heads and 12 "
                 "MLPs: about 1,000 tokens in at least 7 blocks, 6–8 minutes on the one core a shared run gets, "
                 "longer while others use the server; a model that cannot read {least} blocks is refused).",
                 count=layers * heads, layers=layers, budget=f"{ablation.LM_SWEEP_WORK_BUDGET / 1e13:g} × 10¹³",
                 block=min(lm.context, ablation.SWEEP_BLOCK), least=ablation.MIN_SWEEP_BLOCKS))  # fmt: skip
    mode = switch_off_mode("ablate-sweep-mode")
    found = shared_sweep(("ablation", spec.key, version, mode),
                         _("Rank every head and MLP on held-out text"), "ablate-sweep",
                         lambda progress: ablation.sweep_model(lm, progress, mean=mode == "mean", version=version),
                         _("Switching each head, then each MLP, off in turn…"))  # fmt: skip
    if found is not None:
        _show_sweep(found)
        ablate_compare.both_modes({m: ("ablation", spec.key, version, m) for m in SWITCH_OFF},
                                  [f"L{n}" for n in range(layers)], [f"H{h}" for h in range(heads)],
                                  measure=_("perplexity"), costliest="highest", stem=f"ablation-modes-{spec.key}",
                                  key="ablate-sweep")  # fmt: skip


SWITCH_OFF = {"zero": N_("zeroing its output"), "mean": N_("its mean output on held-out text")}


def switch_off_mode(key: str) -> str:
    """How a sweep switches each part off: "zero" or "mean"."""
    mode = st.segmented_control(_("Switch each part off by"), list(SWITCH_OFF), key=key, default="zero",
                                required=True, format_func=lambda name: _(SWITCH_OFF[name]),
                                help=_("A zero output can be far from "
                                       "anything the layers after the part saw in training; its mean output on "
                                       "held-out text is where its outputs are centred, so replacing it removes what "
                                       "the part writes differently at each token and position but keeps its average "
                                       "contribution."))  # fmt: skip
    return mode if mode in SWITCH_OFF else "zero"  # the browser sends None when a required choice is forged empty


def shared_sweep(key: tuple, label: str, button: str, job, waiting: str = "") -> dict | None:
    """A head sweep as a run shared by the class: started by whoever presses ``label`` first (again after a
    failure), waited on with a bar (``waiting`` its text) by everyone who looks; its result, or None (not asked yet,
    or failed: said)."""
    return shared_runs.on_request(key, label, button, job, waiting or _("Switching each head off in turn…"),
                                  shared_runs.one_at_a_time("ablate-sweep-started", key, _(
                                      "Your previous sweep is still running: wait for it, then start this one.")))


def parts_key(heads, mlps) -> tuple:
    """A hand-picked set of parts, the same whatever order they were picked in."""
    return tuple(sorted(tuple(head) for head in heads)), tuple(sorted({m if isinstance(m, int) else tuple(m) for m in mlps}))


def start_held_out(key: tuple, job) -> tuple:
    """The held-out half of a hand-picked ablation (two passes over the held-out set) as a run shared by the class:
    it queues behind the other long measurements (at most ``shared_runs.AT_ONCE`` at once), and a set someone already
    asked for is not computed again. Returns the run's key, for ``held_out_result``; raises CoreError when the
    queue is full (the run is refused, not kept)."""
    key = (*key, shared_runs.LIGHT)
    state = shared_runs.start(key, job)
    if "error" in state and shared_runs.state(key) is not state:
        raise state["error"]
    return key


def held_out_result(key: tuple) -> dict | None:
    """That run's result, waited on with a bar; None when it failed (said) or is no longer kept."""
    state = shared_runs.state(key)
    if state is None:
        st.caption(_("The held-out scores of this set are no longer kept for the class; press the button again."))
        return None
    return shared_runs.result(state, _("Scoring the held-out set with and without the chosen parts…"))


def _show_sweep(found: dict) -> None:
    (layers, heads), blocks = found["delta"].shape, bool(found.get("blocks", False))
    numbers = {"delta_perplexity": found["delta"], "low": found["low"], "high": found["high"],
               "base_perplexity": float(found["base"]), "documents": int(found["documents"]),
               "blocks_of_documents": blocks}  # fmt: skip
    shown, columns, mlps = found, [f"H{h}" for h in range(heads)], "mlp_delta" in found
    if mlps:  # one more column: each layer's MLP switched off alone
        shown = {name: np.column_stack([found[name], found[f"mlp_{name}"]]) for name in ("delta", "low", "high")}
        columns.append("MLP")
        numbers.update({"mlp_delta_perplexity": found["mlp_delta"], "mlp_low": found["mlp_low"],
                        "mlp_high": found["mlp_high"]})  # fmt: skip
    # the colours span the heads (an MLP's far larger Δ would wash them out); every cell prints its value
    ranking(shown, rows=[f"L{n}" for n in range(layers)], title=_("Δ perplexity when one part is switched off"),
            column=_("Δ perplexity"), costliest="highest", key="ablate-sweep", stem="ablation-sweep", numbers=numbers,
            columns=columns,
            zrange=(float(np.nanmin(found["delta"])), float(np.nanmax(found["delta"]))) if mlps else None)  # fmt: skip
    count, base = int(found["documents"]), f"{float(found['base']):.1f}"
    if blocks:
        st.caption(_("This model is large: the sweep read {count} blocks of at most {block} tokens drawn at random "
                     "from its {available} held-out documents, each block without the text before it. Perplexity of "
                     "the whole model on these blocks: {base} (usually higher than on whole documents). Its intervals "
                     "rest on only {count} blocks: rough, and likely too narrow.", count=count,
                     block=int(found.get("block", ablation.SWEEP_BLOCK)), available=int(found["available"]),
                     base=base))  # fmt: skip
    else:
        st.caption(_("Perplexity of the whole model on {count} held-out documents: {base}.", count=count, base=base))
    means = int(found.get("mean_tokens", 0))
    if means:
        st.caption(_("Mean ablation: each part's output is replaced by its mean over the first {tokens} held-out tokens "
                     "read here, the same tokens that are then scored (each head's slice of W_O's input; each MLP's "
                     "whole output), not by zeros. Where a part's Δ is much smaller than with zeroing, much of what "
                     "zeroing cost came from losing the part's average contribution (e.g. because the later layers get "
                     "an input unlike what they were trained on), not from what the part writes differently for each "
                     "token. Switch between the two above to compare: both read the same held-out text, and each is "
                     "its own shared run.", tokens=f"{means:,}"))  # fmt: skip
    st.caption(_("Each head is switched off alone (its output zeroed before W_O); the CI resamples the same documents "
                 "(or blocks) for both (paired bootstrap). A large Δ marks a head the model relies on; one near 0 costs "
                 "little on its own (heads that back each other up can still cost a lot together).")
               if not means else
               _("Each head is switched off alone; the CI resamples the same documents (or blocks) for both (paired "
                 "bootstrap). A large Δ marks a head the model relies on; one near 0 costs little on its own (heads "
                 "that back each other up can still cost a lot together)."))  # fmt: skip
    if mlps and means:
        st.caption(_("Column MLP: each layer's MLP switched off alone, its output replaced by its mean. An MLP is a much "
                     "larger part than one head (about two thirds of a block's weights): compare it with a whole "
                     "layer's heads switched off together above in the same mode, not with one head; the colours span "
                     "the heads' values, and an MLP beyond them shows at full colour."))  # fmt: skip
    elif mlps:
        st.caption(_("Column MLP: each layer's MLP switched off alone, its output (bias included) replaced by zeros. "
                     "An MLP is a much larger part than one head (about two thirds of a block's weights), so compare "
                     "it with that layer's heads switched off together (above), not with one head; the colours span "
                     "the heads' values, and an MLP beyond them shows at full colour."))  # fmt: skip


def ranking(found: dict, *, rows: list[str], title: str, column: str, costliest: str, key: str, stem: str,
            numbers: dict, scale: float = 1.0, columns: list[str] | None = None,
            zrange: tuple[float, float] | None = None) -> None:  # fmt: skip
    """A sweep's Δ per head as a layer × head heatmap (exported with ``numbers``) and a table, costliest head first:
    the ``highest`` Δ (perplexity rises) or the ``lowest`` (accuracy or chrF falls). Values are shown × ``scale``.
    ``columns`` names the heatmap's columns (heads H0, H1, … by default; a language model's sweep adds its MLPs)."""
    delta, low, high = (scale * found[name] for name in ("delta", "low", "high"))
    columns = columns or [f"H{h}" for h in range(delta.shape[1])]
    part = _("head or MLP") if "MLP" in columns else _("head")
    scaled = {} if zrange is None else {"zmin": zrange[0], "zmax": max(zrange[1], zrange[0] + 1e-9)}
    render.figure(heatmaps.heatmap(delta, title=title, x_labels=columns, y_labels=rows, x_title=part,
                                   y_title=_("layer"), text_values=True,
                                   colorscale="Reds" if costliest == "highest" else "RdBu", **scaled),
                  key=f"{key}-map", stem=stem, numbers=numbers)  # fmt: skip
    cells = [(r, h) for r in range(len(rows)) for h in range(len(columns)) if np.isfinite(delta[r, h])]
    cells.sort(key=lambda cell: -delta[cell] if costliest == "highest" else delta[cell])
    table = [{part: f"{rows[r]} {columns[h]}", column: round(float(delta[r, h]), 2),
              _("95 % CI"): f"[{low[r, h]:.2f}, {high[r, h]:.2f}]"} for r, h in cells]  # fmt: skip
    if "p" in found:  # right/wrong or per-sentence scores: how many items moved, and the exact test on them
        for row, cell in zip(table, cells, strict=True):
            row[_("worse / better")] = f"{int(found['worse'][cell])} / {int(found['better'][cell])}"
            row[_("exact p")] = round(float(found["p"][cell]), 3)
    safe.table(pd.DataFrame(table), hide_index=True, key=f"{key}-table")


# what to try while a model trains: the page shows one kind of model at a time, so point at the switch
WHILE_TRAINING = N_("the language-model choice at the top of this page")
