"""The Bias page's probes put to the model's other runtimes and to the baselines: one shared run per model version and
request, in a benchmark process of its own (``core.bench.bias_compare``)."""

from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st

from core import catalog
from core.tasks import bias
from core.tasks.base import own_dataset
from ui import render, safe, shared_runs
from ui.i18n import _
from ui.robustness import WAYS


def panel(spec: catalog.ModelSpec, found: bias.ProbeResult) -> None:
    """A button, then a table: the same probes (templates, terms, class) on every way LM Lab computes the model and on
    the baselines fitted on its training split."""
    from core.bench import bias_compare

    st.subheader(_("The same probes on the model's other runtimes and on baselines"))
    dataset = own_dataset(spec)
    card = catalog.read_metadata(spec.key) if dataset else None
    if card is None:
        st.caption(_("Only for a model trained here on one of LM Lab's datasets: the baselines are fitted on its "
                     "training split."))  # fmt: skip
        return
    request = bias_compare.Request(found.templates, found.group_a, found.group_b, found.label)
    asked = request.to_json()
    run_key = ("bias-compare", spec.key, card.sha256, hashlib.sha256(asked.encode()).hexdigest())

    compared = shared_runs.on_request(run_key, _("Run the same probes on the other runtimes and the baselines"),
                                      "bias-compare",
                                      lambda progress: _compare(spec, card.sha256, dataset, asked, progress),
                                      render.queue_note(_("Probing the other runtimes and the baselines…")),
                                      # per session: edited probes cannot queue up the server's benchmark slot
                                      shared_runs.one_at_a_time("bias-compare-started", run_key, _(
                                          "Your previous comparison is still running: wait for it, then run this "
                                          "one.")))  # fmt: skip
    if compared is None:
        return
    safe.table(pd.DataFrame([_row(model_id, one) for model_id, one in compared.items()]), hide_index=True,
               key="bias-compare-table")  # fmt: skip
    st.caption(_("Every row answers the same {count} sentences. TF-IDF + logistic regression was fitted on the "
                 "model's training split: each word and word pair (English) or character and its neighbours (Chinese) "
                 "of a term carries the weight it learned there, pairs that join the term to the template's words "
                 "too, a word it never met counts for nothing, and a longer term "
                 "dilutes the template's other words. The rows' probabilities are on different scales and answer the "
                 "same sentences: compare them by the sign of the gap, p and the flips; overlapping intervals are no "
                 "test of a difference between two rows. A bag of words can be biased too; a model that reads the "
                 "whole sentence can be biased in ways no single word shows.",
                 count=len(found.templates) * (len(found.group_a) + len(found.group_b))))  # fmt: skip
    if "vader" in compared:
        st.caption(_("VADER is a fixed English lexicon: a term gets a score only if the lexicon lists it, and its gap is "
                     "in its compound score rescaled to 0–1, not in a probability."))  # fmt: skip


def _row(model_id: str, one: bias.ProbeResult | str) -> dict:
    way = _(WAYS.get(model_id.partition("@")[2] or model_id, model_id))
    gap, p, flips = _("Mean gap, A − B (points)"), _("Permutation p"), _("Pairs whose label flips")
    if isinstance(one, str):  # this row could not be computed: its reason, the others stand
        return {_("computed by"): way, gap: "–", p: "–", flips: one}
    # no flip at all: a bootstrap of zeros is [0, 0], which would look like certainty (the metric above says why)
    flipped = (f"{100 * one.flip_share:.1f} % [{100 * one.flip_low:.1f}, {100 * one.flip_high:.1f}]" if one.flip_share
               else _("none of {count}", count=one.flip_pairs))  # fmt: skip
    return {_("computed by"): way, gap: f"{100 * one.gap:+.2f} [{100 * one.gap_low:+.2f}, {100 * one.gap_high:+.2f}]",
            p: f"{one.p_value:.4f}", flips: flipped}  # fmt: skip


def _compare(spec: catalog.ModelSpec, sha256: str, dataset: str, asked: str, progress) -> dict:
    """The comparison in a benchmark process of its own (the benchmark job limit applies), polled until done."""
    from core.bench import background, bias_compare

    return bias_compare.from_json(background.follow(background.start_bias(spec.key, dataset, sha256, asked), progress))
