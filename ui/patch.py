"""Inspect → Patch glue: a clean and a corrupted text, one model, and the grid of what copying one position of the
clean run into the corrupted run restores, after every layer."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core import catalog
from core.errors import CoreError
from core.tasks import patching, snippets
from core.tasks.base import CLASSIFICATION, get_task
from core.viz import heatmaps
from ui import i18n, language, models, render, safe, scenario
from ui.i18n import N_, _

TASKS = ("sentiment", "topic", "sentiment-zh", "generation", "generation-zh")
DEFAULT = "sentiment-minilm"
# (clean, corrupted) per task: one word swapped that changes the answer, the same number of tokens
EXAMPLES = {
    "sentiment": ("The film was great.", "The film was awful."),
    "topic": ("The rocket reached orbit.", "The bible reached orbit."),
    "sentiment-zh": ("这家酒店的服务很好。", "这家酒店的服务很差。"),
    "generation": ("The Australian captain", "The Israeli captain"),
    "generation-zh": ("不能不", "不得不"),
}
MAX_CHARS = 300  # per text box; the token cap (patching.MAX_TOKENS) is checked on the tokens


def candidates() -> dict[str, catalog.ModelSpec]:
    """The Transformer classifiers and causal language models LM Lab has (not VADER: it has no layers)."""
    found = {}
    for task in TASKS:
        for spec in catalog.specs_for_task(task):
            if spec.source in (catalog.TRAINED, catalog.HUB):
                found[spec.key] = spec
    return found


def pick() -> catalog.ModelSpec:
    specs = candidates()
    if st.session_state.get("patch-model") not in specs:
        asked = st.query_params.get("model")
        st.session_state["patch-model"] = asked if asked in specs else DEFAULT
        _fill_example()
    labels = {key: i18n.title(spec) for key, spec in specs.items()}
    key = st.selectbox(_("Model"), list(specs), key="patch-model", on_change=_fill_example,
                       format_func=labels.__getitem__)  # fmt: skip
    return specs[key]


def _fill_example() -> None:
    spec = candidates().get(st.session_state.get("patch-model"))
    if spec is not None:
        st.session_state["patch-clean"], st.session_state["patch-corrupted"] = EXAMPLES[spec.task]
    st.session_state.pop("patch-result", None)


def texts(spec: catalog.ModelSpec) -> tuple[str, str]:
    left, right = st.columns(2)
    clean = left.text_input(_("Clean text"), key="patch-clean", max_chars=MAX_CHARS,
                            help=_("The run whose vectors are copied."))  # fmt: skip
    corrupted = right.text_input(_("Corrupted text"), key="patch-corrupted", max_chars=MAX_CHARS,
                                 help=_("The run they are copied into: the same number of tokens, one word changed "
                                        "that changes the answer."))  # fmt: skip
    language.warn_text(clean + " " + corrupted, spec.languages, i18n.title(spec))
    return clean, corrupted


def run(spec: catalog.ModelSpec, clean: str, corrupted: str) -> None:
    try:
        if get_task(spec.task).family == CLASSIFICATION:
            found = patching.patch_classifier(_classifier(spec), clean, corrupted)
        else:
            found = patching.patch_language_model(models.task_model(spec), clean, corrupted)
    except CoreError as error:
        safe.error(error)
        st.session_state.pop("patch-result", None)
        return
    st.session_state["patch-result"] = (spec.key, clean, corrupted, found)


def _classifier(spec: catalog.ModelSpec):
    predictor = models.predictor(spec)
    if not hasattr(predictor, "exclusive"):
        raise CoreError(_("{model} is not a Transformer LM Lab can hook into.", model=i18n.title(spec)))
    return predictor


def show(spec: catalog.ModelSpec) -> None:
    stored = st.session_state.get("patch-result")
    if not stored or stored[0] != spec.key:
        return
    clean, corrupted, found = stored[1], stored[2], stored[3]
    # the model's class names, translated where they are LM Lab's own (a student's run may name its classes anything)
    clean_answer = safe.md(i18n.class_name(found.clean_answer, spec))
    corrupted_answer = safe.md(i18n.class_name(found.corrupted_answer, spec))
    left, middle, right = st.columns(3)
    left.metric(_("Clean answer"), clean_answer, help=_("m = logit({clean}) − logit({corrupted}) = {value}",
                clean=clean_answer, corrupted=corrupted_answer, value=f"{found.clean_metric:.2f}"))  # fmt: skip
    middle.metric(_("Corrupted answer"), corrupted_answer, help=_("m on the corrupted text: {value}",
                  value=f"{found.corrupted_metric:.2f}"))  # fmt: skip
    right.metric(_("Every position patched → clean logits"), f"{found.all_patched_difference:.1e}",
                 help=_("The largest difference between the logits with every position of a layer patched (any layer) "
                        "and the clean run's; patching nothing gives the corrupted run's logits to {none}. Rounding "
                        "explains up to {tolerance}.", none=f"{found.none_patched_difference:.1e}",
                        tolerance=f"{found.tolerance:.0e}"))  # fmt: skip
    if not found.checks_pass:
        st.error(_("The checks failed: patching every position should give the clean logits and patching none the "
                   "corrupted ones, to rounding. The grid is not shown; please report this model."))  # fmt: skip
        return
    layers = [render.layer_name(name) for name in found.layers]
    columns = [a if a == b else f"{a} → {b}" for a, b in zip(found.clean_tokens, found.corrupted_tokens, strict=True)]
    render.figure(heatmaps.heatmap(found.recovered, title=_("Share of the clean answer's lead restored by one patched vector"),
                                   x_labels=columns, y_labels=layers, x_title=_("position (clean → corrupted)"),
                                   y_title=_("layer"), colorscale="RdBu", text_values=True),
                  key="patch-grid", stem=f"patching-{spec.key}",
                  numbers={"model": spec.key, "clean": clean, "corrupted": corrupted, "layers": found.layers,
                           "clean_tokens": found.clean_tokens, "corrupted_tokens": found.corrupted_tokens,
                           "clean_answer": found.clean_answer, "corrupted_answer": found.corrupted_answer,
                           "recovered": found.recovered, "clean_metric": found.clean_metric,
                           "corrupted_metric": found.corrupted_metric})  # fmt: skip
    st.caption(_("Cell: the corrupted text run again with the hidden state at that position, after that layer, "
                 "replaced by the clean run's; the value is (m(patched) − m(corrupted)) / (m(clean) − m(corrupted)), "
                 "where m is the clean answer's logit minus the corrupted answer's. 1: patching this one vector "
                 "restores the clean answer's whole lead; 0: patching it alone restores none of it (the information "
                 "may still be there, spread over several positions). Rows need not sum to 1; read down the rows to "
                 "see where a single vector suffices: at the changed word early, where the answer is read late."))  # fmt: skip
    rows = [{_("layer"): layers[layer], _("position"): columns[position], _("restored"): round(share, 3)}
            for layer, position, share in found.strongest()]  # fmt: skip
    safe.table(pd.DataFrame(rows), decimals=3, hide_index=True, key="patch-top")
    if found.heads is not None:
        blocks, heads = found.heads.shape
        render.figure(heatmaps.heatmap(found.heads, title=_("Share of the clean answer's lead restored by one head"),
                                       x_labels=[f"H{h}" for h in range(heads)],
                                       y_labels=[render.layer_name(f"block {b + 1}") for b in range(blocks)],
                                       x_title=_("head"), y_title=_("layer"), colorscale="RdBu", text_values=True),
                      key="patch-heads", stem=f"patching-heads-{spec.key}",
                      numbers={"model": spec.key, "clean": clean, "corrupted": corrupted, "heads": found.heads})  # fmt: skip
        st.caption(_("Cell: one head's output — its part of what enters W_O, at every position — copied from the clean "
                     "run into the corrupted one, everything else left corrupted. Heads counted from 0, blocks from 1 "
                     "as in the grid above."))  # fmt: skip
    with st.expander(_("Code to reproduce this"), icon=":material/code:"):
        st.code(snippets.patching(spec, clean, corrupted), language="python")


def page() -> None:
    spec = pick()
    clean, corrupted = texts(spec)
    st.caption(_("At most {most} tokens per text (fewer on big models); one forward pass per layer with a row per "
                 "position and two more, one pass per block with a row per head, one pass for each text, and one more of the clean "
                 "text for the heads.",
                 most=patching.MAX_TOKENS))  # fmt: skip
    if not scenario.ready_or_training([spec], fallback=N_("the Attention page"))[0]:
        return
    if st.button(_("Patch every position after every layer"), key="patch-run", type="primary"):
        run(spec, clean, corrupted)
    show(spec)
