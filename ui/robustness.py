"""Challenges → Robustness glue: the character-edit attack on a classifier over its own held-out texts.

The attack runs once per model version at the caps, in a shared background run; the sliders only read it."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core import catalog
from core.errors import CoreError
from core.tasks import robustness
from core.tasks.base import own_dataset
from ui import i18n, models, render, safe, shared_runs
from ui.i18n import _


def _attackable() -> dict[str, catalog.ModelSpec]:
    """Ready classifiers trained here on a dataset whose held-out texts LM Lab holds (never seen in training)."""
    return {key: spec for key, spec in models.ready_classifiers().items() if own_dataset(spec)}


def panel() -> None:
    specs = _attackable()
    if not specs:
        st.info(_("No classifier trained here is ready yet: train one on the Train page (or python -m core.train "
                  "--all)."))  # fmt: skip
        return
    titles = {key: i18n.title(spec) for key, spec in specs.items()}
    key = st.selectbox(_("Classifier"), list(specs), key="robust-model", format_func=titles.get)
    spec = specs[key]
    run_key = ("robustness", key, catalog.weights_sha256(spec))
    run = shared_runs.state(run_key)
    if run is None or "error" in run:
        st.caption(_("The attack runs once per model on {texts} of its held-out texts with up to {edits} edits each "
                     "(texts cut to their first {words} words); everyone in the class then reads it.",
                     texts=robustness.MAX_TEXTS, edits=robustness.MAX_EDITS, words=robustness.MAX_WORDS))  # fmt: skip
        if not st.button(_("Run the attack"), key="robust-run", type="primary"):
            if run is not None:
                safe.error(run["error"])
            return
        try:
            texts, labels = robustness.held_out_texts(own_dataset(spec))
            model = models.predictor(spec)
        except CoreError as error:
            safe.error(error)
            return
        run = shared_runs.start(run_key, lambda progress: robustness.run(
            model.predict_batch, texts, labels, progress=lambda done, total: progress(done / total)))
    shared_runs.wait(run, render.queue_note(_("Attacking {count} held-out texts…", count=robustness.MAX_TEXTS)))
    if "error" in run:
        safe.error(run["error"])
        return
    _show(run["result"])


def _show(found: robustness.Attack) -> None:
    st.session_state.setdefault("robust-texts", len(found.results))  # set before the sliders: they take no default
    st.session_state.setdefault("robust-edits", 3)
    left, right = st.columns(2)
    texts = left.slider(_("Held-out texts (at most {most})", most=len(found.results)), 5, len(found.results),
                        step=5, key="robust-texts")  # fmt: skip
    edits = right.slider(_("Edits allowed per text"), 1, robustness.MAX_EDITS, key="robust-edits")
    summary = found.summary(texts, edits)
    first, second, third, fourth = st.columns(4)
    for column, title, estimate, help_text in (
        (first, _("Accuracy"), summary.clean, _("Before the attack, on {count} held-out texts.", count=texts)),
        (second, _("Accuracy under attack"), summary.attacked,
         _("With at most {edits} edits per text.", edits=edits)),
        (third, _("Answers turned"), summary.turned,
         _("Of the {count} texts the model first answered correctly.",
           count=summary.turned.n if summary.turned else 0)),
    ):  # fmt: skip
        if estimate is None:
            column.metric(title, "–")
            continue
        column.metric(title, f"{100 * estimate.value:.0f} %", help=help_text + " " + _(
            "95 % Wilson interval: [{low} %, {high} %].", low=f"{100 * estimate.low:.0f}",
            high=f"{100 * estimate.high:.0f}"))  # fmt: skip
    fourth.metric(_("Mean edits needed"), "–" if summary.mean_edits is None else f"{summary.mean_edits:.1f}",
                  help=_("Over the texts whose answer turned."))  # fmt: skip
    rows = [{_("before"): before, _("after"): after, _("edits"): count, _("answer"): f"{_(old)} → {_(new)}"}
            for before, after, old, new, count in summary.examples]  # fmt: skip
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True)  # shown as text
    st.caption(_("Words are edited in the order of how much removing each one lowered the model's confidence in its "
                 "answer (occlusion). An edit swaps two inner letters of an English word (a word of two or three "
                 "letters gets its last letter doubled; one-letter words are left alone) or two neighbouring "
                 "characters of a Chinese word (jieba's words; one-character words and words holding a negation such "
                 "as 不 or 没 are left alone). A reader still understands the text; a model that reads subword pieces "
                 "may not. Compare accuracy under attack across models: the share turned alone favours a model that "
                 "got fewer texts right to begin with."))  # fmt: skip
