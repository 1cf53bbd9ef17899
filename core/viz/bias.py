"""Plotly figures for the Bias page: a class's probability per group term, and WEAT's association scores."""

from __future__ import annotations

import plotly.graph_objects as go

from core.messages import N_

GROUP_COLOURS = ("#1f77b4", "#ff7f0e")


def per_term(values: dict[str, float], group_a: tuple[str, ...], label: str,
             intervals: dict[str, tuple[float, float]] | None = None) -> go.Figure:  # fmt: skip
    """Mean probability of ``label`` over the templates, one bar per term, coloured by group (with ``intervals``,
    each term's CI as whiskers)."""
    terms = list(values)
    colours = [GROUP_COLOURS[0] if term in group_a else GROUP_COLOURS[1] for term in terms]
    whiskers = None
    if intervals:
        whiskers = {"type": "data", "symmetric": False, "color": "#444",
                    "array": [intervals[t][1] - values[t] for t in terms],
                    "arrayminus": [values[t] - intervals[t][0] for t in terms]}  # fmt: skip
    figure = go.Figure(go.Bar(x=terms, y=[values[t] for t in terms], marker_color=colours, error_y=whiskers,
                              text=[f"{100 * values[t]:.1f} %" for t in terms],
                              # above the bar the whiskers would strike the numbers through: at its foot instead
                              textposition="inside" if intervals else "outside", insidetextanchor="start",
                              constraintext="none",  # a short bar's number keeps its size
                              hovertemplate="%{x}: %{y:.3f}<extra></extra>"))  # fmt: skip
    figure.update_layout(title=N_("Mean probability of the class, per term (blue: group A, orange: group B)"),
                         height=380, yaxis={"title": label, "range": [0, 1.08], "tickformat": ".0%"},
                         xaxis={"type": "category"},  # terms that look like numbers stay labels
                         margin={"l": 10, "r": 10, "t": 40, "b": 40})  # fmt: skip
    return figure


def weat_scores(x: list[str], sx: list[float], y: list[str], sy: list[float]) -> go.Figure:
    """s(w) of every target word: how much closer it sits to attribute set A than to B."""
    figure = go.Figure()
    for words, scores, colour, name in ((x, sx, GROUP_COLOURS[0], N_("target set X")),
                                        (y, sy, GROUP_COLOURS[1], N_("target set Y"))):  # fmt: skip
        figure.add_bar(x=words, y=scores, marker_color=colour, name=name, hovertemplate="%{x}: %{y:.4f}<extra></extra>")
    figure.update_layout(title=N_("s(w) = mean cos(w, A) − mean cos(w, B)"), height=360, xaxis={"type": "category"},
                         yaxis={"title": N_("association with A rather than B")},
                         margin={"l": 10, "r": 10, "t": 40, "b": 40})  # fmt: skip
    return figure


def class_balance(counts: dict[str, int]) -> go.Figure:
    figure = go.Figure(go.Bar(x=list(counts), y=list(counts.values()), marker_color="#2ca02c",
                              text=list(counts.values()), textposition="outside"))  # fmt: skip
    figure.update_layout(title=N_("Training examples per class"), height=300, yaxis={"title": N_("examples")},
                         margin={"l": 10, "r": 10, "t": 40, "b": 40})  # fmt: skip
    return figure


def answer_shift(rows: list[dict], title: str) -> go.Figure:
    """The share of answers each model gives one class (95 % Wilson interval), against the true share (a line)."""
    figure = go.Figure()
    figure.add_bar(x=[row["model"] for row in rows], y=[row["share"].value for row in rows],
                   error_y={"type": "data", "symmetric": False,
                            "array": [row["share"].high - row["share"].value for row in rows],
                            "arrayminus": [row["share"].value - row["share"].low for row in rows]},
                   marker_color=["#1f77b4", "#d62728", "#7f7f7f"][: len(rows)], text=[row["model"] for row in rows])  # fmt: skip
    if rows:
        figure.add_hline(y=rows[0]["true_share"], line_dash="dot", annotation_text=N_("true share"))
    figure.update_layout(title=title,
                         yaxis={"tickformat": ".0%", "range": [0, 1]}, height=360, showlegend=False,
                         margin={"l": 10, "r": 10, "t": 50, "b": 40})  # fmt: skip
    return figure
