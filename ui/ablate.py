"""Inspect → Ablate glue: switch heads and MLPs of a GPT off on the user's text and rank every head on held-out
text; the same switches on a BERT-class classifier, with its held-out accuracy both ways."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from core import catalog
from core.errors import CoreError
from core.tasks import ablation, ablation_classifier, snippets
from core.tasks.inputs import check_text
from core.viz import charts, heatmaps
from ui import ablate_compare, i18n, models, render, safe, scenario, shared_runs
from ui.i18n import N_, _


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
                                                       _("switched off"): found.after}), key="ablate-tokens",
                  stem=f"ablation-{spec.key}",
                  numbers={"model": spec.key, "text": text, "heads_off": [list(h) for h in heads], "mlps_off": list(mlps),
                           "tokens": found.tokens, "logprob_whole_model": found.before, "logprob_switched_off": found.after,
                           "perplexity_whole_model": found.perplexity_before,
                           "perplexity_switched_off": found.perplexity_after})  # fmt: skip
    st.caption(_("Each bar: the log-probability of that token given the ones before it. Where the whole model's bar "
                 "is closer to 0 (shorter), the parts you switched off helped predict that token; where it is longer, they worked "
                 "against it."))  # fmt: skip
    with st.expander(_("Code to reproduce this"), icon=":material/code:"):
        st.code(snippets.ablation(spec, text, heads, mlps), language="python")


def sweep(spec: catalog.ModelSpec) -> None:
    lm = models.task_model(spec)
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
    version = catalog.weights_sha256(spec)
    found = shared_sweep(("ablation", spec.key, version, mode),
                         _("Rank every head and MLP on held-out text"), "ablate-sweep",
                         lambda progress: ablation.sweep_model(lm, progress, mean=mode == "mean"),
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
                                help=_("Zeroing is what the rest of this page does. A zero output can be far from "
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
                     "layer's heads (switched off together above, by zeroing), not with one head; the colours span the heads' values, and an MLP beyond them "
                     "shows at full colour."))  # fmt: skip
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
    st.dataframe(pd.DataFrame(table), hide_index=True, key=f"{key}-table")


# what to try while a model trains: the page shows one kind of model at a time, so point at the switch
WHILE_TRAINING = N_("the language-model choice at the top of this page")
CLASSIFIER_EXAMPLES = {"en": "A warm, funny and moving film.", "zh": "这家酒店的服务很好，房间也很干净。"}


def classifier_section() -> None:
    """Switch heads and MLPs of a Transformer classifier off: its answer for the user's text, and (for a model
    trained here) its held-out accuracy both ways with a paired CI. Nothing loads before the student asks."""
    from ui import language, patch

    if not scenario.when_asked(_("Open a classifier"), key="ablate-classifier-open"):
        return
    specs = {key: spec for key, spec in patch.candidates().items() if not spec.task.startswith("generation")}
    if st.session_state.get("ablate-classifier") not in specs:
        st.session_state["ablate-classifier"] = "sentiment-minilm" if "sentiment-minilm" in specs else next(iter(specs))
        _classifier_changed()
    labels = {key: i18n.title(spec) for key, spec in specs.items()}
    spec = specs[st.selectbox(_("Classifier"), list(specs), key="ablate-classifier", format_func=labels.__getitem__,
                              on_change=_classifier_changed)]  # fmt: skip
    if not scenario.ready_or_training([spec], fallback=WHILE_TRAINING)[0]:
        return
    text = st.text_input(_("Text"), key="ablate-classifier-text", max_chars=500)
    language.warn_text(text, spec.languages, i18n.title(spec))
    try:
        classifier, version = models.predictor_and_version(spec)
        layers, heads = ablation.shape(getattr(classifier, "model", None))
    except (CoreError, AttributeError):
        st.caption(_("LM Lab cannot switch off {model}'s heads: its layers are not laid out like BERT's or GPT-2's.",
                     model=safe.md(i18n.title(spec))))  # fmt: skip
        return
    left, right = st.columns([2, 1])
    chosen = left.multiselect(_("Heads to switch off"), [(layer, head) for layer in range(layers) for head in range(heads)],
                              key=f"ablate-classifier-heads-{spec.key}", format_func=lambda pair: f"L{pair[0]} H{pair[1]}",
                              help=_("L = layer, H = head, both from 0."))  # fmt: skip
    mlps = right.multiselect(_("MLPs to switch off"), list(range(layers)), key=f"ablate-classifier-mlps-{spec.key}",
                             format_func=lambda layer: f"MLP L{layer}")  # fmt: skip
    if st.button(_("Run the classifier with these switched off"), key="ablate-classifier-run"):
        _run_classifier(spec, classifier, version, text, chosen, mlps)
    _show_classifier(spec, version)
    _classifier_sweep(spec, classifier, version)


def _classifier_changed() -> None:
    from core import catalog

    spec = catalog.get_spec(st.session_state["ablate-classifier"])
    st.session_state["ablate-classifier-text"] = CLASSIFIER_EXAMPLES["zh" if "zh" in spec.languages else "en"]


def _held_out(spec, classifier) -> tuple[list[str], list[int]] | None:
    """The held-out texts and label indices of the data a classifier was trained on here; None for any other."""
    from core.tasks.base import get_task, own_dataset

    dataset = own_dataset(spec)
    if not dataset:
        return None
    split, _labels = get_task(spec.task).held_out(dataset)
    index = classifier.model.config.label2id
    pairs = [(e.text, index[e.label]) for e in split.test if e.label in index]
    return [pair[0] for pair in pairs], [pair[1] for pair in pairs]


def _max_length(spec) -> int | None:
    """The token length the model was trained at (its recipe's), None for a model not trained here."""
    card = catalog.read_metadata(spec.key) if spec.trained_here else None
    return card.recipe.get("max_length") if card else None


def _run_classifier(spec, classifier, version: str, text: str, heads, mlps) -> None:
    max_length = _max_length(spec)
    try:
        held_out = _held_out(spec, classifier)
        with st.spinner(render.queue_note(_("Running with and without the chosen parts…"))):
            found = ablation_classifier.classifier_effect(classifier, text, heads, mlps, None, max_length=max_length,
                                                          version=version)  # fmt: skip
    except CoreError as error:
        safe.error(error)
        return
    run = None
    if held_out is not None and len(held_out[0]):
        try:
            run = start_held_out(("ablation-classifier-parts", spec.key, version, parts_key(heads, mlps)),
                                 lambda progress: ablation_classifier.held_out_change(
                                     classifier, held_out, heads, mlps, max_length=max_length, version=version,
                                     report=progress))  # fmt: skip
        except CoreError as error:
            safe.error(error)
            return
    code = snippets.classifier_ablation(spec, check_text(text), heads, mlps, min(max_length or classifier.max_tokens,
                                                                     classifier.max_tokens))  # fmt: skip
    st.session_state["ablate-classifier-result"] = ((spec.key, version), list(heads), list(mlps), found, code, run)


def _classifier_sweep(spec, classifier, version: str) -> None:
    """Every head of a classifier trained here switched off alone, ranked by the held-out accuracy it costs (a
    shared background run: the sessions that ask for the same model and version wait for one sweep)."""
    held_out = _held_out(spec, classifier)
    if held_out is None:
        return
    st.subheader(_("Every head, ranked by held-out accuracy"))
    max_length = _max_length(spec)
    mode = switch_off_mode("ablate-classifier-sweep-mode")
    found = shared_sweep(("ablation-classifier", spec.key, version, mode), _("Rank every head on held-out texts"),
                         "ablate-classifier-sweep", lambda progress: ablation_classifier.classifier_sweep(
                             classifier, held_out, max_length=max_length, version=version, report=progress,
                             mean=mode == "mean"))  # fmt: skip
    if found is None:
        return
    ranking(found, rows=[f"L{n}" for n in range(found["delta"].shape[0])], scale=100,
            title=_("Δ held-out accuracy (points) when one head is switched off"), column=_("Δ accuracy (points)"),
            costliest="lowest", key="ablate-classifier-sweep", stem="classifier-ablation-sweep",
            numbers={"delta_accuracy_points": 100 * found["delta"], "low_points": 100 * found["low"],
                     "high_points": 100 * found["high"], "texts_worse": found["worse"], "texts_better": found["better"],
                     "exact_p": found["p"], "base_accuracy_percent": 100 * float(found["base"]),
                     "texts": int(found["texts"]), "mean_tokens": int(found.get("mean_tokens", 0))})  # fmt: skip
    means = int(found.get("mean_tokens", 0))
    st.caption(_("Accuracy of the whole model on {count} held-out texts: {base} %. Each head is switched off alone "
                 "({how}); the CI resamples the same texts for both (paired bootstrap). Only "
                 "the texts whose answer changed carry information: “worse / better” counts the texts turned wrong "
                 "and right, and the exact p (McNemar's exact test) is the test to trust when few changed — the "
                 "bootstrap CI is then too narrow. Each head's interval and p stand alone: with {heads} heads ranked, "
                 "some will look significant by chance. A head whose Δ is near 0 costs little on its own; heads that "
                 "back each other up can still cost a lot together — try switching several off above.",
                 count=int(found["texts"]), base=f"{100 * float(found['base']):.1f}", heads=int(found["delta"].size),
                 how=_("its output before W_O replaced by its mean over the first {tokens} tokens of the same held-out "
                       "texts, each read alone; at [CLS], where the answer is read, by its mean at [CLS]",
                       tokens=f"{means:,}") if means else _("its output zeroed before W_O")))  # fmt: skip
    ablate_compare.both_modes({m: ("ablation-classifier", spec.key, version, m) for m in SWITCH_OFF},
                              [f"L{n}" for n in range(found["delta"].shape[0])],
                              [f"H{h}" for h in range(found["delta"].shape[1])], measure=_("accuracy (points)"),
                              costliest="lowest", stem=f"classifier-ablation-modes-{spec.key}",
                              key="ablate-classifier-sweep", scale=100)  # fmt: skip


def _show_classifier(spec, version: str) -> None:
    stored = st.session_state.get("ablate-classifier-result")
    if not stored or stored[0] != (spec.key, version):  # another model, or this one before a retrain
        return
    heads, mlps, found, code, run = stored[1], stored[2], stored[3], stored[4], stored[5]
    rows = [{_("class"): _(label), _("whole model"): round(before, 4), _("switched off"): round(after, 4)}
            for label, before, after in zip(found.labels, found.before, found.after, strict=True)]  # fmt: skip
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="ablate-classifier-table")
    accuracy = held_out_result(run) if run is not None else None
    if accuracy is not None:
        left, right = st.columns(2)
        left.metric(_("Held-out accuracy, whole model"), f"{100 * accuracy['before']:.1f} %")
        right.metric(_("With {count} switched off", count=len(heads) + len(mlps)), f"{100 * accuracy['after']:.1f} %",
                     f"{100 * accuracy['delta']:+.1f}", delta_color="normal")  # fmt: skip
        st.caption(_("On {n} held-out texts of the data the model was trained on; the change {delta} points has a 95 % "
                     "paired bootstrap CI of [{low}, {high}] (the same texts both ways); {worse} texts turned wrong and "
                     "{better} right (McNemar's exact test p = {p}: the test to trust when few changed). Heads are "
                     "switched off by zeroing their output before W_O; an MLP by zeroing what it adds (BERT's layer "
                     "norm after it still runs).", n=accuracy["n"], delta=f"{100 * accuracy['delta']:+.1f}",
                     low=f"{100 * accuracy['low']:+.1f}", high=f"{100 * accuracy['high']:+.1f}",
                     worse=accuracy.get("worse", 0), better=accuracy.get("better", 0),
                     p=f"{accuracy.get('p', 1.0):.3f}"))  # fmt: skip
    elif run is None:
        st.caption(_("No held-out texts are known for this model (it was not trained here on one of LM Lab's "
                     "datasets): only your text is compared."))  # fmt: skip
    with st.expander(_("Code to reproduce this"), icon=":material/code:"):
        st.code(code, language="python")
