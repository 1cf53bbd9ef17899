"""Inspect → Ablate: a sweep run both ways (its parts zeroed, and replaced by their means: two shared runs of the
class) drawn one against the other, one point per part."""

from __future__ import annotations

import numpy as np
import streamlit as st

from core.viz import charts
from ui import render, shared_runs
from ui.i18n import _


def _cells(found: dict, rows: list[str], columns: list[str], scale: float) -> dict[str, float]:
    """Every part the sweep scored, by name ("L0 H2", "enc L1 H0", "L1 MLP"), and its Δ × ``scale``."""
    cells = {f"{rows[r]} {columns[h]}": scale * float(found["delta"][r, h])
             for r in range(len(rows)) for h in range(len(columns)) if np.isfinite(found["delta"][r, h])}  # fmt: skip
    if "mlp_delta" in found:  # a language model's sweep also switches each layer's MLP off
        cells.update({f"{rows[r]} MLP": scale * float(value) for r, value in enumerate(found["mlp_delta"])})
    return cells


def both_modes(keys: dict[str, tuple], rows: list[str], columns: list[str], *, measure: str, costliest: str,
               stem: str, key: str, scale: float = 1.0) -> None:  # fmt: skip
    """Once the class has run a sweep both ways (``keys``: "zero" and "mean" → their shared runs' keys), each part's
    Δ zeroed against its Δ by its mean; nothing until both have finished. ``costliest``: "highest" when a costly
    part raises the measure (perplexity), "lowest" when it lowers it (accuracy, chrF)."""
    runs = {mode: shared_runs.state(run_key) for mode, run_key in keys.items()}
    if not all(run is not None and "result" in run for run in runs.values()):
        return
    zero, mean = (_cells(runs[mode]["result"], rows, columns, scale) for mode in ("zero", "mean"))
    parts = [part for part in zero if part in mean]
    if not parts:
        return
    st.subheader(_("Zeroed or replaced by its mean: both sweeps"))
    figure = charts.mode_comparison(parts, [zero[p] for p in parts], [mean[p] for p in parts],
                                    title=_("Δ {measure}, each part switched off both ways", measure=measure),
                                    x_title=_("zeroed"), y_title=_("replaced by its mean"))  # fmt: skip
    render.figure(figure, key=f"{key}-modes", stem=stem,
                  numbers={"run": list(keys["zero"][:-1]), "measure": measure, "parts": parts,
                           "delta_zeroed": [zero[p] for p in parts], "delta_by_mean": [mean[p] for p in parts]})  # fmt: skip
    st.caption(_("Each point is one part (a diamond: a layer's MLP): its Δ {measure} zeroed (across) and replaced by "
                 "its mean (up); each Δ's CI is in the sweep's table for its mode. On the dotted diagonal a part costs the same "
                 "either way. Where both Δs are costs ({direction}), the share of the zeroed cost that the mean "
                 "keeps away was the part's average output, lost when it is zeroed (perhaps because the layers after "
                 "it then get an input unlike any in training); a part whose Δ by its mean is the larger costs more "
                 "replaced by its average than writing nothing. Up to five parts off the diagonal, the farthest, are "
                 "named.", measure=measure,
                 direction=_("above 0") if costliest == "highest" else _("below 0")))  # fmt: skip
