"""Plotly figures for the FAQ page: accuracy against model size, and pretrained against random starting weights."""

from __future__ import annotations

import plotly.graph_objects as go

from core.messages import N_


def pareto_front(rows: list[dict]) -> list[dict]:
    """The rows no other row beats on both counts — as small or smaller and as accurate or more, better on one —
    smallest first: the models worth choosing from on a size budget."""
    def beaten(row: dict) -> bool:
        size, accuracy = row["parameters"], row["accuracy"]["value"]
        return any(other["parameters"] <= size and other["accuracy"]["value"] >= accuracy
                   and (other["parameters"] < size or other["accuracy"]["value"] > accuracy) for other in rows)  # fmt: skip

    return sorted((row for row in rows if not beaten(row)), key=lambda row: row["parameters"])


def accuracy_vs_size(groups: dict[str, list[dict]]) -> go.Figure:
    """Held-out accuracy (95 % CI) of each model against its parameter count (log scale): one trace per group of
    models scored on the same held-out texts (``groups``: its name → its rows), its Pareto front drawn as a dashed
    line. Only the front's models are named on the chart (every point on hover): names of neighbouring points
    would print over one another."""
    figure = go.Figure()
    for name, group in groups.items():
        front = pareto_front(group)
        named = {row["key"]: index for index, row in enumerate(front)}  # smallest first: neighbours alternate sides
        if len(front) > 1:
            figure.add_scatter(x=[row["parameters"] for row in front], y=[row["accuracy"]["value"] for row in front],
                               mode="lines", line={"dash": "dash", "width": 1, "color": "#7f7f7f"}, showlegend=False,
                               hoverinfo="skip")  # fmt: skip
        figure.add_scatter(
            x=[row["parameters"] for row in group], y=[row["accuracy"]["value"] for row in group],
            error_y={"type": "data", "symmetric": False,
                     "array": [row["accuracy"]["high"] - row["accuracy"]["value"] for row in group],
                     "arrayminus": [row["accuracy"]["value"] - row["accuracy"]["low"] for row in group]},
            mode="markers+text", text=[row["key"] if row["key"] in named else "" for row in group],
            customdata=[row["key"] for row in group], cliponaxis=False, marker={"size": 11}, name=name,
            textposition=["bottom center" if named.get(row["key"], 0) % 2 else "top center" for row in group],
            hovertemplate="%{customdata}<br>%{x:,} parameters<br>%{y:.1%}<extra></extra>")  # fmt: skip
    figure.update_layout(title=N_("Held-out accuracy (95 % CI) against model size"), height=420,
                         xaxis={"title": N_("parameters (log scale)"), "type": "log"},
                         yaxis={"title": N_("held-out accuracy"), "tickformat": ".0%"},
                         margin={"l": 10, "r": 10, "t": 50, "b": 40})  # fmt: skip
    return figure


def pretraining_bars(pairs: list[tuple[dict, dict]]) -> go.Figure:
    """Each pair's held-out accuracy with its 95 % CI: pretrained first, then from random weights."""
    figure = go.Figure()
    for index, (name, colour) in enumerate(((N_("pretrained, then fine-tuned"), "#1f77b4"),
                                            (N_("from random weights"), "#ff7f0e"))):  # fmt: skip
        chosen = [pair[index] for pair in pairs]
        figure.add_bar(x=[f"{a['key']} / {b['key']}" for a, b in pairs], y=[c["accuracy"]["value"] for c in chosen],
                       error_y={"type": "data", "symmetric": False,
                                "array": [c["accuracy"]["high"] - c["accuracy"]["value"] for c in chosen],
                                "arrayminus": [c["accuracy"]["value"] - c["accuracy"]["low"] for c in chosen]},
                       name=name, marker_color=colour, text=[c["key"] for c in chosen])  # fmt: skip
    figure.update_layout(barmode="group", title=N_("What the starting weights buy (held-out accuracy, 95 % CI)"),
                         height=380, yaxis={"title": N_("held-out accuracy"), "tickformat": ".0%", "range": [0, 1]},
                         margin={"l": 10, "r": 10, "t": 50, "b": 40})  # fmt: skip
    return figure
