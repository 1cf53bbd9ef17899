"""Challenges → Robustness glue: the character-edit attack on a classifier over its held-out texts."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core import catalog
from core.errors import CoreError
from core.tasks import robustness
from core.tasks.base import tasks
from ui import i18n, models, render, safe
from ui.i18n import _


def _spread(items: list, most: int) -> list:
    step = max(1, len(items) // most)
    return items[::step][:most]


@st.cache_data(max_entries=16, show_spinner=False)
def _attack(key: str, fingerprint: str, texts: int, edits: int, _model) -> robustness.Robustness:  # one per setting
    split, _labels = tasks()[catalog.get_spec(key).task].held_out()
    chosen = _spread(list(split.test), texts)
    return robustness.measure(_model.predict_batch, [e.text for e in chosen], [e.label for e in chosen],
                              max_edits=edits)  # fmt: skip


def panel() -> None:
    specs = models.ready_classifiers()
    if not specs:
        st.info(_("No classifier is ready yet: train one on the Train page (or python -m core.train --all)."))
        return
    titles = {key: i18n.title(spec) for key, spec in specs.items()}
    key = st.selectbox(_("Classifier"), list(specs), key="robust-model", format_func=titles.get)
    st.session_state.setdefault("robust-texts", 20)  # set before the sliders are drawn: they take no default
    st.session_state.setdefault("robust-edits", 3)
    left, right = st.columns(2)
    texts = left.slider(_("Held-out texts to attack (at most {most})", most=robustness.MAX_TEXTS), 5,
                        robustness.MAX_TEXTS, step=5, key="robust-texts")  # fmt: skip
    edits = right.slider(_("Edits allowed per text"), 1, robustness.MAX_EDITS, key="robust-edits")
    if st.button(_("Run the attack"), key="robust-run", type="primary"):
        spec = specs[key]
        try:
            with st.spinner(render.queue_note(_("Attacking up to {count} texts…", count=texts))):
                found = _attack(key, catalog.weights_sha256(spec), texts, edits, models.predictor(spec))
        except CoreError as error:
            safe.error(error)
            return
        st.session_state["robust-result"] = (key, texts, edits, found)
    stored = st.session_state.get("robust-result")
    if stored and stored[0] == key:
        _show(stored[3])


def _show(found: robustness.Robustness) -> None:
    if not found.attacked:
        st.info(_("The model got none of these texts right: there is nothing to attack."))
        return
    first, second, third = st.columns(3)
    first.metric(_("Answers turned"), f"{100 * found.flip_share:.0f} %",
                 help=_("95 % bootstrap CI: [{low} %, {high} %], over {count} texts the model first answered correctly.",
                        low=f"{100 * found.flip_low:.0f}", high=f"{100 * found.flip_high:.0f}", count=len(found.attacked)))  # fmt: skip
    second.metric(_("Mean edits needed"), "–" if found.mean_edits is None else f"{found.mean_edits:.1f}")
    third.metric(_("Texts it already got wrong"), str(found.skipped))
    rows = [{_("before"): a.text, _("after"): a.edited, _("edits"): a.edits,
             _("answer"): f"{_(a.label)} → {_(a.new_label)}"} for a in found.attacked if a.flipped]  # fmt: skip
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True)  # shown as text
    st.caption(_("Each edit is a typing mistake in the word whose removal most lowered the model's confidence: two "
                 "inner letters swapped (four letters or more), else the last letter dropped; two neighbouring Chinese "
                 "characters swapped. A reader usually still understands the text; a model that reads subword pieces "
                 "may not. Compare "
                 "the models: MiniLM, pretrained on a large corpus, against the tiny model trained from scratch."))  # fmt: skip
