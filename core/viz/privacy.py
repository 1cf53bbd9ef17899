"""Plotly figures for the Privacy page: the attack's ROC curve and the two loss distributions."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from core.messages import N_


def roc(fpr: np.ndarray, tpr: np.ndarray, auc: float) -> go.Figure:
    figure = go.Figure()
    figure.add_scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": "#7f7f7f"},
                       name=N_("guessing"), hoverinfo="skip")  # fmt: skip
    figure.add_scatter(x=fpr, y=tpr, mode="lines", line={"color": "#d62728"}, name=f"AUC {auc:.3f}",
                       hovertemplate="%{x:.2f} → %{y:.2f}<extra></extra>")  # fmt: skip
    figure.update_layout(title=N_("The attack's ROC curve"), height=380,
                         xaxis={"title": N_("held-out texts called members (false positives)"), "range": [0, 1]},
                         yaxis={"title": N_("training texts found (true positives)"), "range": [0, 1]},
                         margin={"l": 10, "r": 10, "t": 40, "b": 40})  # fmt: skip
    return figure


def rocs(curves: dict[str, tuple[np.ndarray, np.ndarray, float]]) -> go.Figure:
    """Several attacks' ROC curves on one plot, each named with its model and AUC."""
    figure = go.Figure()
    figure.add_scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": "#7f7f7f"},
                       name=N_("guessing"), hoverinfo="skip")  # fmt: skip
    for name, (fpr, tpr, auc) in curves.items():
        figure.add_scatter(x=fpr, y=tpr, mode="lines", name=f"{name} · AUC {auc:.3f}",
                           hovertemplate="%{x:.2f} → %{y:.2f}<extra></extra>")  # fmt: skip
    figure.update_layout(title=N_("The attack's ROC curve, model by model"), height=400,
                         xaxis={"title": N_("held-out texts called members (false positives)"), "range": [0, 1]},
                         yaxis={"title": N_("training texts found (true positives)"), "range": [0, 1]},
                         legend={"orientation": "h", "y": -0.3}, margin={"l": 10, "r": 10, "t": 40, "b": 40})  # fmt: skip
    return figure


def losses(members: np.ndarray, others: np.ndarray) -> go.Figure:
    figure = go.Figure()
    for values, name, colour in ((members, N_("training texts"), "#1f77b4"), (others, N_("held-out texts"), "#ff7f0e")):
        figure.add_histogram(x=values, name=name, marker_color=colour, opacity=0.6, nbinsx=30, histnorm="probability")
    figure.update_layout(barmode="overlay", title=N_("The model's loss on each text"), height=340,
                         xaxis={"title": N_("loss (negative log-likelihood)")}, yaxis={"title": N_("share of the group's texts")},
                         margin={"l": 10, "r": 10, "t": 40, "b": 40})  # fmt: skip
    return figure


def canary(counts: list[int], edges: list[float], secret_nll: float, title: str) -> go.Figure:
    """How many candidate sentences have each negative log-likelihood (binned), the secret's marked."""
    figure = go.Figure()
    figure.add_bar(x=[(a + b) / 2 for a, b in zip(edges, edges[1:], strict=False)], y=counts,
                   width=[b - a for a, b in zip(edges, edges[1:], strict=False)], marker_color="#7f7f7f",
                   name=N_("the other candidates"))  # fmt: skip
    figure.add_vline(x=secret_nll, line_color="#d62728", line_width=3, annotation_text=N_("the planted secret"))
    figure.update_layout(title=title, height=320, showlegend=False,
                         xaxis={"title": N_("negative log-likelihood of the sentence (nats; lower = likelier)")},
                         yaxis={"title": N_("candidates")}, margin={"l": 10, "r": 10, "t": 40, "b": 40})  # fmt: skip
    return figure
