"""Draw what core returns: figures, results, snippets."""

from __future__ import annotations

import streamlit as st

from core.viz import charts
from ui import safe


def queue_note(action: str) -> str:
    """A spinner text with this request's place in the server's queue of forward passes."""
    from core.tasks.inputs import inference_gate

    ahead = inference_gate().ahead()
    return f"{action} ({ahead} request{'s' if ahead != 1 else ''} of other users ahead of yours)" if ahead else action


def figure(fig, *, key: str) -> None:
    """Draw a Plotly figure; labels that came from users (class names, model names) are drawn as text."""
    st.plotly_chart(safe.figure(fig), key=key, config={"displaylogo": False})


def sentiment_result(result, *, title: str, key: str, compact: bool = False, model: str = "") -> None:
    """Label, scores chart, latency and truncation note for one prediction."""
    from core.tasks.sentiment import LEXICON_SHARE
    from ui.language import warn

    warn(getattr(result, "language", None), model or title or result.model_key)  # before the answer: does the model read this text at all?
    label_colour = {"positive": "green", "negative": "red"}.get(result.label, "gray")
    top = max(result.scores.values())
    what = "share of wording" if result.score_kind == LEXICON_SHARE else "probability"
    if compact:
        st.markdown(
            f":{label_colour}[**{safe.md(result.label)}**] · {what} {100 * top:.1f} % · {result.latency_ms:.1f} ms"
        )
    else:
        first, second, third = st.columns(3)
        first.markdown(f"**Label**  \n:{label_colour}[**{safe.md(result.label)}**]")
        second.metric(f"Top {what}", f"{100 * top:.1f} %")
        third.metric(
            "Latency",
            f"{result.latency_ms:.1f} ms",
            help="Tokenize + forward pass on the server: the pass that answered this call (on PyTorch, other "
            "sessions' requests arriving at the same moment may have shared it; on ONNX Runtime every request has "
            "its own). Time waiting for the model is not included.",
        )
        if result.runtime:
            note = f" ({result.runtime_note})" if result.runtime_note else ""
            st.caption(f"Computed by {safe.md(result.runtime)} on the server's CPU{safe.md(note)}.")
    figure(charts.class_scores(result.scores, score_kind=what, title=title), key=key)
    if result.score_kind == LEXICON_SHARE:
        compound = result.details.get("compound", 0.0)
        st.caption(
            "VADER's bars are shares, not probabilities: each positive or negative word adds its lexicon valence "
            "(adjusted for intensifiers, negation and capitals) plus 1 to its side, each word without valence adds "
            "1 to neutral, '!' and '?' add to the stronger side, and the three are normalised to add up to 1. "
            f"Its compound score is {compound:+.3f} (≥ +0.05 positive, ≤ −0.05 negative)."
        )
    if result.truncated:
        st.warning(
            f"Your text is {result.n_tokens_input} tokens long; this model reads at most {result.max_tokens}, "
            f"so only the first {result.n_tokens} tokens were used."
        )
