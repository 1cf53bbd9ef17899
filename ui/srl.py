"""Semantic role labeling page glue: predicate choice, frames as coloured spans and as a table."""

from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st

from core import catalog
from core.data.srl import ROLE_MEANINGS
from core.errors import CoreError
from core.tasks import snippets
from core.viz import charts, spans
from ui import models, render, safe
from ui.i18n import N_, _, plural

EXAMPLES = [
    "The teacher gave the student a book in the classroom yesterday.",
    "A letter was sent to my sister by John on Monday.",
    "Maria said that the children ate the cake in the kitchen.",
    "The old man wanted to repair the radio carefully.",
    "The police did not find the keys because of the storm.",
    "Officials said the fire destroyed several homes near Sydney on Tuesday.",
]
KIND_NAMES = {"unseen combination": N_("unseen combination"), "unseen verb": N_("unseen verb"),
              "fronted time phrase": N_("fronted time phrase")}  # the held-out sentences' kinds, as core names them


def predicate_choice(text: str) -> list[int] | None:
    """A multiselect of the sentence's words, pre-filled with the likely verbs; None when the text is unusable."""
    from core.errors import CoreError
    from core.tasks.inputs import check_text
    from core.tasks.srl import split_words, suggest_predicates

    try:
        text = check_text(text)  # the length cap before one option per word is built
    except CoreError:
        return None
    words = split_words(text)
    if not words:
        return None
    key = "srl-predicates-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
    options = list(range(len(words)))
    chosen = st.multiselect(
        _("Predicates (verbs) to label — one frame each"), options, default=suggest_predicates(words)[:6],
        format_func=[_("{word} (word {number})", word=w, number=i + 1) for i, w in enumerate(words)].__getitem__, placeholder=_("Choose options"), key=key,
        max_selections=6,
        help=_("LM Lab pre-selects the verbs it recognises; add or remove any word."),
    )  # fmt: skip
    return chosen


def label(spec, text: str, predicates: list[int]) -> None:
    try:
        result = models.task_model(spec).label(text, predicates)
    except CoreError as error:
        safe.error(error)
        return
    st.session_state["srl-result"] = (spec.key, result)


def show(spec) -> None:
    stored = st.session_state.get("srl-result")
    if not stored or stored[0] != spec.key:
        return
    result = stored[1]
    rows, roles_seen = [], set()
    meanings = {role: _(meaning) for role, meaning in ROLE_MEANINGS.items()}  # in the session's language
    for frame in sorted(result.frames, key=lambda f: f.predicate):
        frame_spans = frame.spans()
        roles_seen.update(role for role, *where in frame_spans)
        title = _("Frame of “{word}”", word=result.words[frame.predicate])
        st.html(spans.frame_row(result.words, frame_spans, title=title, meanings=meanings))
        for role, start, end in frame_spans:
            if role == "V":
                continue
            confidence = min(frame.confidence[start : end + 1]) if end >= start else 0.0
            rows.append({_("predicate"): result.words[frame.predicate], _("role"): role,
                         _("meaning"): meanings.get(role, role), _("text"): " ".join(result.words[start : end + 1]),
                         _("lowest word confidence"): round(confidence, 3)})  # fmt: skip
    order = ["V", *[r for r in ROLE_MEANINGS if r != "V"]]
    st.html(spans.legend([role for role in order if role in roles_seen], meanings))
    st.markdown("#### " + _("Who did what to whom, when and where"))
    if rows:
        safe.table(pd.DataFrame(rows), hide_index=True, width="stretch")
    else:
        st.info(_("The model found no arguments for these predicates."))
    st.caption(
        plural(len(result.frames), N_("Latency {ms} ms for {count} frame (one row; rows of sessions asking at the same "
                                      "moment share passes, so the time includes any wait for them)."),
               N_("Latency {ms} ms for {count} frames (one row each; rows of sessions asking at the same moment share "
                  "passes, so the time includes any wait for them)."), ms=f"{result.latency_ms:.0f}")
    )  # fmt: skip
    if result.truncated:
        st.warning(
            _("The sentence was longer than the model's window; words past the end were left unlabelled.")
        )
    with st.expander(_("Code to reproduce this"), icon=":material/code:"):
        st.code(snippets.srl(spec, result.words, [f.predicate for f in result.frames]), language="python")


