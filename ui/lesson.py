"""Lesson mode: the article's outline as numbered steps in the sidebar of every page, each with its goal, the one
control to try, a link to its page and a question checked against what the model actually does. Progress is kept
per session; ``?lesson=3`` opens a class at step 3."""

from __future__ import annotations

import streamlit as st

from ui.i18n import _

STEP_COUNT = 10  # len(core.lesson.STEPS), checked by a test: the toggle on every page imports nothing heavier


def _from_link() -> None:
    """``?lesson=N`` turns lesson mode on at step N, once per session (the link stays in the address bar)."""
    asked = st.query_params.get("lesson")
    if asked is None or st.session_state.get("lesson-linked") == asked:
        return
    st.session_state["lesson-linked"] = asked
    try:
        number = int(asked)
    except ValueError:
        return
    st.session_state["lesson-on"] = True
    st.session_state["lesson-step"] = min(max(number, 1), STEP_COUNT) - 1


def panel() -> None:
    """The lesson toggle in the sidebar of every page and, when it is on, the current step above the page."""
    _from_link()
    with st.sidebar:  # the state lives in "lesson-on", not in the widget: a page that draws no sidebar keeps it
        st.toggle(_("Lesson mode"), value=bool(st.session_state.get("lesson-on")), key="lesson-toggle",
                  on_change=_toggled,
                  help=_("Walk through the article's outline step by step, each with a question the models answer live. "
                         "A teacher can share a link with ?lesson=3 to open the class at step 3."))  # fmt: skip
    if st.session_state.get("lesson-on"):
        with st.container(border=True, key="lesson-panel"):
            _panel()


def _toggled() -> None:
    st.session_state["lesson-on"] = bool(st.session_state.get("lesson-toggle"))


@st.fragment  # Back, Next and Check rerun the step, not the page under it
def _panel() -> None:
    from core.lesson import STEPS

    index = st.session_state.setdefault("lesson-step", 0)
    step = STEPS[index]
    done = st.session_state.setdefault("lesson-done", set())
    head, bar = st.columns([3, 2])
    title = _("Lesson · step {number} of {total}", number=index + 1, total=len(STEPS))
    head.markdown(f"**{title} · {_(step.part)}**")
    bar.progress(len(done) / len(STEPS), text=_("{done} of {total} answered correctly", done=len(done),
                                                  total=len(STEPS)))  # fmt: skip
    st.caption(_(step.goal))
    st.markdown(_("**Try:** {control}", control=_(step.control)))
    st.page_link(step.page, label=_("Open the page"), icon=":material/arrow_forward:", query_params=dict(step.link))
    _ask(step)
    back, forward, _space = st.columns([1, 1, 4])
    back.button(_("Back"), key="lesson-back", disabled=index == 0, on_click=_move, args=(-1,))
    forward.button(_("Next"), key="lesson-next", disabled=index == len(STEPS) - 1, on_click=_move, args=(1,))


def _move(delta: int) -> None:
    st.session_state["lesson-step"] = min(max(st.session_state.get("lesson-step", 0) + delta, 0), STEP_COUNT - 1)


@st.cache_data(ttl=10, show_spinner=False)
def _fingerprint(key: str | None) -> str | None:
    """The weights' sha256 of a model the question reads ('' for the packaged MiniLM), None while it is not trained;
    looked up at most every 10 s, not on every rerun of every page."""
    from core import catalog

    spec = catalog.get_spec(key) if key else catalog.MINILM
    return catalog.weights_sha256(spec) if catalog.availability(spec).ready else None


def _ask(step) -> None:
    from ui import safe

    stored = f"lesson-question-{step.key}"
    if stored not in st.session_state:
        fingerprint = _fingerprint(step.needs)
        if fingerprint is None:
            st.info(_("This step's question reads {model}, which is not trained yet: a page that uses it trains it in "
                      "the background, or run `python -m core.train --model {model}`.", model=step.needs),
                    icon=":material/hourglass_top:")  # fmt: skip
            return
        if not st.button(_("Ask me"), key=f"lesson-ask-{step.key}"):
            return
        try:
            with st.spinner(_("Asking the model…")):
                st.session_state[stored] = _question(step.key, fingerprint)
        except Exception as error:  # noqa: BLE001 — a question that cannot be built must not break the page below
            safe.error(error)
            return
    question = st.session_state[stored]
    labels = {option: _shown(question, option) for option in question.options}
    chosen = st.radio(safe.md(_(question.text)), question.options, index=None, key=f"lesson-answer-{step.key}",
                      format_func=labels.__getitem__)  # fmt: skip
    st.button(_("Check"), key=f"lesson-check-{step.key}", disabled=chosen is None, on_click=_check, args=(step.key,))
    checked = st.session_state.get(f"lesson-checked-{step.key}")
    if checked is None:
        return
    if question.right(checked):
        st.success(safe.md(_("Right. {why}", why=_(question.why))))
    else:
        st.warning(_("Not quite: look at the page again and try another answer."))


