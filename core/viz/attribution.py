"""Word attributions drawn: coloured words (escaped HTML) and a grouped bar chart."""

from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go

from core.messages import N_


def _normalised(scores: list[float]) -> np.ndarray:
    values = np.asarray(scores, dtype=float)
    peak = np.abs(values).max() if len(values) else 0.0
    return values / peak if peak > 0 else values


def coloured_words(words: list[str], scores: list[float], *, label: str) -> str:
    """Each word on a background from red (against the class) through white to green (for it).

    Words are HTML-escaped: a word such as ``<script>`` is shown, never run.
    """
    spans = []
    for word, value in zip(words, _normalised(scores), strict=True):
        colour = (44, 160, 44) if value >= 0 else (214, 39, 40)
        alpha = round(min(1.0, abs(float(value))) * 0.75, 3)
        spans.append(
            f'<span title="{html.escape(f"{value:+.2f}")}" style="background: rgba({colour[0]},{colour[1]},{colour[2]},{alpha});'
            f' padding: 2px 3px; margin: 1px; border-radius: 4px; display: inline-block">{html.escape(word)}</span>'
        )
    caption = html.escape(label)
    return f'<div style="line-height: 2; font-size: 1.05rem"><b>{caption}</b><br>{" ".join(spans)}</div>'


def word_bars(words: list[str], methods: dict[str, list[float]], *, target: str, title: str = "") -> go.Figure:
    """Scores per word for each method, each scaled so its largest magnitude is 1 (methods use different units);
    ``title`` in the reader's language, else the English one."""
    figure = go.Figure()
    labels = [f"{i}:{word}" for i, word in enumerate(words)]
    for name, scores in methods.items():
        figure.add_trace(
            go.Bar(x=labels, y=_normalised(scores), name=name, hovertemplate="%{x}: %{y:+.2f}<extra></extra>")
        )
    figure.update_layout(
        barmode="group",
        title=title or f"Support for '{target}' (+) or against it (−), scaled per method",
        yaxis={"range": [-1.05, 1.05], "title": N_("relative attribution")},
        height=340,
        margin={"l": 10, "r": 10, "t": 50, "b": 40},
        legend={"orientation": "h", "y": -0.3},
    )
    return figure


def highlighted_sentences(text: str, spans: list[tuple[int, int, bool, int | None]]) -> str:
    """The original text with chosen sentences highlighted and numbered by pick order (escaped HTML)."""
    parts, cursor = [], 0
    for start, end, chosen, order in spans:
        parts.append(html.escape(text[cursor:start]))
        sentence = html.escape(text[start:end])
        if chosen:
            parts.append(
                f'<mark style="background: #c7e9c0; padding: 1px 2px"><sup>{order}</sup>{sentence}</mark>'
            )
        else:
            parts.append(f'<span style="color: #555">{sentence}</span>')
        cursor = end
    parts.append(html.escape(text[cursor:]))
    return f'<div style="line-height: 1.7">{"".join(parts)}</div>'
