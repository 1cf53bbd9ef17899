"""Topic page glue: trained classifiers and zero-shot by sentence similarity."""

from __future__ import annotations

import streamlit as st

from core import catalog
from core.errors import CoreError
from core.tasks import snippets
from core.viz import charts
from ui import i18n, models, render, safe
from ui.i18n import N_, _

EXAMPLES = [
    "The shuttle's heat shield tiles were inspected before the orbiter returned to Earth.",
    "If there is no god, where does morality come from? Atheists answer that question differently.",
    "The probe will reach Jupiter's moons after a six-year cruise through the outer solar system.",
]


def labels_prompt() -> str:
    """The labels box's label, with the caps the two zero-shot methods apply (the NLI model takes fewer)."""
    from core.tasks.zero_shot import MAX_LABEL_CHARS, MAX_LABELS, NLI_MAX_LABELS

    return _("Candidate labels, comma-separated (2 to {most}; at most {nli} with the NLI model; each up to {chars} "
             "characters)", most=MAX_LABELS, nli=NLI_MAX_LABELS, chars=MAX_LABEL_CHARS)


def zero_shot_classifier():
    from core.tasks.zero_shot import ZeroShotClassifier

    return ZeroShotClassifier(models.sentence_encoder())


@st.cache_data(show_spinner=False)
def _zero_shot_quality() -> dict:
    from core.tasks.zero_shot import heldout_accuracy

    return heldout_accuracy(zero_shot_classifier()).as_dict()


def zero_shot_quality() -> dict:
    with st.spinner(_("Scoring zero-shot on the 50 held-out newsgroup posts…")):
        return _zero_shot_quality()


def classify(spec, text: str) -> None:
    try:
        result = models.predictor(spec).predict(text)
    except CoreError as error:
        safe.error(error)
        return
    measured = models.quality_text(models.quality(spec))
    st.markdown(f"#### {safe.md(i18n.title(spec))}")
    st.caption(_(catalog.SOURCE_LABELS[spec.source]) + (" · " + _("held-out {measured}", measured=measured)
                                                          if measured else ""))  # fmt: skip
    render.sentiment_result(result, title="", key="topic-chart", model=i18n.title(spec))
    with st.expander(_("Code to reproduce this"), icon=":material/code:"):
        st.code(snippets.classifier(spec, text, max(result.max_tokens, 1)), language="python")


@st.cache_resource(max_entries=1, show_spinner=False)
def _nli_classifier():
    from core.tasks.zero_shot import NliZeroShot

    return NliZeroShot(catalog.BART_MNLI)


def nli_classifier():
    with st.spinner(_("Loading the NLI model from the Hub…")):
        return _nli_classifier()


def zero_shot_method() -> str:
    """MiniLM similarity always; the Hub's NLI model when online (listed with the reason otherwise)."""
    state = catalog.availability(catalog.BART_MNLI)
    options = [N_("MiniLM similarity (offline)"), N_("BART-large MNLI (Hub)")]
    choice = st.segmented_control(
        _("Zero-shot method"), options, default=options[0], key="topic-zs-method", required=True,
        format_func=i18n.labels(options)
    )
    if choice == options[1] and not state.ready:
        st.warning(f"{_(catalog.BART_MNLI.title)}: {_(state.reason)}.", icon=":material/cloud_off:")
    return "nli" if choice == options[1] else "similarity"


def zero_shot(text: str, raw_labels: str, template: str, method: str = "similarity", *, clicked: bool = True) -> None:
    """Classify on a click and keep the result in the session: it stays on screen across reruns (a slider moved
    elsewhere, another session's job finishing) as long as the inputs are unchanged."""
    from core.tasks.zero_shot import parse_labels

    asked = (text, raw_labels, template, method)
    if clicked:
        try:
            labels = parse_labels(raw_labels)
            if method == "nli":
                result = nli_classifier().classify(text, labels, template)
            else:
                classifier = zero_shot_classifier()
                if template != classifier.template:
                    from core.tasks.zero_shot import ZeroShotClassifier

                    classifier = ZeroShotClassifier(classifier.encoder, template)
                result = classifier.classify(text, labels)
        except CoreError as error:
            st.session_state.pop("topic-zs-result", None)
            safe.error(error)
            return
        st.session_state["topic-zs-result"] = (asked, labels, result)
    stored = st.session_state.get("topic-zs-result")
    if not stored or stored[0] != asked:
        return
    _show_zero_shot(text, stored[1], stored[2], method)


def _show_zero_shot(text: str, labels: list[str], result, method: str) -> None:
    """A zero-shot answer: what the model reads, the winning label, its scores and how well the method does."""
    from ui.language import warn_text

    title = i18n.title(catalog.BART_MNLI if method == "nli" else catalog.MINILM)
    warn_text(" ".join([text, *labels]), catalog.BART_MNLI.languages if method == "nli" else catalog.MINILM.languages,
              title)  # fmt: skip
    if method == "nli":
        st.markdown("#### " + _("Zero-shot (NLI): **{label}**", label=safe.md(result.label)))
        render.figure(charts.class_scores(result.shares, score_kind=_("entailment share (softmax across labels)"),
                                          title=""), key="zs-nli")  # fmt: skip
        st.metric(_("Latency"), f"{result.latency_ms:.0f} ms")
        return
    st.markdown("#### " + _("Zero-shot: **{label}**", label=safe.md(result.label)))
    estimate = zero_shot_quality()
    from core.tasks.zero_shot import TEMPLATE

    template_note = (
        _("the same template")
        if result.template == TEMPLATE
        else _("the default template “{template}”, not yours (a different template scores differently)",
               template=safe.md(TEMPLATE))
    )  # fmt: skip
    st.caption(
        _("Zero-shot: MiniLM was never trained on these labels. Each label becomes the sentence “{template}”; the "
          "closest one in embedding space wins. On the held-out newsgroup posts with the labels 'atheism, space' and "
          "{note}, this gets {measured}.", template=safe.md(result.template), note=template_note,
          measured=models.quality_text(estimate))
    )  # fmt: skip
    left, right = st.columns(2)
    with left:
        render.figure(charts.similarity_bars(result.similarities), key="zs-similarity")
    with right:
        render.figure(charts.class_scores(result.shares, score_kind=_("share (softmax of similarity / 0.05)"),
                                          title=_("Relative shares")), key="zs-shares")  # fmt: skip
    st.metric(_("Latency"), f"{result.latency_ms:.0f} ms")
    with st.expander(_("Code to reproduce this"), icon=":material/code:"):
        st.code(snippets.zero_shot(text, labels, result.template), language="python")
