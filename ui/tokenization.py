"""Tokenization page glue: each way's tokenizer (shared by the process), its tokens as chips, a chart of the
counts, and the coverage of the held-out Chinese reviews behind a button."""

from __future__ import annotations

import logging
import threading

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import catalog
from core.errors import CoreError
from core.tasks import tokenization
from core.tasks.inputs import inference_gate
from core.viz import spans
from ui import i18n, render, safe
from ui.i18n import _

EXAMPLES = [
    "这部电影很好看，我非常喜欢。",
    "The film was great, and I loved it.",
    "自然语言处理（NLP）让计算机理解人类语言。",
    "酒店的服务不错，但是早餐一般。Wi-Fi 很慢。",
]
logger = logging.getLogger(__name__)
_locks: dict[str, threading.Lock] = {way.key: threading.Lock() for way in tokenization.WAYS}


@st.cache_resource(max_entries=len(tokenization.WAYS), show_spinner=False)
def _tokenizer(key: str, fingerprint: str):
    return tokenization.load(catalog.get_spec(key))


def tokenizer_of(way):
    """(the way's tokenizer or None for jieba, the model it comes from) — (None, None) when none is trained yet."""
    spec = tokenization.source(way)
    if spec is None:
        return None, None
    card = catalog.read_metadata(spec.key) if spec.trained_here else None
    return _tokenizer(spec.key, card.sha256 if card else ""), spec


def cut_all(text: str) -> dict:
    """Each way's tokens of ``text`` (None for a way that is not ready, the CoreError of one whose files cannot be
    read or fail their check); a CoreError about the text itself is raised."""
    found = {}
    for way in tokenization.WAYS:
        try:
            tokenizer, spec = tokenizer_of(way) if way.models else (None, None)
        except CoreError as error:  # one damaged model folder does not blank the other ways
            found[way.key] = error
            continue
        if way.models and tokenizer is None:
            found[way.key] = None
            continue
        with _locks[way.key]:  # a fast tokenizer is not to be used by two sessions at the same moment
            found[way.key] = (tokenization.cut(way.key, tokenizer, text), spec)
    return found


def show(text: str) -> None:
    try:
        found = cut_all(text)
    except CoreError as error:
        safe.error(error)
        return
    counts = []
    for way in tokenization.WAYS:
        st.markdown(f"#### {_(way.title)}")
        st.caption(_(way.how))
        if found[way.key] is None:
            models = " / ".join(way.models)
            st.info(_("Not trained yet on this machine: train {models} (`python -m core.train --model {first}`) and it "
                      "appears here.", models=models, first=way.models[0]), icon=":material/hourglass_top:")  # fmt: skip
            continue
        if isinstance(found[way.key], CoreError):
            safe.error(found[way.key])
            continue
        tokens, spec = found[way.key]
        unknown = {i for i, flag in enumerate(tokens.unknown) if flag}
        st.html(spans.word_chips(tokens.tokens, unknown))
        if way.key == "jieba":
            st.caption(_("{count} words for {chars} characters ({ratio} per character) · {unknown} not in its "
                         "dictionary · dictionary of {size} words", count=len(tokens.tokens), chars=tokens.characters,
                         ratio=f"{tokens.per_character:.2f}", unknown=len(unknown), size=i18n.number(tokens.vocabulary)))  # fmt: skip
        else:
            st.caption(_("{count} tokens for {chars} characters ({ratio} per character) · {unknown} [UNK] · vocabulary "
                         "{size} · from {model}", count=len(tokens.tokens), chars=tokens.characters,
                         ratio=f"{tokens.per_character:.2f}", unknown=len(unknown), size=i18n.number(tokens.vocabulary),
                         model=i18n.title(spec)))  # fmt: skip
        counts.append((_(way.title), len(tokens.tokens), len(unknown)))
    if counts:
        figure = go.Figure([go.Bar(x=[c[0] for c in counts], y=[c[1] - c[2] for c in counts], name=_("known tokens")),
                            go.Bar(x=[c[0] for c in counts], y=[c[2] for c in counts],
                                   name=_("unknown ([UNK]; for jieba: words not in its dictionary, kept whole)"))])  # fmt: skip
        figure.update_layout(barmode="stack", title=_("Tokens for the same text"), yaxis_title=_("tokens"), height=320)
        render.figure(figure, key="tokenization-counts")


@st.cache_data(show_spinner=False, max_entries=8)
def _coverage(way_key: str, model_key: str, fingerprint: str) -> dict:
    way = tokenization.BY_KEY[way_key]
    tokenizer = tokenizer_of(way)[0] if way.models else None
    with _locks[way_key]:
        return tokenization.coverage(way_key, tokenizer, tokenization.held_out_reviews())


