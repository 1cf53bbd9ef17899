"""Generate → Guess the next token: a student picks among the model's four most likely next tokens (shown in
alphabetical order, so their order gives nothing away), the probabilities are revealed after, the score is kept for
the session, and the model's own choice is appended for the next round."""

from __future__ import annotations

import streamlit as st

from core.errors import CoreError
from core.viz import charts
from ui import models, render, safe
from ui.i18n import _

CHOICES = 4
MAX_ROUNDS = 40  # tokens the game appends before it starts again from the prompt (far below any prompt limit)


def _state(spec, prompt: str) -> dict:
    state = st.session_state.get("guess")
    if not state or state["model"] != spec.key:
        state = {"model": spec.key, "text": prompt, "score": 0, "rounds": 0, "grown": 0, "revealed": None}
        st.session_state["guess"] = state
    return state


def _restart(prompt: str) -> None:
    st.session_state["guess"].update(text=prompt, score=0, rounds=0, grown=0, revealed=None)


def _reveal(best: int, key: str) -> None:
    state = st.session_state["guess"]
    chosen = st.session_state.get(key)
    state["revealed"] = chosen
    state["rounds"] += 1
    state["score"] += int(chosen == best)


def _next_round(token: str, prompt: str) -> None:
    state = st.session_state["guess"]
    if state["grown"] + 1 >= MAX_ROUNDS:  # a long text: start again from the prompt, the score kept
        state.update(text=prompt, grown=0)
    else:
        state.update(text=state["text"] + token, grown=state["grown"] + 1)
    state["revealed"] = None


def _written(token: str) -> str:
    """A token as a label: a leading space as ␣, line breaks and tabs visible, nothing as ∅."""
    return token.replace(" ", "␣").replace("\n", "↵").replace("\t", "⇥") or "∅"


def game(spec, prompt: str) -> None:
    """One round: the text so far, the four candidates, then the model's probabilities and the score."""
    state = _state(spec, prompt)
    st.caption(_("The model reads the text below. Which of these four tokens does it find most likely to come next? "
                 "Pick one, then reveal its probabilities; the model's own choice is added and the game goes on."))  # fmt: skip
    left, middle, right = st.columns([1, 1, 2])
    middle.button(_("Start again"), key="guess-restart", on_click=_restart, args=(prompt,))
    right.metric(_("Your score"), f"{state['score']} / {state['rounds']}")
    st.markdown(f"> {safe.md(state['text'])} ▌")
    try:
        top = models.task_model(spec).next_tokens(state["text"], k=CHOICES)["transformer"]
    except CoreError as error:
        safe.error(error)
        return
    best = int(top[0]["id"])
    shown = {int(entry["id"]): _written(entry["token"]) for entry in top}  # ids: two tokens may be written alike
    options = sorted(shown, key=lambda i: (shown[i].strip("␣").lower(), shown[i], i))
    key = f"guess-choice-{state['rounds'] + (state['revealed'] is None)}"  # the same key from pick to reveal
    chosen = st.radio(_("The most likely next token"), options, index=None, key=key, format_func=lambda i: safe.md(shown[i]),
                      disabled=state["revealed"] is not None, horizontal=True)  # fmt: skip
    if state["revealed"] is None:
        left.button(_("Reveal"), key="guess-reveal", disabled=chosen is None, type="primary", on_click=_reveal,
                    args=(best, key))  # fmt: skip
        return
    if state["revealed"] == best:
        st.success(_("Right: the model's first choice is “{token}”.", token=safe.md(shown[best])))
    else:
        st.warning(_("The model's first choice is “{token}”, not “{guess}”.", token=safe.md(shown[best]),
                     guess=safe.md(shown.get(state["revealed"], str(state["revealed"])))))  # fmt: skip
    render.figure(charts.next_token_bars({"Transformer": top}), key="guess-bars")
    left.button(_("Next round"), key="guess-next", type="primary", on_click=_next_round,
                args=(str(top[0]["token"]), prompt))  # fmt: skip
