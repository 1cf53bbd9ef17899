"""Plotly figures for scenario results and training curves."""

from __future__ import annotations

import statistics

import plotly.colors
import plotly.graph_objects as go

from core.messages import N_

# Colours that stay distinct for colour-blind readers and on a classroom projector.
LABEL_COLOURS = {"negative": "#d62728", "neutral": "#7f7f7f", "positive": "#2ca02c"}


def class_scores(scores: dict[str, float], *, score_kind: str, title: str = "",
                 classes: list[str] | None = None) -> go.Figure:  # fmt: skip
    """Horizontal bars, one per class, labelled with the score as a percentage. ``classes``: each bar's class as the
    model names it, for its colour, where ``scores`` names them in another language (负面 is still red)."""
    labels = list(scores)
    values = [scores[label] for label in labels]
    colours = [LABEL_COLOURS.get(name, "#1f77b4") for name in (classes or labels)]
    figure = go.Figure(
        go.Bar(
            x=values,
            y=labels,
            orientation="h",
            marker_color=colours,
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


def loss_curve(points: list[dict], *, title: str = N_("Training loss")) -> go.Figure:
    """Loss per optimisation step, from a model's metadata."""
    figure = go.Figure(
        go.Scatter(
            x=[point["step"] for point in points],
            y=[point["loss"] for point in points],
            mode="lines",
            name=N_("training loss"),
            hovertemplate="step %{x}: %{y:.4f}<extra></extra>",
        )
    )
    figure.update_layout(
        title=title,
        xaxis_title=N_("step"),
        yaxis_title=N_("cross-entropy loss"),
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
        title=N_("Cosine similarity of text and label sentence"),
        xaxis={"title": N_("cosine similarity")},
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
        title=N_("TextRank centrality per sentence (green: in the summary)"),
        yaxis_title=N_("centrality"),
        height=300,
        margin={"l": 10, "r": 10, "t": 50, "b": 40},
    )
    return figure


def training_curves(runs: dict[str, dict], *, title: str = N_("Loss during training"), training: str = "training",
                    validation: str = "validation",
                    rises: str = "validation loss rises after epoch {epoch}") -> go.Figure:  # fmt: skip
    """Training loss (lines) and validation loss (markers) of one or more runs, against epochs.

    ``runs`` maps a run name to {"loss_curve": [...], "eval_curve": [...], "overfitting": {...} | None};
    ``training``, ``validation`` and ``rises`` are the words of the legend and the overfitting mark.
    """
    figure = go.Figure()
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
    for index, (name, run) in enumerate(runs.items()):
        colour = palette[index % len(palette)]
        train = run.get("loss_curve") or []
        if train:
            figure.add_trace(go.Scatter(x=[p["epoch"] for p in train], y=[p["loss"] for p in train], mode="lines",
                                        name=f"{name}: {training}", line={"color": colour, "width": 1.5}, opacity=0.7))  # fmt: skip
        evals = run.get("eval_curve") or []
        if evals:
            figure.add_trace(go.Scatter(x=[p["epoch"] for p in evals], y=[p["eval_loss"] for p in evals],
                                        mode="lines+markers", name=f"{name}: {validation}",
                                        line={"color": colour, "dash": "dash"}, marker={"size": 8}))  # fmt: skip
        flag = run.get("overfitting")
        if flag:
            figure.add_vline(x=flag["best_epoch"], line_dash="dot", line_color=colour,
                             annotation_text=f"{name}: " + rises.format(epoch=f"{flag['best_epoch']:g}"))  # fmt: skip
    figure.update_layout(title=title, xaxis_title=N_("epoch"), yaxis_title=N_("cross-entropy loss"), height=360,
                         margin={"l": 10, "r": 10, "t": 50, "b": 40}, legend={"orientation": "h", "y": -0.25})  # fmt: skip
    return figure


def histogram(values: list[int], *, title: str, x_title: str, marker: float | None = None,
              marker_label: str = "max length {value}") -> go.Figure:  # fmt: skip
    figure = go.Figure(go.Histogram(x=values, nbinsx=40, marker_color="#6baed6"))
    if marker is not None:
        figure.add_vline(
            x=marker, line_dash="dash", line_color="#d62728", annotation_text=marker_label.format(value=f"{marker:g}")
        )
    figure.update_layout(title=title, xaxis_title=x_title, yaxis_title=N_("examples"), height=280,
                         margin={"l": 10, "r": 10, "t": 50, "b": 40})  # fmt: skip
    return figure


def class_balance(labels: list[str], balance: dict[str, list[int]], names: dict | None = None) -> go.Figure:
    figure = go.Figure()
    for split, counts in balance.items():
        figure.add_trace(go.Bar(x=labels, y=counts, name=(names or {}).get(split, split), text=counts,
                                textposition="auto"))  # fmt: skip
    figure.update_layout(barmode="group", title=N_("Examples per class and split"), height=300,
                         margin={"l": 10, "r": 10, "t": 50, "b": 40})  # fmt: skip
    return figure


def quality_latency(rows: list, *, label: str = N_("accuracy"), higher_is_better: bool = True, scale: float = 1.0,
                    percent: bool = False, title: str | None = None, y_title: str | None = None) -> go.Figure:  # fmt: skip
    """Quality against median latency, with 95 % CI error bars; the Pareto front (no model both better and faster) joined
    and its models named (every model on hover).

    ``rows`` are benchmark rows (their ``value``, ``low``, ``high`` times ``scale``, and ``latency_p50_ms``)."""
    rows = [{"model": r["model"], "latency_p50_ms": r["latency_p50_ms"], "q": scale * r["value"],
             "q_low": scale * r["low"], "q_high": scale * r["high"]} for r in rows]  # fmt: skip
    metric = "q"
    points = sorted(rows, key=lambda r: r["latency_p50_ms"])
    sign = 1 if higher_is_better else -1
    front, best = [], -float("inf")
    for row in points:
        if sign * row[metric] > best:
            front.append(row)
            best = sign * row[metric]
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            x=[r["latency_p50_ms"] for r in rows],
            y=[r[metric] for r in rows],
            error_y={"type": "data", "symmetric": False,
                     "array": [r[f"{metric}_high"] - r[metric] for r in rows],
                     "arrayminus": [r[metric] - r[f"{metric}_low"] for r in rows]},
            # named on the chart: the front's models (names of neighbours print over one another); all on hover
            mode="markers+text", text=[r["model"] if r in front else "" for r in rows], textposition="top center",
            customdata=[r["model"] for r in rows], cliponaxis=False, marker={"size": 11}, name=N_("models"),
            hovertemplate="%{customdata}<br>latency %{x:.2f} ms<br>" + label + " %{y:.3f}<extra></extra>",
        )
    )  # fmt: skip
    figure.add_trace(go.Scatter(x=[r["latency_p50_ms"] for r in front], y=[r[metric] for r in front], mode="lines",
                                line={"dash": "dot", "color": "#2ca02c"}, name=N_("Pareto front")))  # fmt: skip
    name = label
    figure.update_layout(title=title or f"{name} (95 % CI) against median latency",
                         xaxis={"title": N_("latency p50 (ms), log"), "type": "log"},
                         yaxis={"title": y_title or name + ("" if higher_is_better else " (lower is better)"),
                                "tickformat": ".0%" if percent else None},
                         height=420, margin={"l": 10, "r": 10, "t": 50, "b": 40})  # fmt: skip
    return figure