def _span_f1(estimate: dict) -> str:
    """F1 with its bootstrap CI; when every frame was right the bootstrap cannot move off 100 %, so the interval shown
    is Wilson's for "all n frames right" (a frame fully right is what a perfect F1 needs)."""
    if estimate["value"] < 1 or not estimate.get("n"):
        return f"{100 * estimate['value']:.1f} % [{100 * estimate['low']:.1f}, {100 * estimate['high']:.1f}]"
    from core.stats import wilson

    low = wilson(int(estimate["n"]), int(estimate["n"])).low
    return _("100 % (all {n} frames fully right: a 95 % Wilson interval for that share is [{low}, 100])", n=estimate["n"],
             low=f"{100 * low:.1f}")


def quality(spec) -> None:
    meta = catalog.read_metadata(spec.key) if spec.trained_here else None
    if not meta or "per_role" not in meta:
        return
    with st.expander(_("Held-out quality per role, and where this model fails"), icon=":material/fact_check:"):
        from core.data.srl import HELD_OUT_KINDS

        by_kind = meta.get("by_kind", {})
        if by_kind:
            safe.table(
                pd.DataFrame([{_("held-out sentences"): _(KIND_NAMES.get(kind, kind)),
                               _("what is new"): _(HELD_OUT_KINDS.get(kind, "")),
                               _("span F1"): _span_f1(e), _("frames"): e["n"]} for kind, e in by_kind.items()]),
                hide_index=True, width="stretch",
            )  # fmt: skip
        table = pd.DataFrame(meta["per_role"]).T.reset_index(names="role")
        table["meaning"] = table["role"].map(lambda role: _(ROLE_MEANINGS.get(role, role)))
        columns = {"role": _("role"), "meaning": _("meaning"), "precision": _("precision"), "recall": _("recall"),
                   "f1": "F1", "support": _("support")}  # fmt: skip
        safe.table(table[list(columns)].rename(columns=columns), hide_index=True, width="stretch")
        data = meta.get("data", {})
        st.markdown(
            _("Trained on {train} generated frames, scored on {test} frames with something never seen in training: a "
              "verb in a construction it never had in training (the passive for some verbs, the active or a "
              "coordination for others), three verbs absent "
              "from training, or a time phrase moved to the front (table above). **Trained on generated data:** the "
              "sentences are simple and complete, every verb comes from a list of about 40, and roles are always in "
              "their usual places. On real text expect errors with verbs it never saw, light verbs and idioms (\"take "
              "a walk\"), long or nested clauses, questions, and arguments far from their verb. Seen in one run here: on "
              "“Officials said the fire destroyed several homes near Sydney on Tuesday.” it labels *the fire* as ARG1 "
              "of *destroyed* (it is the ARG0, the thing that destroyed), and it ends what was said (ARG1 of *said*) at "
              "*homes*, giving *near Sydney* to *said* as the place of the saying — in its training data a reported "
              "clause always begins with *that*.",
              train=data.get("train_frames", "?"), test=data.get("test_frames", "?"))
        )  # fmt: skip
        if meta.get("loss_curve"):
            render.figure(charts.loss_curve(meta["loss_curve"]), key="srl-loss")
    with st.expander(_("Train on real SRL data (CoNLL-2012, online)"), icon=":material/cloud_download:"):
        from core.training.recipes import CONLL_DATASET

        st.markdown(
            _("The CoNLL-2012 (OntoNotes 5) frames are on the Hugging Face Hub as `{dataset}`. Each sentence there has "
              "`words` and, per predicate, `srl_frames` with BIO tags in the same PropBank labels used here (ARG0, "
              "ARGM-TMP, …). With internet, start it from the **Train** page (*Translation, semantic roles, text "
              "generation — and real SRL data*), or run", dataset=CONLL_DATASET)
            + "\n\n```\npython -m core.train --name srl-conll --task srl --dataset hub "
            f"--hub-dataset {CONLL_DATASET} --set examples=4000\n```\n\n"
            + _("and the model appears in this page's picker. Offline, LM Lab cannot fetch it.")
        )  # fmt: skip
        st.page_link("pages/train.py", label=_("Open the Train page"), icon=":material/model_training:")
