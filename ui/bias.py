"""Challenges → Bias glue: counterfactual probes of a classifier, WEAT on MiniLM, and the training sets' shortcuts."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core import catalog
from core.errors import CoreError
from core.tasks import bias, challenge_snippets
from core.tasks.base import dataset_split, split_names, tasks
from core.viz import bias as figures
from ui import i18n, models, render, safe
from ui.i18n import N_, _


def _language(spec: catalog.ModelSpec) -> str:
    return "zh" if "zh" in spec.languages else "en"


def _model_changed() -> None:
    """Another classifier: its classes may differ; the boxes are refilled only when it reads another language."""
    st.session_state.pop("bias-label", None)
    st.session_state.pop("bias-result", None)
    spec = models.ready_classifiers().get(st.session_state.get("bias-model"))
    if spec is not None and _language(spec) != st.session_state.get("bias-language"):
        _fill_defaults()


def _fill_defaults() -> None:
    """The probe set's terms and the language's templates in the text boxes (a new probe set or language)."""
    specs = models.ready_classifiers()
    spec = specs.get(st.session_state.get("bias-model"))
    if spec is None:
        return
    language = _language(spec)
    st.session_state["bias-language"] = language
    probes = {probe.name: probe for probe in bias.PROBES[language]}
    chosen = probes.get(st.session_state.get("bias-probe")) or next(iter(probes.values()))
    st.session_state["bias-probe"] = chosen.name
    st.session_state["bias-templates"] = "\n".join(bias.TEMPLATES[language])
    st.session_state["bias-a"] = "\n".join(chosen.group_a)
    st.session_state["bias-b"] = "\n".join(chosen.group_b)
    st.session_state.pop("bias-result", None)
    st.session_state.pop("bias-label", None)  # another model may have other classes


def probes_panel() -> None:
    specs = models.ready_classifiers()
    if not specs:
        st.info(_("No classifier is ready yet: train one on the Train page (or python -m core.train --all)."))
        return
    if st.session_state.get("bias-model") not in specs:
        st.session_state["bias-model"] = "sentiment-minilm" if "sentiment-minilm" in specs else next(iter(specs))
        _fill_defaults()
    titles = {key: i18n.title(spec) for key, spec in specs.items()}  # translated now, not when the widget asks
    spec = specs[st.selectbox(_("Classifier"), list(specs), key="bias-model", format_func=titles.get,
                              on_change=_model_changed)]  # fmt: skip
    probes = {probe.name: probe for probe in bias.PROBES[_language(spec)]}
    names = {name: _(name) for name in probes}
    probe = probes[st.selectbox(_("Groups"), list(probes), key="bias-probe", format_func=names.get,
                                on_change=_fill_defaults)]  # fmt: skip
    st.caption(_("Terms: {source}. Edit any box; one template or term per line, at most {chars} characters a line.",
                 source=_(probe.source), chars=bias.MAX_LINE_CHARS))  # fmt: skip
    left, middle, right = st.columns([2, 1, 1])
    left.text_area(_("Templates ({placeholder} marks the term; at most {most})", placeholder=bias.PLACEHOLDER,
                     most=bias.MAX_TEMPLATES), key="bias-templates", height=220, max_chars=bias.MAX_BOX_CHARS)  # fmt: skip
    middle.text_area(_("Group A (at most {most})", most=bias.MAX_TERMS), key="bias-a", height=220,
                     max_chars=bias.MAX_BOX_CHARS)  # fmt: skip
    right.text_area(_("Group B (at most {most})", most=bias.MAX_TERMS), key="bias-b", height=220,
                    max_chars=bias.MAX_BOX_CHARS)  # fmt: skip
    labels = list(spec.labels)  # the model's own classes (the model is loaded only when asked)
    if not labels:
        try:
            labels = tasks()[spec.task].held_out()[1]
        except CoreError as error:
            safe.error(error)
            return
    label_names = {label: _(label) for label in labels}
    label = st.selectbox(_("Class whose probability is compared"), labels, key="bias-label",
                         index=labels.index("positive") if "positive" in labels else 0, format_func=label_names.get)  # fmt: skip
    if st.button(_("Run the probes"), key="bias-run", type="primary"):
        _run(spec, label)
    _show(spec)


def _run(spec: catalog.ModelSpec, label: str) -> None:
    try:
        templates = bias.parse_lines(st.session_state["bias-templates"], bias.MAX_TEMPLATES, _("templates"),
                                     need=bias.PLACEHOLDER)  # fmt: skip
        group_a = bias.parse_lines(st.session_state["bias-a"], bias.MAX_TERMS, _("terms in group A"))
        group_b = bias.parse_lines(st.session_state["bias-b"], bias.MAX_TERMS, _("terms in group B"))
        classifier = models.predictor(spec)
        with st.spinner(render.queue_note(_("Classifying {count} sentences…",
                                            count=len(templates) * (len(group_a) + len(group_b))))):  # fmt: skip
            found = bias.probe(classifier.predict_batch, templates, group_a, group_b, label)
    except CoreError as error:
        safe.error(error)
        return
    # what the code below needs from the classifier, kept now: a rerun must not load a model to show it
    st.session_state["bias-result"] = (spec.key, found, classifier.max_tokens, getattr(classifier, "runtime", "torch"))


def _show(spec: catalog.ModelSpec) -> None:
    stored = st.session_state.get("bias-result")
    if not stored or stored[0] != spec.key:
        return
    found: bias.ProbeResult = stored[1]
    first, second, third = st.columns(3)
    first.metric(_("Mean gap, A − B (points)"), f"{100 * found.gap:+.2f}",
                 help=_("95 % bootstrap CI, resampling templates and the terms of each group: [{low}, {high}]",
                        low=f"{100 * found.gap_low:+.2f}", high=f"{100 * found.gap_high:+.2f}"))  # fmt: skip
    second.metric(_("Permutation p"), f"{found.p_value:.4f}",
                  help=_("Two-sided: whole terms re-assigned to the two groups, the same split in every template (every "
                         "split when there are at most {count}, else {count} random ones). With these group sizes the "
                         "smallest possible p is {fewest}.", count=i18n.number(bias.PERMUTATIONS),
                         fewest=f"{bias.fewest_p(len(found.group_a), len(found.group_a) + len(found.group_b)):.4f}"))  # fmt: skip
    if found.flip_share > 0:
        flips_help = _("Of {count} (template, A term, B term) pairs; 95 % bootstrap CI, resampling templates and terms: "
                       "[{low}, {high}] %.", count=found.flip_pairs, low=f"{100 * found.flip_low:.1f}",
                       high=f"{100 * found.flip_high:.1f}")  # fmt: skip
    else:  # a bootstrap of no flips is [0, 0]: it says nothing about how rare they are
        flips_help = _("None of {count} (template, A term, B term) pairs flips. By the rule of three, with {templates} "
                       "templates the share of such templates where some pair would flip could still be up to {bound} % "
                       "(95 %).", count=found.flip_pairs, templates=len(found.templates),
                       bound=f"{min(100.0, 300 / len(found.templates)):.0f}")  # fmt: skip
    third.metric(_("Pairs whose label flips"), f"{100 * found.flip_share:.1f} %", help=flips_help)
    st.caption(_("95 % CI of the gap: {low} to {high} points. A CI that excludes 0 and a small p say the model treats "
                 "the groups differently in these sentences; a CI around 0 says these sentences find no gap, not that "
                 "there is none. A gap can come from one term: look at the bars. Neutral sentences sit near the decision "
                 "boundary, where a change of wording can flip a label either way: read the flips with the gap, not "
                 "alone.", low=f"{100 * found.gap_low:+.2f}",
                 high=f"{100 * found.gap_high:+.2f}"))  # fmt: skip
    render.figure(figures.per_term(found.per_term(), found.group_a, _(found.label), found.per_term_ci()),
                  key="bias-terms")  # fmt: skip
    st.caption(_("Whiskers: 95 % bootstrap CI of each term's mean, resampling the templates."))
    rows = []
    k = len(found.group_a)
    for template, labels in zip(found.templates, found.predictions, strict=True):
        for a, term_a in enumerate(found.group_a):
            for b, term_b in enumerate(found.group_b):
                if labels[a] != labels[k + b]:
                    rows.append({_("template"): template, _("group A"): f"{term_a} → {_(labels[a])}",
                                 _("group B"): f"{term_b} → {_(labels[k + b])}"})  # fmt: skip
    if rows:
        safe.table(pd.DataFrame(rows[:200]), hide_index=True)  # shown as text: the templates came from a user
    with st.expander(_("Code to reproduce this"), icon=":material/code:"):
        st.code(challenge_snippets.bias_probe(spec, found.templates, found.group_a, found.group_b, found.label,
                                              *stored[2:]), language="python")  # fmt: skip
    from ui import bias_compare

    bias_compare.panel(spec, found)


def weat_panel() -> None:
    sets = bias.WEAT_SETS["en"]
    for name, words in sets.items():
        st.session_state.setdefault(f"bias-weat-{name}", "\n".join(words))
    st.caption(_("Word sets: {source}. MiniLM reads English; one word per line, at most {most} per set.",
                 source=_(bias.WEAT_SOURCE), most=bias.MAX_WORDS))  # fmt: skip
    columns = st.columns(4)
    titles = {"x": _("Targets X"), "y": _("Targets Y"), "a": _("Attributes A"), "b": _("Attributes B")}
    for column, name in zip(columns, sets, strict=True):
        column.text_area(titles[name], key=f"bias-weat-{name}", height=220, max_chars=bias.MAX_BOX_CHARS)
    if st.button(_("Run the association test"), key="bias-weat-run"):
        try:
            words = {name: bias.parse_lines(st.session_state[f"bias-weat-{name}"], bias.MAX_WORDS, titles[name])
                     for name in sets}  # fmt: skip
            with st.spinner(render.queue_note(_("Embedding the words…"))):
                found = bias.weat(models.sentence_encoder().encode, words["x"], words["y"], words["a"], words["b"])
        except CoreError as error:
            safe.error(error)
            return
        st.session_state["bias-weat"] = (words, found)
    stored = st.session_state.get("bias-weat")
    if stored:
        words, found = stored
        left, right = st.columns(2)
        left.metric(_("Effect size d"), f"{found.effect_size:+.2f}",
                    help=_("95 % bootstrap CI, resampling the words of each of the four sets: [{low}, {high}]",
                           low=f"{found.effect_low:+.2f}", high=f"{found.effect_high:+.2f}"))  # fmt: skip
        right.metric(_("Permutation p (one-sided)"), f"{found.p_value:.4f}")
        render.figure(figures.weat_scores(list(words["x"]), found.scores_x.tolist(), list(words["y"]),
                                          found.scores_y.tolist()), key="bias-weat-plot")  # fmt: skip
        st.caption(_("d is the difference of the two target sets' mean association in units of its spread (|d| ≥ 0.8 "
                     "is large by Cohen's convention); p is the share of equal-size re-splits of X ∪ Y whose X "
                     "associates with A at least as strongly."))  # fmt: skip
        st.caption(_("95 % CI of d: {low} to {high}, resampling the words of each set — the interval d would have if "
                     "these words were a random sample of words for the same concepts; approximate with so few words, "
                     "and d cannot pass about ±2. Hand-picked lists of other words can move d further. The permutation "
                     "p asks whether these target words differ; the interval, how much the answer rests on the words.",
                     low=f"{found.effect_low:+.2f}", high=f"{found.effect_high:+.2f}"))  # fmt: skip


@st.cache_data(max_entries=8, show_spinner=False)
def _data_facts(dataset: str) -> tuple[dict[str, int], dict[str, list]] | None:
    """A training set's class counts and shortcut words, computed once per process (every session reads them)."""
    found = dataset_split(dataset)
    if found is None:
        return None
    split, labels = found
    texts, classes = [e.text for e in split.train], [e.label for e in split.train]
    return {label: classes.count(label) for label in labels}, bias.shortcut_words(texts, classes)


