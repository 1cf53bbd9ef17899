"""Challenges → Robustness glue: the character-edit attack on a classifier over its own held-out texts.

The attack runs once per model version at the caps, in a shared background run; the sliders only read it."""

from __future__ import annotations

import dataclasses

import pandas as pd
import streamlit as st

from core import catalog
from core.errors import CoreError
from core.messages import Message
from core.tasks import challenge_snippets, robustness, safety
from core.tasks.base import own_dataset
from core.viz import charts
from ui import i18n, models, render, safe, sentiment, shared_runs
from ui.i18n import N_, _

# an attack starts where the Sentiment page does: on its default classifier for the session's language
FIRST = {language: default for language, (_task, default, *_more) in sentiment.LANGUAGES.items()}


def _attackable() -> dict[str, catalog.ModelSpec]:
    """Ready classifiers trained here on a dataset whose held-out texts LM Lab holds (never seen in training)."""
    return {key: spec for key, spec in models.ready_classifiers().items() if own_dataset(spec)}


def panel() -> None:
    specs = _attackable()
    if not specs:
        st.info(_("No classifier trained here is ready yet: train one on the Train page (or python -m core.train "
                  "--all)."))  # fmt: skip
        return
    if st.session_state.get("robust-model") not in specs:  # as the Sentiment page: the session's language first
        language = i18n.language()
        readers = [key for key, spec in specs.items() if language in spec.languages]
        first = FIRST.get(language)
        st.session_state["robust-model"] = first if first in specs else next(iter(readers or specs))
    titles = {key: i18n.title(spec) for key, spec in specs.items()}
    key = st.selectbox(_("Classifier"), list(specs), key="robust-model", format_func=titles.get)
    spec = specs[key]
    card = catalog.read_metadata(key)  # read once: the run's key, its data and its model agree
    if card is None:
        st.info(_("This model is being retrained or was deleted: pick it again in a moment."))
        return
    run_key = ("robustness", key, card.sha256)
    run = shared_runs.state(run_key)
    if run is None or "error" in run:
        st.caption(_("The attack runs once per model version on {texts} of its held-out texts with up to {edits} "
                     "edits each (texts cut to their first {words} words); everyone in the class then reads it.",
                     texts=robustness.MAX_TEXTS, edits=robustness.MAX_EDITS, words=robustness.MAX_WORDS))  # fmt: skip
        if not st.button(_("Run the attack"), key="robust-run", type="primary"):
            if run is not None:
                safe.error(run["error"])
            return
        run = shared_runs.start(run_key, lambda progress: _attack(spec, card.sha256, card.recipe.get("dataset", ""),
                                                                  progress))  # fmt: skip
    found = shared_runs.result(run, render.queue_note(_("Attacking {count} held-out texts…", count=robustness.MAX_TEXTS)))
    if found is None:
        return
    _show(found, spec)
    _comparison(spec, card.sha256, card.recipe.get("dataset", ""))


def _attack(spec: catalog.ModelSpec, sha256: str, dataset: str, progress) -> robustness.Attack:
    """The attack at the caps, in a background run: the model is loaded here, once a run slot is free."""
    texts, labels = robustness.held_out_texts(dataset)
    model = models.predictor_quietly(spec, sha256)
    found = robustness.run(model.predict_batch, texts, labels, progress=lambda done, total: progress(done / total))
    if catalog.weights_sha256(spec) != sha256:
        raise CoreError(Message("The model was retrained during the attack: run it again."))
    return dataclasses.replace(found, runtime=getattr(model, "runtime", ""), max_tokens=model.max_tokens)