def _check(key: str) -> None:
    """Before the run that shows it: the answer checked, and the progress counted, so the bar is already right."""
    chosen = st.session_state.get(f"lesson-answer-{key}")
    st.session_state[f"lesson-checked-{key}"] = chosen
    if st.session_state[f"lesson-question-{key}"].right(chosen):
        st.session_state.setdefault("lesson-done", set()).add(key)


def _shown(question, option: str) -> str:
    """An option as the student reads it: tokens and numbers as text, words translated."""
    from ui import safe

    if not question.worded:  # tokens (a leading space already written ␣) and numbers
        return safe.md(option)
    from ui.render import layer_name

    return layer_name(option)  # "block 3" or a word such as "both the same"


@st.cache_resource(max_entries=16, show_spinner=False)
def _question(key: str, fingerprint: str):
    """The step's question (a ``core.lesson.Question``), computed once per process and model version from the shared
    models: every student of the class gets the same one."""
    from core import catalog, lesson
    from ui import models
    from ui.inspect import _attention_model

    minilm = _attention_model(catalog.MINILM.key, "")  # the Learn and Inspect pages' MiniLM, not a second copy
    if key == "tokens":
        with minilm.lock:  # the shared tokenizer serves one request at a time
            return lesson.tokens_question(minilm.tokenizer)
    if key == "attention":
        found = minilm.attend(lesson.ATTENTION_TEXT)
        return lesson.attention_question(found.tokens, found.weights)
    if key == "heads":
        return lesson.heads_question(minilm.attend(lesson.HEADS_TEXT).weights)
    if key == "positions":
        from core.transformer.positional import sinusoidal

        return lesson.positions_question(sinusoidal(64, 128))
    if key == "encoder-decoder":
        from core.transformer import walkthrough

        source, target, padding = lesson.WALK
        return lesson.padding_question(walkthrough.run(source.split(), target.split(), n_pad=padding))
    if key == "training":
        return lesson.training_question(catalog.read_metadata("sentiment-minilm"))
    if key == "translating":
        translator = models.task_model_quietly(catalog.get_spec("translate-en-zh"), fingerprint)
        return lesson.translation_question(translator.translate(lesson.TRANSLATE_TEXT))
    if key == "patching":
        return _patching_question(models.predictor_quietly(catalog.get_spec("sentiment-minilm"), fingerprint))
    if key == "evaluating":
        return _evaluation_question()
    top = models.task_model_quietly(catalog.get_spec("lm-lee-gpt"), fingerprint).next_tokens(lesson.NEXT_PROMPT, k=8)
    return lesson.next_token_question(top["transformer"])


def _evaluation_question():
    """The Benchmark page's two rows, computed as it computes them: the fine-tuned MiniLM in PyTorch fp32 and TF-IDF +
    logistic regression fitted on the training split, on the held-out sentences."""
    from core import lesson
    from core.bench import adapters
    from core.tasks.base import dataset_split
    from core.tasks.inputs import inference_gate

    split, labels = dataset_split("polarity")
    texts, truth = [e.text for e in split.test], [e.label for e in split.test]
    answers = {}
    for model_id in ("sentiment-minilm", "baseline:tfidf-lr"):
        adapter = adapters.make(model_id, list(labels), [e.text for e in split.train], [e.label for e in split.train])
        with inference_gate():  # a pass like any page's: it waits its turn with the class's requests
            answers[model_id] = [labels[int(i)] for i in adapter.probabilities(texts).argmax(axis=1)]
    return lesson.evaluation_question(truth, answers["sentiment-minilm"], answers["baseline:tfidf-lr"])


def _patching_question(classifier):
    from core import lesson
    from core.errors import CoreError
    from core.messages import Message
    from core.tasks import patching

    found = patching.patch_classifier(classifier, *lesson.PATCH_TEXTS)
    if not found.checks_pass:
        raise CoreError(Message("The patching checks failed on this model; the question does not apply."))
    changed = next(i for i, (a, b) in enumerate(zip(found.clean_tokens, found.corrupted_tokens, strict=True)) if a != b)
    return lesson.patching_question(found.layers, found.recovered, changed)