def reliability(bins_by_model: dict[str, list[dict]]) -> go.Figure:
    """Reliability diagram: accuracy per confidence bin against the diagonal of perfect calibration."""
    figure = go.Figure(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dash", "color": "#999"},
                                  name=N_("perfectly calibrated")))  # fmt: skip
    for name, bins in bins_by_model.items():
        figure.add_trace(go.Scatter(x=[b["confidence"] for b in bins], y=[b["accuracy"] for b in bins],
                                    mode="lines+markers", name=name,
                                    text=[f"n={b['count']}" for b in bins]))  # fmt: skip
    figure.update_layout(title=N_("Reliability: accuracy per confidence bin"), xaxis_title=N_("confidence"), yaxis_title=N_("accuracy"),
                         height=380, margin={"l": 10, "r": 10, "t": 50, "b": 40})  # fmt: skip
    return figure


def _visible(token: str) -> str:
    """Tokens with their spaces and newlines shown: ' the' reads as '␣the'."""
    return token.replace(" ", "␣").replace("\n", "↵") or "∅"


def next_token_bars(models: dict[str, list[dict]]) -> go.Figure:
    """Top-k next tokens, one panel per model, probability bars best first. The panels are laid out by hand, as
    ``make_subplots`` would with these spacings: built on every run of the Generate page (twice), it took 10 ms a
    figure against 2 ms."""
    names, gap = list(models), 0.18
    width = (1 - gap * (len(names) - 1)) / len(names)
    layout = {"height": 120 + 26 * max(len(rows) for rows in models.values()), "annotations": [],
              "margin": {"l": 10, "r": 10, "t": 40, "b": 40}}  # fmt: skip
    bars = []
    for index, name in enumerate(names):
        rows, left, axis = models[name], index * (width + gap), "" if index == 0 else str(index + 1)
        bars.append(go.Bar(x=[row["probability"] for row in rows], y=[_visible(row["token"]) for row in rows],
                           orientation="h", text=[f"{100 * row['probability']:.1f} %" for row in rows],
                           textposition="auto", marker_color="#1f77b4" if index == 0 else "#ff7f0e",
                           hovertemplate="%{y}: %{x:.4f}<extra></extra>", showlegend=False, xaxis=f"x{axis}",
                           yaxis=f"y{axis}"))  # fmt: skip
        layout[f"xaxis{axis}"] = {"domain": [left, left + width], "anchor": f"y{axis}", "tickformat": ".0%",
                                  "title": {"text": N_("probability")}}  # fmt: skip
        layout[f"yaxis{axis}"] = {"domain": [0, 1], "anchor": f"x{axis}", "autorange": "reversed"}
        layout["annotations"].append({"text": name, "x": left + width / 2, "y": 1, "xref": "paper", "yref": "paper",
                                      "xanchor": "center", "yanchor": "bottom", "showarrow": False,
                                      "font": {"size": 16}})  # panel titles, as make_subplots writes them  # fmt: skip
    return go.Figure(data=bars, layout=layout)


