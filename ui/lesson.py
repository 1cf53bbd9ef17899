"""Lesson mode: the article's outline as numbered steps in the sidebar of every page, each with its goal, the one
control to try, a link to its page and a question checked against what the model actually does. Progress is kept
per session; ``?lesson=3`` opens a class at step 3."""

from __future__ import annotations

import streamlit as st

from ui.i18n import _

STEP_COUNT = 7  # len(core.lesson.STEPS), checked by a test: the toggle on every page imports nothing heavier


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


def _panel() -> None:
    from core.lesson import STEPS

    index = st.session_state.setdefault("lesson-step", 0)
    step = STEPS[index]
    done = st.session_state.setdefault("lesson-done", set())
    head, bar = st.columns([3, 2])
    title = _("Lesson · step {number} of {total}", number=index + 1, total=len(STEPS))
    head.markdown(f"**{title} · {_(step.part)}**")
    bar.progress(len(done) / len(STEPS), text=_("{done} of {total} answered", done=len(done), total=len(STEPS)))
    st.caption(_(step.goal))
    st.markdown(_("**Try:** {control}", control=_(step.control)))
    st.page_link(step.page, label=_("Open the page"), icon=":material/arrow_forward:")
    _ask(step)
    back, forward, _space = st.columns([1, 1, 4])
    back.button(_("Back"), key="lesson-back", disabled=index == 0, on_click=_move, args=(-1,))
    forward.button(_("Next"), key="lesson-next", disabled=index == len(STEPS) - 1, on_click=_move, args=(1,))


def _move(delta: int) -> None:
    st.session_state["lesson-step"] = min(max(st.session_state.get("lesson-step", 0) + delta, 0), STEP_COUNT - 1)


def _ask(step) -> None:
    from core import catalog
    from core.errors import CoreError
    from ui import safe

    stored = f"lesson-question-{step.key}"
    if stored not in st.session_state:
        if step.needs and not catalog.availability(catalog.get_spec(step.needs)).ready:
            st.info(_("This step's question reads {model}, which is not trained yet: open the page to train it.",
                      model=step.needs), icon=":material/hourglass_top:")  # fmt: skip
            return
        if not st.button(_("Ask me"), key=f"lesson-ask-{step.key}"):
            return
        try:
            st.session_state[stored] = _question(step.key)
        except CoreError as error:
            safe.error(error)
            return
    question = st.session_state[stored]
    labels = {option: _shown(question, option) for option in question.options}
    chosen = st.radio(_(question.text), question.options, index=None, key=f"lesson-answer-{step.key}",
                      format_func=labels.__getitem__)  # fmt: skip
    st.button(_("Check"), key=f"lesson-check-{step.key}", disabled=chosen is None, on_click=_check, args=(step.key,))
    checked = st.session_state.get(f"lesson-checked-{step.key}")
    if checked is None:
        return
    if question.right(checked):
        st.success(_("Right. {why}", why=_(question.why)))
    else:
        st.warning(_("Not quite: look at the page again and try another answer."))


def _check(key: str) -> None:
    """Before the run that shows it: the answer checked, and the progress counted, so the bar is already right."""
    chosen = st.session_state.get(f"lesson-answer-{key}")
    st.session_state[f"lesson-checked-{key}"] = chosen
    if st.session_state[f"lesson-question-{key}"].right(chosen):
        st.session_state.setdefault("lesson-done", set()).add(key)


def _shown(question, option: str) -> str:
    """An option as the student reads it: tokens and numbers as they are, words translated."""
    if not question.worded:  # tokens (a leading space already written ␣) and numbers
        return option
    if option.startswith("block "):
        return _("block {number}", number=option.split()[-1])
    return _(option)


def _question(key: str):
    """The step's question (a ``core.lesson.Question``), computed now from the shared models (loaded once per
    process)."""
    from core import catalog, lesson
    from ui import models
    if key == "tokens":
        return lesson.tokens_question(_minilm().tokenizer)
    if key == "attention":
        found = _minilm().attend(lesson.ATTENTION_TEXT)
        return lesson.attention_question(found.tokens, found.weights)
    if key == "heads":
        return lesson.heads_question(_minilm().attend(lesson.HEADS_TEXT).weights)
    if key == "positions":
        from core.transformer.positional import sinusoidal

        return lesson.positions_question(sinusoidal(64, 128))
    if key == "training":
        return lesson.training_question(catalog.read_metadata("sentiment-minilm"))
    if key == "patching":
        from core.tasks import patching

        found = patching.patch_classifier(models.predictor(catalog.get_spec("sentiment-minilm")), *lesson.PATCH_TEXTS)
        return lesson.patching_question(found.layers, found.recovered)
    top = models.task_model(catalog.get_spec("lm-lee-gpt")).next_tokens(lesson.NEXT_PROMPT, k=4)["transformer"]
    return lesson.next_token_question(top)


def _minilm():
    from ui.learn import minilm

    return minilm()
