"""Plotly figures for the Compute page: memory by part, measured vs predicted training time, extrapolation."""

from __future__ import annotations

import plotly.graph_objects as go

from core.messages import N_

PART_COLOURS = ("#1f77b4", "#ff7f0e", "#9467bd", "#8c564b", "#2ca02c")


def memory_bars(rows: dict[str, dict[str, float]], part_names: dict[str, str],
                uses: tuple[str, str] = ("serving", "training")) -> go.Figure:  # fmt: skip
    """Per precision, a bar to serve (the weights) and a stacked bar to train (weights, gradients, AdamW moments,
    then activations), in GB: the training bar already holds the weights, so the two are side by side,
    never stacked together. ``uses`` names the two bars (in the reader's language)."""
    parts = list(dict.fromkeys(part for row in rows.values() for part in row))
    figure = go.Figure()
    for colour, part in zip(PART_COLOURS, parts, strict=False):
        use = uses[0] if part == "weights (serving)" else uses[1]
        chosen = [p for p in rows if part in rows[p]]
        figure.add_bar(x=[f"{p} · {use}" for p in chosen], y=[rows[p][part] / 1e9 for p in chosen],
                       name=part_names.get(part, part), marker_color=colour,
                       hovertemplate="%{x}: %{y:.3g} GB<extra></extra>")  # fmt: skip
    figure.update_layout(barmode="stack", title=N_("Memory by precision"), height=340,
                         xaxis={"title": N_("numeric precision"), "categoryorder": "array",
                                "categoryarray": [f"{p} · {use}" for p in rows for use in uses
                                                  if use == uses[0] or len(rows[p]) > 1]},  # no empty training slot
                         yaxis={"title": N_("GB")},
                         margin={"l": 10, "r": 10, "t": 40, "b": 40}, legend={"orientation": "h", "y": -0.25})  # fmt: skip
    return figure


def predicted_vs_measured(names: list[str], predicted: list[float], measured: list[float]) -> go.Figure:
    """Each run trained here: the time its FLOP count predicts at the measured throughput against the time it took (log-log),
    with the line where they agree. Runs are named on hover (the table beside it lists them all): with a class's
    runs close together, names printed on the chart would cover one another."""
    low = min([*predicted, *measured]) / 2
    high = max([*predicted, *measured]) * 2
    figure = go.Figure()
    figure.add_scatter(x=[low, high], y=[low, high], mode="lines", line={"dash": "dot", "color": "#7f7f7f"},
                       name=N_("prediction = measurement"), hoverinfo="skip")  # fmt: skip
    figure.add_scatter(x=predicted, y=measured, mode="markers", customdata=names,
                       name=N_("runs trained here"), marker={"size": 10, "color": "#1f77b4"},
                       hovertemplate="%{customdata}: %{x:.3g} s → %{y:.3g} s<extra></extra>")  # fmt: skip
    figure.update_layout(title=N_("Training time: predicted from the FLOP count vs measured"), height=380,
                         xaxis={"title": N_("predicted (s)"), "type": "log"},
                         yaxis={"title": N_("measured (s)"), "type": "log"},
                         margin={"l": 10, "r": 10, "t": 40, "b": 40}, showlegend=True)  # fmt: skip
    return figure


def training_days(names: list[str], days: list[float]) -> go.Figure:
    """Days to train each model at this machine's measured throughput, on a log scale."""
    figure = go.Figure(go.Bar(x=names, y=days, marker_color="#d62728", text=[f"{d:.3g}" for d in days],
                              textposition="outside", hovertemplate="%{x}: %{y:.3g}<extra></extra>"))  # fmt: skip
    figure.update_layout(title=N_("Days of training on this machine (log scale)"), height=360,
                         yaxis={"title": N_("days"), "type": "log"}, xaxis={"title": N_("model")},
                         margin={"l": 10, "r": 10, "t": 40, "b": 40})  # fmt: skip
    return figure