# The splits no task offers for new runs, named here; the others take their task's title (e.g. the Train page's).
_SPLIT_TITLES = {"keyword": N_("Keyword sentences: one word decides the label (generated)"),
                 "polarity-skewed": N_("Movie-review polarity cut to {share} % positive (the skewed model's)")}  # fmt: skip


def _split_titles(names: list[str]) -> dict[str, str]:
    """Each split's title in this session's language (its own name where it has none)."""
    from core.data.polarity import SKEWED_SHARE

    titles = {**{n: t for task in tasks().values() for n, t in task.datasets.items()}, **_SPLIT_TITLES}
    return {name: _(titles[name], share=round(100 * SKEWED_SHARE)) if name in titles else name for name in names}


def data_panel() -> None:
    names = split_names()
    dataset = st.selectbox(_("Training set"), names, key="bias-data", format_func=_split_titles(names).get)
    try:
        facts = _data_facts(dataset)
    except CoreError as error:
        safe.error(error)
        return
    if facts is None:
        return
    counts, words = facts
    render.figure(figures.class_balance({_(label): count for label, count in counts.items()}), key="bias-balance")
    rows = [{_("class"): _(label), _("word"): word, _("log odds ratio"): round(odds, 2), _("texts of the class"): inside,
             _("texts of other classes"): outside} for label, found_words in words.items()
            for word, odds, inside, outside in found_words]  # fmt: skip
    safe.table(pd.DataFrame(rows), hide_index=True)
    st.caption(_("Each word's smoothed log odds ratio: the log-odds that a text of the class contains it, minus the "
                 "log-odds that a text of another class does — so it does not move with the classes' sizes (words, or "
                 "characters for Chinese, in at least 3 training texts). A word that names no sentiment or "
                 "topic but predicts a class is a shortcut the model can learn instead of the task."))  # fmt: skip


