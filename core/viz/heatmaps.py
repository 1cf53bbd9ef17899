"""Heatmaps and small multiples for attention, projections and positional encodings."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.messages import N_

# lines of the hover boxes, translated one by one where the figure is drawn (ui.render)
ROW, COLUMN, VALUE = N_("row %{y}"), N_("column %{x}"), N_("value %{z:.4f}")
QUERY, KEY, WEIGHT = N_("query %{y}"), N_("key %{x}"), N_("weight %{z:.3f}")
LENS_HOVER = N_("%{y}, after %{x}: %{customdata} (%{z:.2f})")  # a logit-lens cell: layer, position, top token, probability
POSITION = N_("position %{customdata}")


def _unique(labels: list[str]) -> list[str]:
    """Plotly merges equal category labels; number repeated tokens so each keeps its own row."""
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label} ({seen[label]})")
    return out


def heatmap(
    matrix: np.ndarray,
    *,
    title: str,
    x_labels: list[str] | None = None,
    y_labels: list[str] | None = None,
    x_title: str = "",
    y_title: str = "",
    colorscale: str = "Blues",
    zmin: float | None = None,
    zmax: float | None = None,
    text_values: bool = False,
    height: int | None = None,
) -> go.Figure:
    """One matrix, rows top to bottom, with optional token labels and printed values."""
    values = np.where(np.isfinite(matrix), matrix, np.nan)
    rows, cols = values.shape
    counts = bool(np.all(np.isnan(values) | (values == np.round(values))))  # e.g. a confusion matrix: 7, not 7.00
    trace = go.Heatmap(
        z=values,
        x=_unique(x_labels) if x_labels is not None else list(range(cols)),
        y=_unique(y_labels) if y_labels is not None else list(range(rows)),
        colorscale=colorscale,
        zmin=zmin,
        zmax=zmax,
        # diverging scales are centred on 0 so the sign reads at a glance
        zmid=0 if colorscale in ("RdBu", "RdBu_r") and zmin is None and zmax is None else None,
        hovertemplate=f"{ROW}<br>{COLUMN}<br>{VALUE}<extra></extra>",
        texttemplate=("%{z:,.0f}" if counts else "%{z:.2f}") if text_values else None,
    )
    figure = go.Figure(trace)
    figure.update_layout(
        title=title,
        xaxis={"title": x_title, "side": "bottom"},
        yaxis={"title": y_title, "autorange": "reversed"},
        height=height or min(620, 160 + 22 * rows),
        margin={"l": 10, "r": 10, "t": 50, "b": 40},
    )
    return figure


GRID_TEXT_CHARS = 7  # a cell shows a token's first characters (the whole token on hover)
GRID_READABLE_COLUMNS = 24  # up to this many columns a cell's text has a fixed, readable size


def token_grid(values: np.ndarray, texts: list[list[str]], *, title: str, x_labels: list[str],
               y_labels: list[str], colorscale: str = "Blues", zmin: float = 0.0, zmax: float = 1.0,
               hover: str = LENS_HOVER, colorbar: dict | None = None) -> go.Figure:  # fmt: skip
    """A layer × position grid with a token written in every cell (the logit lens). Left to itself, Plotly shrinks
    each cell's text until it fits, which leaves a long token a few pixels tall: up to ``GRID_READABLE_COLUMNS``
    columns the text keeps a fixed size and a long token is cut to its first characters."""
    def short(text: str) -> str:
        return text if len(text) <= GRID_TEXT_CHARS else text[: GRID_TEXT_CHARS - 1] + "…"

    readable = len(x_labels) <= GRID_READABLE_COLUMNS
    # a heatmap's cell text can only be %{text}: the cut tokens there, the whole ones in customdata for the hover
    figure = go.Figure(go.Heatmap(z=values, text=[[short(t) for t in row] for row in texts] if readable else texts,
                                  customdata=texts, texttemplate="%{text}",
                                  textfont={"size": 11} if readable else None, x=_unique(x_labels), y=y_labels,
                                  colorscale=colorscale, zmin=zmin, zmax=zmax, colorbar=colorbar,
                                  hovertemplate=hover + "<extra></extra>"))  # fmt: skip
    figure.update_layout(title=title, yaxis={"autorange": "reversed"}, height=160 + 34 * len(y_labels),
                         margin={"l": 10, "r": 10, "t": 50, "b": 40})  # fmt: skip
    return figure


def head_grid(
    weights: np.ndarray, tokens: list[str], *, title: str, columns: int = 4, titles: list[str] | None = None
) -> go.Figure:
    """Every head's attention map, small, in one figure.  ``weights`` (h, T, T)."""
    heads = weights.shape[0]
    titles = titles or [f"head {h}" for h in range(heads)]
    rows = math.ceil(heads / columns)
    labels = _unique(tokens)
    figure = make_subplots(
        rows=rows,
        cols=columns,
        subplot_titles=titles,
        horizontal_spacing=0.02 if columns > 6 else 0.03,
        vertical_spacing=0.04 if rows > 3 else 0.08,
    )
    for h in range(heads):
        figure.add_trace(
            go.Heatmap(
                z=weights[h],
                x=labels,
                y=labels,
                coloraxis="coloraxis",
                hovertemplate=f"{titles[h]}<br>{QUERY}<br>{KEY}<br>{WEIGHT}<extra></extra>",
            ),
            row=h // columns + 1,
            col=h % columns + 1,
        )
    figure.update_yaxes(autorange="reversed", showticklabels=False)
    figure.update_xaxes(showticklabels=False)
    figure.update_layout(
        title=title,
        coloraxis={"colorscale": "Blues", "cmin": 0, "cmax": 1},
        height=(130 if columns > 6 else 230) * rows + 60,
        margin={"l": 10, "r": 10, "t": 70, "b": 10},
    )
    return figure


