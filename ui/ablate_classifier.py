"""Inspect → Ablate, the classifier section: switch heads and MLPs of a BERT-class classifier off, its answer for
the user's text and, for a model trained here, its held-out accuracy both ways; every head ranked by what it costs."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core import catalog
from core.errors import CoreError
from core.tasks import ablation, ablation_classifier, ablation_code
from core.tasks.inputs import check_text
from ui import ablate, ablate_compare, i18n, models, render, safe, scenario
from ui.ablate import (
    SWITCH_OFF,
    WHILE_TRAINING,
    held_out_result,
    parts_key,
    ranking,
    shared_sweep,
    start_held_out,
    switch_off_mode,
)
from ui.i18n import _

CLASSIFIER_EXAMPLES = {"en": "A warm, funny and moving film.", "zh": "这家酒店的服务很好，房间也很干净。"}


def section() -> None:
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
                              placeholder=_("Choose options"), key=f"ablate-classifier-heads-{spec.key}", format_func=lambda pair: f"L{pair[0]} H{pair[1]}",
                              help=_("L = layer, H = head, both from 0."))  # fmt: skip
    mlps = right.multiselect(_("MLPs to switch off"), list(range(layers)), placeholder=_("Choose options"), key=f"ablate-classifier-mlps-{spec.key}",
                             format_func=lambda layer: f"MLP L{layer}")  # fmt: skip
    try:  # read once a rerun, for the button and the sweep; mean ablation averages over these: none, no means
        held_out = ablation_classifier.held_out_texts(classifier)
    except CoreError as error:
        safe.error(error)
        return
    mode = ablate.hand_picked_mode("ablate-classifier-mode", held_out)
    if st.button(_("Run the classifier with these switched off"), key="ablate-classifier-run"):
        _run_classifier(spec, classifier, version, text, (chosen, mlps), held_out, mode)
    _show_classifier(spec, version)
    _classifier_sweep(spec, classifier, version, held_out)


def _classifier_changed() -> None:
    from core import catalog

    spec = catalog.get_spec(st.session_state["ablate-classifier"])
    st.session_state["ablate-classifier-text"] = CLASSIFIER_EXAMPLES["zh" if "zh" in spec.languages else "en"]


def _max_length(spec) -> int | None:
    """The token length the model was trained at (its recipe's), None for a model not trained here."""
    card = catalog.read_metadata(spec.key) if spec.trained_here else None
    return card.recipe.get("max_length") if card else None


def _run_classifier(spec, classifier, version: str, text: str, parts, held_out, mode: str) -> None:
    (heads, mlps), max_length = parts, _max_length(spec)
    if ablate.nothing_to_switch_off(heads, mlps):
        return
    try:
        means = ablate.means_if_asked(mode, heads, mlps, lambda: ablation_classifier.held_out_means(
            classifier, held_out, max_length=max_length, version=version))  # fmt: skip
        with st.spinner(render.queue_note(_("Running with and without the chosen parts…"))):
            found = ablation_classifier.classifier_effect(classifier, text, heads, mlps, None, max_length=max_length,
                                                          version=version, means=means)  # fmt: skip
    except CoreError as error:
        safe.error(error)
        return
    run = None
    if held_out is not None and len(held_out[0]):
        try:
            run = start_held_out(("ablation-classifier-parts", spec.key, version, parts_key(heads, mlps), bool(means)),
                                 lambda progress: ablation_classifier.held_out_change(
                                     classifier, held_out, heads, mlps, max_length=max_length, version=version,
                                     mean=means is not None, report=progress))  # fmt: skip
        except CoreError as error:
            safe.error(error)
            return
    code = ablation_code.classifier_ablation(spec, check_text(text), heads, mlps, min(max_length or classifier.max_tokens,
                                                                     classifier.max_tokens), mean=means is not None)  # fmt: skip
    st.session_state["ablate-classifier-result"] = ((spec.key, version), list(heads), list(mlps), found, code, run,
                                                    means["tokens"] if means else 0)  # fmt: skip


def _classifier_sweep(spec, classifier, version: str, held_out) -> None:
    """Every head of a classifier trained here switched off alone, ranked by the held-out accuracy it costs (a
    shared background run: the sessions that ask for the same model and version wait for one sweep)."""
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
    heads, mlps, found, code, run, means = stored[1:]
    rows = [{_("class"): _(label), _("whole model"): round(before, 4), _("switched off"): round(after, 4)}
            for label, before, after in zip(found.labels, found.before, found.after, strict=True)]  # fmt: skip
    safe.table(pd.DataFrame(rows), hide_index=True, key="ablate-classifier-table")
    accuracy = held_out_result(run) if run is not None else None
    if accuracy is not None:
        left, right = st.columns(2)
        left.metric(_("Held-out accuracy, whole model"), f"{100 * accuracy['before']:.1f} %")
        right.metric(_("With {count} switched off", count=len(heads) + len(mlps)), f"{100 * accuracy['after']:.1f} %",
                     f"{100 * accuracy['delta']:+.1f}", delta_color="normal")  # fmt: skip
        st.caption(_("On {n} held-out texts of the dataset the model was trained on; the change {delta} points has a 95 % "
                     "paired bootstrap CI of [{low}, {high}] (the same texts both ways); {worse} texts turned wrong and "
                     "{better} right (McNemar's exact test p = {p}: the test to trust when few changed).",
                     n=accuracy["n"], delta=f"{100 * accuracy['delta']:+.1f}",
                     low=f"{100 * accuracy['low']:+.1f}", high=f"{100 * accuracy['high']:+.1f}",
                     worse=accuracy.get("worse", 0), better=accuracy.get("better", 0),
                     p=f"{accuracy.get('p', 1.0):.3f}") + " " + _how(means))  # fmt: skip
    elif run is None:
        st.caption(_("No held-out texts are known for this model (it was not trained here on one of LM Lab's "
                     "datasets): only your text is compared.") + " " + _how(means))  # fmt: skip
    else:
        st.caption(_how(means))
    with st.expander(_("Code to reproduce this"), icon=":material/code:"):
        st.code(code, language="python")


def _how(means: int) -> str:
    """How a hand-picked run switched its parts off: zeroed, or replaced by their means over ``means`` tokens."""
    if not means:
        return _("Heads are switched off by zeroing their output before W_O; an MLP by zeroing what it adds (BERT's "
                 "layer norm after it still runs).")
    return _("Each part was replaced by its mean output over the first {tokens} tokens of the held-out texts, at "
             "[CLS] by its mean at [CLS]: the means the ranking below uses for its heads when run in that mode.", tokens=f"{means:,}")