def token_logprobs(tokens: list[str], series: dict[str, list[float]], *, title: str = "") -> go.Figure:
    """log₂-probability of each token given the ones before it, one bar group per model (lower = more surprising)."""
    import math

    labels = [f"{i}:{_visible(token)}" for i, token in enumerate(tokens, start=1)]
    figure = go.Figure()
    for name, values in series.items():
        figure.add_trace(
            go.Bar(
                x=labels,
                y=[v / math.log(2) for v in values],
                name=name,
                hovertemplate="%{x}: %{y:.2f} bits<extra>" + name + "</extra>",
            )  # fmt: skip
        )
    figure.update_layout(
        title=title or None, barmode="group", yaxis_title=N_("log₂ P(token | before)"), height=330,
        margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 40},
        legend={"orientation": "h", "y": 1.12},
    )  # fmt: skip
    return figure


def generation_steps(steps: list[dict]) -> go.Figure:
    """The probability (before sampling settings) of every token the sampler chose."""
    labels = [f"{i}:{_visible(step['token'])}" for i, step in enumerate(steps, start=1)]
    figure = go.Figure(
        go.Bar(
            x=labels,
            y=[step["probability"] for step in steps],
            customdata=[step["kept"] for step in steps],
            hovertemplate="%{x}: P=%{y:.3f}, %{customdata} candidates kept<extra></extra>",
        )  # fmt: skip
    )
    figure.update_layout(
        yaxis={"title": N_("model probability"), "range": [0, 1], "tickformat": ".0%"}, height=280,
        margin={"l": 10, "r": 10, "t": 10, "b": 40},
    )  # fmt: skip
    return figure


def accuracy_by_edits(attacked: list, clean, chosen: int) -> go.Figure:
    """Accuracy under attack with 1, 2, … edits per text (95 % CIs as whiskers), the clean accuracy as a line and
    the sliders' setting marked. ``attacked`` and ``clean`` are core.stats Estimates."""
    edits = list(range(1, len(attacked) + 1))
    figure = go.Figure(go.Scatter(
        x=edits, y=[e.value for e in attacked], mode="lines+markers", name=N_("accuracy under attack"),
        error_y={"type": "data", "symmetric": False, "array": [e.high - e.value for e in attacked],
                 "arrayminus": [e.value - e.low for e in attacked]},
        hovertemplate="%{x}: %{y:.0%}<extra></extra>"))  # fmt: skip
    figure.add_hline(y=clean.value, line_dash="dot", annotation_text=N_("before the attack"))
    figure.add_vline(x=chosen, line_color="#999", line_width=1)
    figure.update_layout(title=N_("Accuracy as more edits are allowed per text"), height=300,
                         xaxis={"title": N_("edits allowed per text"), "dtick": 1},
                         yaxis={"title": N_("accuracy"), "range": [0, 1.05], "tickformat": ".0%"},
                         margin={"l": 10, "r": 10, "t": 40, "b": 40})  # fmt: skip
    return figure