GRID_CELLS = 300_000  # at most this many cells in the layer × head grid (72 maps of 63 × 63 on MiniLM)


def grid_tokens(n_layers: int, n_heads: int) -> int:
    """How many tokens the layer × head grid shows at most, so it stays within ``GRID_CELLS`` (gaps included)."""
    size = int((GRID_CELLS / (n_layers * n_heads)) ** 0.5)
    while size > 4 and (n_layers * (size + 1) - 1) * (n_heads * (size + 1) - 1) > GRID_CELLS:
        size -= 1
    return max(4, size)


def layer_head_grid(weights: np.ndarray, tokens, *, title: str, offset: int = 0) -> go.Figure:
    """Every layer (rows) × head (columns) attention map, tiled into one heatmap.  ``weights`` (L, H, T, T).

    One trace instead of L·H subplots: for MiniLM's 72 maps, plotly's subplot layout took ~0.17 s of
    Python per page view, the largest share of the server's time under a class's load. A blank row and
    column separate the tiles; hovering a cell names its layer, head, query and key (positions counted
    from ``offset``, the first token shown). Callers keep T within ``grid_tokens``.
    """
    n_layers, n_heads, size = weights.shape[0], weights.shape[1], weights.shape[2]
    step = size + 1
    tiled = np.full((n_layers * step - 1, n_heads * step - 1), np.nan, dtype=np.float32)
    for layer in range(n_layers):
        for head in range(n_heads):
            tiled[layer * step : layer * step + size, head * step : head * step + size] = weights[layer, head]
    positions = [f"{offset + i}:{token}" for i, token in enumerate(tokens)]
    # category labels must be unique: the gaps get invisible, numbered ones
    x = [f"H{c // step} · key {positions[c % step]}" if c % step < size else "\u200b" * (c // step + 1)
         for c in range(tiled.shape[1])]  # fmt: skip
    y = [f"L{r // step} · query {positions[r % step]}" if r % step < size else "\u2060" * (r // step + 1)
         for r in range(tiled.shape[0])]  # fmt: skip
    figure = go.Figure(
        go.Heatmap(z=tiled, x=x, y=y, coloraxis="coloraxis", hoverongaps=False,
                   hovertemplate="%{y}<br>%{x}<br>weight %{z:.3f}<extra></extra>")
    )  # fmt: skip
    centre = size // 2  # ticks by category index: the labels' text (escaped for display) plays no part
    figure.update_layout(
        title=title,
        coloraxis={"colorscale": "Blues", "cmin": 0, "cmax": 1},
        xaxis={"tickmode": "array", "tickvals": [h * step + centre for h in range(n_heads)],
               "ticktext": [f"H{h}" for h in range(n_heads)], "side": "top", "showgrid": False},
        yaxis={"tickmode": "array", "tickvals": [r * step + centre for r in range(n_layers)],
               "ticktext": [f"L{r}" for r in range(n_layers)], "autorange": "reversed", "showgrid": False},
        height=min(1400, 90 + n_layers * max(60, min(200, 1000 // n_heads))),
        margin={"l": 10, "r": 10, "t": 90, "b": 10},
        plot_bgcolor="white",
    )  # fmt: skip
    return figure


def lines(
    x, series: dict[str, np.ndarray], *, title: str, x_title: str, y_title: str, log_x: bool = False
) -> go.Figure:
    figure = go.Figure()
    for name, values in series.items():
        figure.add_trace(
            go.Scatter(x=x, y=values, mode="lines+markers" if len(x) < 30 else "lines", name=name)
        )
    figure.update_layout(
        title=title,
        # names (a model's layers) are categories: on a linear axis Plotly would draw no point at all
        xaxis={"title": x_title, "type": "log" if log_x else "category" if len(x) and isinstance(x[0], str) else "linear"},
        yaxis_title=y_title,
        height=340,
        margin={"l": 10, "r": 10, "t": 50, "b": 40},
        legend={"orientation": "h", "y": -0.25},
    )
    return figure


def bars(labels: list[str], values: np.ndarray, *, title: str, y_title: str) -> go.Figure:
    figure = go.Figure(go.Bar(x=labels, y=values, hovertemplate="%{x}: %{y:.3f}<extra></extra>"))
    figure.update_layout(
        title=title, yaxis_title=y_title, height=300, margin={"l": 10, "r": 10, "t": 50, "b": 40}
    )
    return figure


def rotation_plot(points: np.ndarray, *, title: str) -> go.Figure:
    """A 2-D vector at successive positions (rows of ``points``), drawn from the origin and labelled by position."""
    figure = go.Figure()
    for position, (x, y) in enumerate(points):
        figure.add_trace(
            go.Scatter(
                x=[0, x],
                y=[0, y],
                mode="lines+markers+text",
                text=["", f"m={position}"],
                textposition="top center",
                marker={"size": [0, 8]},
                line={"width": 1.5},
                showlegend=False,
                customdata=[position, position],
                hovertemplate=f"{POSITION}<br>(%{{x:.3f}}, %{{y:.3f}})<extra></extra>",
            )
        )
    limit = float(np.abs(points).max()) * 1.25 or 1.0
    figure.update_layout(
        title=title,
        xaxis={"range": [-limit, limit], "zeroline": True, "title": "x₂ᵢ"},
        yaxis={"range": [-limit, limit], "zeroline": True, "scaleanchor": "x", "title": "x₂ᵢ₊₁"},
        height=420,
        margin={"l": 10, "r": 10, "t": 50, "b": 40},
    )
    return figure