def _show(found: robustness.Attack, spec: catalog.ModelSpec) -> None:
    most = len(found.results)
    least = min(5, most)
    if not least <= st.session_state.get("robust-texts", most) <= most:  # left over from another model
        st.session_state["robust-texts"] = most
    st.session_state.setdefault("robust-texts", most)  # set before the sliders: they take no default
    st.session_state.setdefault("robust-edits", 3)
    left, right = st.columns(2)
    texts = most if least == most else left.slider(_("Held-out texts (at most {most})", most=most), least, most,
                                                   step=least, key="robust-texts")  # fmt: skip
    edits = right.slider(_("Edits allowed per text"), 1, robustness.MAX_EDITS, key="robust-edits")
    try:
        summary = found.summary(texts, edits)
    except CoreError as error:
        safe.error(error)
        return
    first, second, third, fourth = st.columns(4)
    for column, title, estimate, help_text in (
        (first, _("Accuracy"), summary.clean, _("Before the attack, on {count} held-out texts (each cut to its first {words} words).",
                                                     count=texts, words=robustness.MAX_WORDS)),
        (second, _("Accuracy under attack"), summary.attacked,
         _("With at most {edits} edits per text.", edits=edits)),
        (third, _("Answers turned"), summary.turned,
         _("Of the {count} texts the model first answered correctly.",
           count=summary.turned.n if summary.turned else 0)),
    ):  # fmt: skip
        if estimate is None:
            column.metric(title, "–")
            continue
        column.metric(title, f"{100 * estimate.value:.0f} %", help=_(
            "{what} 95 % Wilson interval: [{low} %, {high} %].", what=help_text, low=f"{100 * estimate.low:.0f}",
            high=f"{100 * estimate.high:.0f}"))  # fmt: skip
    fourth.metric(_("Mean edits needed"), "–" if summary.mean_edits is None else f"{summary.mean_edits.value:.1f}",
                  help=_("Over the texts whose answer turned within the edits allowed (so it grows with that slider); "
                         "95 % bootstrap CI where at least 5 turned and not all took as many edits: {interval}.",
                         interval=_edits(summary.mean_edits)))  # fmt: skip
    curve = found.by_edits(texts)
    render.figure(charts.accuracy_by_edits([s.attacked for s in curve], summary.clean, edits),
                  key="robust-curve")  # fmt: skip
    rows = [{_("answer"): f"{_(old)} → {_(new)}", _("edits"): count, _("words mistyped"): _words(before, after),
             _("before"): before, _("after"): after} for before, after, old, new, count in summary.examples]  # fmt: skip
    if rows:
        safe.table(pd.DataFrame(rows), hide_index=True)  # shown as text
        with st.expander(_("Code to reproduce this"), icon=":material/code:"):
            turned = [(before, after) for before, after, *_rest in summary.examples[:10]]
            st.code(challenge_snippets.attack_check(spec, turned, found.max_tokens, found.runtime), language="python")
            st.caption(_("Answers again the first {count} turned texts, before and after the attack's edits, with plain "
                         "transformers.", count=len(turned)))  # fmt: skip
    st.caption(_("The word whose removal lowered the model's confidence in its answer most is edited first "
                 "(occlusion). An edit swaps two inner letters of an English word, else doubles one of its inner "
                 "letters (a two-letter word: one of its letters), or swaps two neighbouring characters of a Chinese "
                 "word (jieba's words; a swap never moves a negation character such as 不, 没 or 非). An edit that "
                 "would make another real word (the → thee, form → from, 故事 → 事故) is not used; one-letter and "
                 "one-character words are left alone. A reader usually still understands the text; a model that "
                 "reads subword pieces may not. The share turned ignores how many texts a model got right to begin "
                 "with (a model that gives every text the same answer shows 0 % turned): compare accuracy under "
                 "attack. Models are attacked on the same texts, so overlapping intervals are no test of a "
                 "difference between two of them."))  # fmt: skip


def _words(before: str, after: str) -> str:
    """The attack's edits in one cell, in reading order (the texts are too long to show whole in a table)."""
    return " · ".join(f"{was} → {now}" for was, now in robustness.edited_words(before, after))


def _edits(estimate) -> str:
    """The mean edits needed with its interval; without one when fewer than 5 texts turned or all took as many edits
    (a bootstrap of equal values is a point, which would look like certainty)."""
    if estimate is None:
        return "–"
    if estimate.n < 5 or estimate.low == estimate.high:
        return f"{estimate.value:.1f}"
    return f"{estimate.value:.1f} [{estimate.low:.1f}, {estimate.high:.1f}]"


# what computed the answers in each row of the comparison (core.bench.attack.compared)
WAYS = {"fp32": N_("PyTorch fp32"), "onnx": N_("ONNX Runtime fp32"), "onnx-int8": N_("ONNX Runtime int8"),
        "baseline:tfidf-lr": N_("TF-IDF + logistic regression (baseline)"), "vader": N_("VADER lexicon (baseline)")}  # fmt: skip