def coverage() -> None:
    st.markdown("#### " + _("How each way fits real Chinese text"))
    if st.button(_("Measure on the 2,000 held-out Chinese reviews"), key="tokenization-coverage",
                 help=_("About two seconds per way, once per server: the result is shared.")):  # fmt: skip
        with st.spinner(_("Tokenizing 2,000 reviews five ways…")):
            _keep("tokenization-coverage", _measure_each(_coverage))
    found = st.session_state.get("tokenization-coverage-found")
    if not found:
        return
    safe.table(pd.DataFrame([{_("way"): _(tokenization.BY_KEY[key].title),
                              _("tokens per character"): round(f["tokens_per_character"], 2),
                              _("unknown tokens (%)"): round(100 * f["unknown_share"], 1),
                              _("reviews with an unknown token (%)"): round(100 * f["texts_with_unknown"], 1),
                              _("vocabulary"): f["vocabulary"]} for key, f in found]),
               hide_index=True, width="stretch")  # fmt: skip
    st.caption(_("Unknown: [UNK] for the model vocabularies; for jieba, words its HMM made up. A model reads nothing "
                 "of an [UNK] but that something was there: what that costs, below."))  # fmt: skip


def _keep(key: str, found: list) -> None:
    """A measurement's results, kept for the session when pressed (not measured again on every rerun, a failed way
    included), so that the two measurements below can be read side by side; in any language (ways by key)."""
    st.session_state[key + "-found"] = found


def _measure_each(measure, progress=None) -> list[tuple[str, dict]]:
    """(way key, ``measure``'s result) for every ready way; a way that cannot be measured shows why, and the others
    their results."""
    rows = []
    for i, way in enumerate(tokenization.WAYS):
        if progress is not None:
            progress.progress(i / len(tokenization.WAYS), text=render.queue_note(_(way.title)))
        spec = tokenization.source(way) if way.models else None
        if way.models and spec is None:
            continue
        try:
            card = catalog.read_metadata(spec.key) if spec is not None and spec.trained_here else None
            rows.append((way.key, measure(way.key, spec.key if spec else "", card.sha256 if card else "")))
        except CoreError as error:
            safe.error(error)
        except Exception as error:  # a damaged tokenizer file can fail inside the tokenizers library
            logger.exception("measuring %s failed", way.key)
            st.error(_("Could not measure {way}: {error}", way=_(way.title), error=type(error).__name__))
    return rows


@st.cache_data(show_spinner=False, max_entries=8)
def _probe(way_key: str, model_key: str, fingerprint: str) -> dict:
    from core.data import reviews_zh

    spec = catalog.get_spec(model_key) if model_key else None
    tokenizer = tokenization.load(spec) if spec is not None else None  # its own: the page's stays free meanwhile
    split = reviews_zh.split()
    with inference_gate():
        return tokenization.linear_probe(way_key, tokenizer, split.train, split.test)


def probe() -> None:
    """The same linear model trained on each way's tokens of the reviews: what a vocabulary lets a model learn."""
    st.markdown("#### " + _("What a model can learn from each way's tokens"))
    st.caption(_("The same simple model for every way: logistic regression on TF-IDF of the tokens and of each pair "
                 "of neighbouring tokens, trained on the training reviews as that way cuts them and scored on the "
                 "2,000 held-out ones. The differences come from the tokens: what each way keeps, and how much text "
                 "two neighbouring tokens span (under one character for the byte-level BPE, which loses nothing; "
                 "a few characters for jieba's words). Which character became [UNK], no model can know."))  # fmt: skip
    if st.button(_("Train one on each way"), key="tokenization-probe",
                 help=_("About 25 s on 2 cores, once per server: the result is shared. While it runs, other students' "
                        "requests may wait longer.")):  # fmt: skip
        bar = st.progress(0.0, text=render.queue_note(_("Training a linear model on each way's tokens…")))
        try:
            _keep("tokenization-probe", _measure_each(_probe, bar))
        finally:
            bar.empty()
    found = st.session_state.get("tokenization-probe-found")
    if found:
        _probe_figure([(_(tokenization.BY_KEY[key].title), f) for key, f in found])


def _probe_figure(rows: list) -> None:
    names, found = [row[0] for row in rows], [row[1] for row in rows]
    figure = go.Figure(go.Bar(
        x=names, y=[100 * f["accuracy"] for f in found], text=[f"{100 * f['accuracy']:.1f}" for f in found],
        error_y={"type": "data", "symmetric": False, "array": [100 * (f["high"] - f["accuracy"]) for f in found],
                 "arrayminus": [100 * (f["accuracy"] - f["low"]) for f in found]}))  # fmt: skip
    figure.update_layout(title=_("Held-out accuracy of the same linear model, per way (95 % CI)"),
                         yaxis_title=_("accuracy (%)"), yaxis_range=[40, 100], height=340)  # fmt: skip
    figure.add_hline(y=100 * found[0]["majority"], line_dash="dot",
                     annotation_text=_("the commoner label every time"), annotation_position="bottom right")  # fmt: skip
    render.figure(figure, key="tokenization-probe-chart")
    safe.table(pd.DataFrame([{_("way"): name, _("held-out accuracy (%)"): round(100 * f["accuracy"], 1),
                              _("95 % CI"): f"{100 * f['low']:.1f}–{100 * f['high']:.1f}",
                              _("training reviews"): f["train"], _("held-out reviews"): f["test"]}
                             for name, f in rows]), hide_index=True, width="stretch")  # fmt: skip
    st.caption(_("Answering the commoner label every time scores {majority} %. The neural models are on the Benchmark "
                 "page (task Chinese sentiment): MiniLM fine-tuned on these reviews reads them as the first way cuts "
                 "them (trained on each review's first 126 tokens).", majority=f"{100 * found[0]['majority']:.1f}"))  # fmt: skip
