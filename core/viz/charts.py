"""Plotly figures for scenario results and training curves."""

from __future__ import annotations

import plotly.graph_objects as go

# Colours that stay distinct for colour-blind readers and on a classroom projector.
LABEL_COLOURS = {"negative": "#d62728", "neutral": "#7f7f7f", "positive": "#2ca02c"}


def class_scores(scores: dict[str, float], *, score_kind: str, title: str = "") -> go.Figure:
    """Horizontal bars, one per class, labelled with the score as a percentage."""
    labels = list(scores)
    values = [scores[label] for label in labels]
    figure = go.Figure(
        go.Bar(
            x=values,
            y=labels,
            orientation="h",
            marker_color=[LABEL_COLOURS.get(label, "#1f77b4") for label in labels],
            text=[f"{100 * value:.1f} %" for value in values],
            textposition="auto",
            hovertemplate="%{y}: %{x:.3f}<extra></extra>",
        )
    )
    figure.update_layout(
        title=title or None,
        xaxis={"range": [0, 1], "title": score_kind, "tickformat": ".0%"},
        yaxis={"autorange": "reversed"},
        height=80 + 48 * len(labels),
        margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 40},
    )
    return figure


def loss_curve(points: list[dict], *, title: str = "Training loss") -> go.Figure:
    """Loss per optimisation step, from a model's metadata."""
    figure = go.Figure(
        go.Scatter(
            x=[point["step"] for point in points],
            y=[point["loss"] for point in points],
            mode="lines",
            name="training loss",
            hovertemplate="step %{x}: %{y:.4f}<extra></extra>",
        )
    )
    figure.update_layout(
        title=title,
        xaxis_title="step",
        yaxis_title="cross-entropy loss",
        height=260,
        margin={"l": 10, "r": 10, "t": 40, "b": 40},
    )
    return figure