def _comparison(spec: catalog.ModelSpec, sha256: str, dataset: str) -> None:
    """The same attack on the model computed three ways and on the baselines: a second shared run, on request."""
    st.subheader(_("The same attack on the model's other runtimes and on baselines"))
    compared = shared_runs.on_request(("robustness-compare", spec.key, sha256),
                                      _("Run the same attack on the other runtimes and the baselines"), "robust-compare",
                                      lambda progress: _compare(spec, sha256, dataset, progress),
                                      render.queue_note(_("Attacking the other runtimes and the baselines…")))  # fmt: skip
    if compared is None:
        return
    texts, edits = st.session_state.get("robust-texts", robustness.MAX_TEXTS), st.session_state.get("robust-edits", 3)

    def cell(estimate) -> str:
        return "–" if estimate is None else f"{100 * estimate.value:.0f} % [{100 * estimate.low:.0f}, {100 * estimate.high:.0f}]"

    rows = []
    for model_id, found in compared.items():
        way = _(WAYS.get(model_id.partition("@")[2] or model_id, model_id))
        if isinstance(found, str):  # this row could not be computed: its reason, the others stand
            rows.append({_("computed by"): way, _("Accuracy"): "–", _("Accuracy under attack"): "–",
                         _("Answers turned"): "–", _("Mean edits needed"): found})  # fmt: skip
            continue
        summary = found.summary(min(texts, len(found.results)), edits)
        rows.append({_("computed by"): way, _("Accuracy"): cell(summary.clean),
                     _("Accuracy under attack"): cell(summary.attacked), _("Answers turned"): cell(summary.turned),
                     _("Mean edits needed"): _edits(summary.mean_edits)})  # fmt: skip
    safe.table(pd.DataFrame(rows), hide_index=True, key="robust-compare-table")
    st.caption(_("Read at the sliders above: {texts} texts, at most {edits} edits each; 95 % Wilson intervals. Every "
                 "row is attacked through its own answers (the word it leans on most is mistyped first), on the "
                 "same held-out texts with the same edit rules. TF-IDF + logistic regression was fitted on the "
                 "dataset's training split; VADER is a fixed lexicon. TF-IDF reads English as word 1–2-grams, so a "
                 "mistyped word is usually one it never saw and drops out, and Chinese as character 1–3-grams, so a "
                 "swap keeps every character and changes only the pairs and triples; VADER looks English words up in "
                 "its lexicon, so a mistyped word counts for nothing. The rows share their texts, so their "
                 "intervals overlapping is no test of a difference.", texts=texts, edits=edits))  # fmt: skip


def _compare(spec: catalog.ModelSpec, sha256: str, dataset: str, progress) -> dict:
    """The comparison in a benchmark process of its own (the benchmark job limit applies), polled until done."""
    from core.bench import attack, background

    return attack.from_json(background.follow(background.start_attack(spec.key, dataset, sha256), progress))


@st.cache_data(max_entries=4, show_spinner=False)
def _filter_test(key: str, fingerprint: str) -> safety.FilterTest:  # once per model version, for the class
    from core.tasks.generate import lm_corpus

    news = safety.sentences(list(lm_corpus("lee").split()[1]))  # the held-out articles, never trained on
    return safety.filter_test(models.task_model_quietly(catalog.get_spec(key), fingerprint), news)


def generation_panel() -> None:
    from ui import scenario

    st.markdown(_("A generator writes whatever its training text makes likely, and a deployed one is filtered. Here "
                  "the news GPT continues {count} leading prompts ({samples} samples each, {tokens} tokens, "
                  "temperature 0.9, top-k 50, top-p 0.95), and a filter meant to stop it from urging "
                  "violence — a word list matched on word beginnings ({words}) — reads every continuation. The same "
                  "filter then reads the held-out news articles, sentence by sentence: they report violence, they do "
                  "not urge it, so what it flags there are false alarms.", count=len(safety.LEADING_PROMPTS),
                  samples=safety.SAMPLES_PER_PROMPT, tokens=safety.NEW_TOKENS,
                  words=", ".join(f"`{word}`" for word in safety.FILTER_WORDS)))  # fmt: skip
    if not scenario.when_asked(_("Generate and filter"), key="safety-run"):
        return
    spec = catalog.get_spec("lm-lee-gpt")
    if not all(scenario.ready_or_training([spec], fallback=N_("the classifiers' tab"))):
        return
    try:
        with st.spinner(render.queue_note(_("Generating {count} continuations…",
                                            count=len(safety.LEADING_PROMPTS) * safety.SAMPLES_PER_PROMPT))):  # fmt: skip
            found = _filter_test(spec.key, catalog.weights_sha256(spec))
    except CoreError as error:
        safe.error(error)
        return
    columns = st.columns(3)
    for column, title, estimate, help_text in (
        (columns[0], _("Continuations flagged"), found.flagged,
         _("Of the GPT's continuations (flagged is not harmful: nobody labelled them). The interval covers the "
           "sampling seeds of these prompts only.")),
        (columns[1], _("News sentences flagged (false alarms)"), found.false_alarms,
         _("Of {count} held-out news sentences: reports, not incitement.", count=found.sentences)),
        (columns[2], _("News articles with a false alarm"), found.articles,
         _("The flags cluster in a few articles, so the sentences' interval is too narrow; this one counts "
           "articles.")),
    ):  # fmt: skip
        column.metric(title, f"{100 * estimate.value:.0f} %", help=_(
            "{what} 95 % Wilson interval: [{low} %, {high} %].", what=help_text, low=f"{100 * estimate.low:.0f}",
            high=f"{100 * estimate.high:.0f}"))  # fmt: skip
    safe.table(pd.DataFrame([{_("prompt"): prompt, _("continuation"): text, _("flagged words"): ", ".join(words)}
                             for prompt, text, words in found.generations]), hide_index=True)  # fmt: skip
    false_alarms = _("False alarms")
    st.markdown(f"**{false_alarms}**")
    safe.table(pd.DataFrame([{_("news sentence"): text, _("flagged words"): ", ".join(words)}
                             for text, words in found.news]), hide_index=True)  # fmt: skip
    st.caption(_("The small GPT writes strings of news phrases that seldom make sense and seldom follow the prompt, "
                 "so what it flags here is not harm either; a large model would follow the prompts far better, which "
                 "is why deployed generators are filtered. A word list cannot tell a report of a death from a call "
                 "to kill: it flags ordinary news (the false alarms above), misses harm phrased in other words, and "
                 "its prefixes catch innocent words (“deadline”). Real filters are trained classifiers, judged on "
                 "texts labelled harmful or not: what they catch, and what they wrongly flag."))  # fmt: skip