def mode_comparison(parts: list[str], zeroed: list[float], by_mean: list[float], *, title: str, x_title: str,
                    y_title: str, named: int = 5) -> go.Figure:  # fmt: skip
    """Each part's Δ when switched off by zeroing (across) against by its mean (up), one point per part (an MLP a
    diamond), on axes of one scale with the diagonal where both cost the same; up to ``named`` parts off the
    diagonal, the farthest, carry their names."""
    values = [*zeroed, *by_mean, 0.0]
    low, high = min(values), max(values)
    off = [i for i in range(len(parts)) if zeroed[i] != by_mean[i]]
    farthest = set(sorted(off, key=lambda i: -abs(zeroed[i] - by_mean[i]))[:named])
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=[low, high], y=[low, high], mode="lines", hoverinfo="skip", showlegend=False,
                                line={"dash": "dot", "color": "grey"}))  # fmt: skip
    figure.add_trace(go.Scatter(x=zeroed, y=by_mean, mode="markers+text", showlegend=False, customdata=parts,
                                text=[part if i in farthest else "" for i, part in enumerate(parts)],
                                textposition="top center",
                                marker={"size": 9, "symbol": ["diamond" if p.endswith("MLP") else "circle" for p in parts]},
                                hovertemplate=f"%{{customdata}}<br>{x_title}: %{{x:.2f}}<br>{y_title}: %{{y:.2f}}"
                                              "<extra></extra>"))  # fmt: skip
    figure.update_layout(title=title, xaxis_title=x_title, yaxis_title=y_title, height=480,
                         yaxis={"scaleanchor": "x", "scaleratio": 1},
                         margin={"l": 60, "r": 20, "t": 60, "b": 50})  # fmt: skip
    return figure


def learning_curves(curves: dict[str, list[tuple[int, dict, str]]]) -> go.Figure:
    """Held-out accuracy (95 % CIs as whiskers) against the labelled examples a run spent, one line per group of runs
    (``core.training.curve.by_labels``): how much labelled data a model needs. Each point's hover names its run."""
    figure = go.Figure()
    colours = plotly.colors.qualitative.Plotly
    for number, (name, points) in enumerate(curves.items()):
        sizes, estimates, keys = zip(*points, strict=True)
        colour = colours[number % len(colours)]
        figure.add_trace(go.Scatter(
            x=list(sizes), y=[e["value"] for e in estimates], mode="markers", name=name, customdata=list(keys),
            legendgroup=name, marker={"color": colour},
            error_y={"type": "data", "symmetric": False, "array": [e["high"] - e["value"] for e in estimates],
                     "arrayminus": [e["value"] - e["low"] for e in estimates]},
            hovertemplate="%{customdata}: %{x} → %{y:.1%}<extra></extra>"))  # fmt: skip
        # The line runs through each size's mean, so two runs of one size are two points, not a zigzag.
        runs_of: dict[int, list[float]] = {}
        for size, estimate in zip(sizes, estimates, strict=True):
            runs_of.setdefault(size, []).append(estimate["value"])
        means = {size: statistics.fmean(runs_of[size]) for size in sorted(runs_of)}
        figure.add_trace(go.Scatter(x=list(means), y=list(means.values()), mode="lines", legendgroup=name,
                                    showlegend=False, hoverinfo="skip", line={"color": colour}))  # fmt: skip
    figure.update_layout(title=N_("Accuracy against the labelled examples a run spent"), height=360,
                         xaxis={"title": N_("labelled examples (log scale)"), "type": "log"},
                         yaxis={"title": N_("held-out accuracy"), "tickformat": ".0%"},
                         margin={"l": 10, "r": 10, "t": 40, "b": 40})  # fmt: skip
    return figure