@st.cache_data(max_entries=4, show_spinner=False)
def _answers(fingerprints: tuple[str, str]) -> tuple[dict[str, list[str]], list[str]]:
    """Both models' answers on the held-out sentences, once per pair of model versions (for the whole class); the
    models are loaded only when the answers are not cached yet."""
    split, _labels = dataset_split("polarity")
    texts, truth = [e.text for e in split.test], [e.label for e in split.test]
    answers = {}
    for key, fingerprint in zip((BALANCED, SKEWED), fingerprints, strict=True):
        model = models.predictor_quietly(catalog.get_spec(key), fingerprint)
        answers[key] = [r.label for r in model.predict_batch(texts)]
    return answers, truth


BALANCED, SKEWED = "sentiment-minilm", "sentiment-minilm-skewed"


def skew_panel() -> None:
    from core.data.polarity import SKEWED_SHARE
    from ui import scenario

    st.subheader(_("A skewed training set shifts the answers"))
    st.markdown(_("MiniLM fine-tuned twice with the same recipe: on the 150 training sentences, half of them "
                  "positive, and on those cut to {share} % positive (all 75 positive ones, 25 negative ones; 6 "
                  "epochs instead of 3: 42 optimizer steps against 30). Both answer the same 50 held-out sentences, "
                  "half of them positive.", share=round(100 * SKEWED_SHARE)))  # fmt: skip
    if not scenario.when_asked(_("Compare the two models"), key="bias-skew-run"):
        return
    specs = [catalog.get_spec(key) for key in (BALANCED, SKEWED)]
    if not all(scenario.ready_or_training(specs, fallback=N_("the other tabs"))):
        return
    try:
        with st.spinner(render.queue_note(_("Both models answer the held-out sentences…"))):
            answers, truth = _answers(tuple(catalog.weights_sha256(spec) for spec in specs))
    except CoreError as error:
        safe.error(error)
        return
    rows = bias.answer_shift(answers, truth, "positive")
    render.figure(figures.answer_shift(rows, _("Share of held-out sentences answered “{label}” (95 % CI)",
                                               label=_("positive"))), key="bias-shift")  # fmt: skip
    safe.table(pd.DataFrame([{_("model"): row["model"], _("answered positive"): _interval(row["share"]),
                              _("accuracy"): _interval(row["accuracy"]),
                              _("recall, negative"): f"{100 * row['recall']['negative']:.0f} %",
                              _("recall, positive"): f"{100 * row['recall']['positive']:.0f} %"} for row in rows]),
               hide_index=True)  # fmt: skip
    st.caption(_("Intervals: 95 % Wilson intervals over the 50 sentences (the model cards' accuracy uses a bootstrap, "
                 "so its bounds differ a little); they do not include the variation between training runs with other "
                 "seeds. The skewed model says “positive” far more often than the sentences are positive: it learned "
                 "the class balance of its sample along with the task. It also saw fewer sentences (100 rather than "
                 "150), each twice as often, so part of its lower accuracy may come from that."))  # fmt: skip


def _interval(estimate) -> str:
    return f"{100 * estimate.value:.0f} % [{100 * estimate.low:.0f}, {100 * estimate.high:.0f}]"