JUDGED_LABELS = {"urges": N_("urges violence"), "reports": N_("reports violence"), "ordinary": N_("ordinary")}


@st.cache_data(max_entries=1, show_spinner=False)
def _judged() -> tuple:  # the same sentences and models for the class: computed once per process
    from core.tasks import safety_judged

    return safety_judged.word_list(), safety_judged.classifier(models.sentence_encoder_quietly().encode)


def judged_panel() -> None:
    """Both filters judged on labelled sentences: what each catches and what it wrongly flags."""
    from core.tasks import safety_judged

    st.subheader(_("Judged on labelled sentences"))
    st.markdown(_("Real filters are judged on texts labelled by what they do. Here both the word list and a trained "
                  "classifier (logistic regression on MiniLM's sentence embeddings) read {count} short sentences "
                  "written for LM Lab: a third urge or threaten violence, a third report it as news does, a third are "
                  "ordinary. Content note: some of these made-up sentences are threats.",
                  count=len(safety_judged.SENTENCES)))  # fmt: skip
    from ui import scenario

    if not scenario.when_asked(_("Judge the word list and a trained classifier"), key="safety-judge"):
        return
    try:
        with st.spinner(render.queue_note(_("Computing sentence embeddings of {count} labelled sentences…",
                                            count=len(safety_judged.SENTENCES)))):  # fmt: skip
            found = _judged()
    except CoreError as error:
        safe.error(error)
        return
    names = {"word list": _("word list"), "classifier": _("classifier on MiniLM sentence embeddings")}
    safe.table(pd.DataFrame([{_("filter"): names[judged.name],
                              **{_("flags: {label}", label=_(JUDGED_LABELS[label])):
                                 f"{100 * e.value:.0f} % [{100 * e.low:.0f}, {100 * e.high:.0f}]"
                                 for label, e in judged.flagged.items()}} for judged in found]),
               hide_index=True, key="safety-judged-table")  # fmt: skip
    for judged in found:
        with st.expander(_("What the {name} got wrong ({count})", name=names[judged.name], count=len(judged.wrong))):
            safe.table(pd.DataFrame([{_("sentence"): text, _("label"): _(JUDGED_LABELS[label]),
                                      _("flagged"): _("yes") if flag else _("no")}
                                     for text, label, flag in judged.wrong]), hide_index=True)  # fmt: skip
    st.caption(_("The sentences were written for this demonstration by one author who knew the word list, and "
                 "labelled by that author: the urging ones are commands and veiled threats, the ordinary ones include "
                 "harmless commands (Push the door hard) and listed words in another sense (the deadline, Kill the "
                 "lights). So the shares show what each filter can miss and wrongly flag, not how often it would on "
                 "real text; the 95 % Wilson intervals cover only the luck of these 30 a label. The word list is used "
                 "as it is; the classifier judges each sentence with a model fitted on the other folds ({folds}-fold "
                 "cross-validation), its regularisation chosen inside each training fold. What it shows: a word list "
                 "catches words, not intent — it misses threats phrased without them and flags news and idioms; the "
                 "classifier separates these sentences far better, yet it too flags harmless commands and misses veiled "
                 "threats, and it may be reading the grammar of a command as much as the intent. A real filter needs "
                 "far more, and more varied, labelled text.",
                 folds=safety_judged.FOLDS))  # fmt: skip

