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


def similarity_bars(similarities: dict[str, float]) -> go.Figure:
    """Cosine similarity per label, best first."""
    ordered = sorted(similarities.items(), key=lambda item: item[1], reverse=True)
    figure = go.Figure(
        go.Bar(
            x=[value for _, value in ordered],
            y=[label for label, _ in ordered],
            orientation="h",
            text=[f"{value:.3f}" for _, value in ordered],
            textposition="auto",
            marker_color=["#1f77b4"] + ["#9ecae1"] * (len(ordered) - 1),
        )
    )
    figure.update_layout(
        title="Cosine similarity of text and label sentence",
        xaxis={"title": "cosine similarity"},
        yaxis={"autorange": "reversed"},
        height=100 + 40 * len(ordered),
        margin={"l": 10, "r": 10, "t": 40, "b": 40},
    )
    return figure


def sentence_scores(indices: list[int], scores: list[float], chosen: list[bool]) -> go.Figure:
    """Centrality of each sentence, chosen ones highlighted."""
    figure = go.Figure(
        go.Bar(
            x=[f"S{i + 1}" for i in indices],
            y=scores,
            marker_color=["#2ca02c" if flag else "#c7c7c7" for flag in chosen],
            hovertemplate="%{x}: %{y:.4f}<extra></extra>",
        )
    )
    figure.update_layout(
        title="TextRank centrality per sentence (green: in the summary)",
        yaxis_title="centrality",
        height=300,
        margin={"l": 10, "r": 10, "t": 50, "b": 40},
    )
    return figure
