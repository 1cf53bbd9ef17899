"""Tokenization page glue: each way's tokenizer (shared by the process), its tokens as chips, a chart of the
counts, and the coverage of the held-out Chinese reviews behind a button."""

from __future__ import annotations

import threading

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import catalog
from core.errors import CoreError
from core.tasks import tokenization
from core.viz import spans
from ui import i18n, render, safe
from ui.i18n import _

EXAMPLES = [
    "这部电影很好看，我非常喜欢。",
    "The film was great, and I loved it.",
    "自然语言处理（NLP）让计算机理解人类语言。",
    "酒店的服务不错，但是早餐一般。Wi-Fi 很慢。",
]
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
    if not st.button(_("Measure on the 2,000 held-out Chinese reviews"), key="tokenization-coverage",
                     help=_("About two seconds per way, once per server: the result is shared.")):  # fmt: skip
        return
    try:
        rows = _coverage_rows()
    except CoreError as error:
        safe.error(error)
        return
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    st.caption(_("Unknown: [UNK] for the model vocabularies; for jieba, words its HMM made up. A model reads nothing "
                 "of an [UNK] but that something was there. MiniLM, fine-tuned briefly on the training "
                 "reviews, answers 'negative' to every one of these held-out reviews: the [UNK]s and the short training may both be to blame (see the Benchmark "
                 "page, task Chinese sentiment)."))  # fmt: skip


def _coverage_rows() -> list[dict]:
    rows = []
    with st.spinner(_("Tokenizing 2,000 reviews five ways…")):
        for way in tokenization.WAYS:
            spec = tokenization.source(way) if way.models else None
            if way.models and spec is None:
                continue
            card = catalog.read_metadata(spec.key) if spec is not None and spec.trained_here else None
            found = _coverage(way.key, spec.key if spec else "", card.sha256 if card else "")
            rows.append({_("way"): _(way.title), _("tokens per character"): round(found["tokens_per_character"], 2),
                         _("unknown tokens (%)"): round(100 * found["unknown_share"], 1),
                         _("reviews with an unknown token (%)"): round(100 * found["texts_with_unknown"], 1),
                         _("vocabulary"): found["vocabulary"]})  # fmt: skip
    return rows
