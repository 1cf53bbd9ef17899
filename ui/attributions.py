"""Attributions of generated tokens drawn the same way on the Translate and Generate pages."""

from __future__ import annotations

import streamlit as st

from core.tasks.seq_attribution import MIN_CHANGE
from core.viz import heatmaps
from ui import render
from ui.i18n import _


def _words(kind: str) -> dict[str, str]:
    """What the axes, the attention and the caption are called when the inputs are a translation's "source" or a
    generated text's "context"."""
    if kind == "source":
        return {"inputs": _("source tokens"), "attention": _("Cross-attention, last layer, mean of heads"),
                "same": _("Same top source token"),
                "sum": _("log p(token | source) − log p(token | baseline source)"),
                "caption": _("Row: one output token of the translation shown above, read with the output tokens before "
                             "it held fixed (teacher forcing); colour: how much each source token raised (red) or lowered "
                             "(blue) that token's log-probability compared with a baseline in which every source word "
                             "piece is replaced by [PAD] ([EOS] and the other special tokens are kept, so their score is "
                             "0 by construction). A pale row means the source barely mattered compared with the baseline: "
                             "often the output tokens before it already decide it. Attention says where the decoder "
                             "looked; integrated gradients split the change in log-probability among the source tokens "
                             "(not the effect of deleting one word), and the two need not agree (the count above).")}  # fmt: skip
    return {"inputs": _("tokens before it"), "attention": _("Attention, last layer, mean of heads"),
            "same": _("Same top earlier token"),
            "sum": _("log p(token | the text before it) − log p(token | the baseline)"),
            "caption": _("Row: one generated token, read from the text as it was generated (teacher forcing); colour: "
                         "how much each earlier token raised (red) or lowered (blue) that token's log-probability "
                         "compared with a baseline in which every token's embedding is zero (the first, boundary token "
                         "kept, so its score is 0 by construction; positions kept). The row's own token and those after "
                         "it cannot matter to it: their scores are 0. Attention is the last layer's where the token is predicted; "
                         "integrated gradients split the change in log-probability among the earlier tokens (not the "
                         "effect of deleting one), and the two need not agree (the count above).")}  # fmt: skip


def heading(kind: str) -> str:
    if kind == "source":
        return _("How much each source token raised or lowered each output token's log-probability (integrated "
                 "gradients)")  # fmt: skip
    return _("How much each earlier token raised or lowered each generated token's log-probability (integrated "
             "gradients)")  # fmt: skip


def draw(found, *, key: str, kind: str) -> None:
    """The integrated-gradient matrix (outputs × inputs) beside the attention for the same outputs, with how often
    their top inputs agree and how complete the sums are."""
    words = _words(kind)
    rows = found.target_tokens
    left, right = st.columns(2)
    with left:
        render.figure(heatmaps.heatmap(found.integrated, title=_("Integrated gradients (nats)"),
                                       x_labels=found.source_tokens, y_labels=rows, x_title=words["inputs"],
                                       y_title=_("output tokens"), colorscale="RdBu_r"), key=f"{key}-ig",
                      stem=f"attributions-{key}",
                      numbers={"inputs": found.source_tokens, "outputs": rows, "integrated_gradients": found.integrated,
                               "gradient_x_input": found.gradient_x_input, "attention": found.attention,
                               "output_change": found.output_change})  # fmt: skip
    if found.attention is not None:
        with right:
            render.figure(heatmaps.heatmap(found.attention, title=words["attention"], x_labels=found.source_tokens,
                                           y_labels=rows, x_title=words["inputs"], y_title=_("output tokens"), zmin=0,
                                           zmax=1), key=f"{key}-ig-attention", stem=f"attention-{key}",
                          numbers={"inputs": found.source_tokens, "outputs": rows, "attention": found.attention})  # fmt: skip
    agree = found.top_agreement()
    first, second = st.columns(2)
    if agree is not None:
        first.metric(words["same"], f"{agree.same} / {agree.rows}" if agree.rows else "–",
                     help=_("Rows whose most-attributed input (largest |score|; the tokens the baseline keeps are left "
                            "out, theirs is 0 by construction) is also the one the mean of the last layer's heads "
                            "attends to most. Rows whose log-probability the inputs changed by less than {least} nats "
                            "are not counted. A random pick would match {chance} of the time.", least=MIN_CHANGE,
                            chance=f"{100 * agree.chance:.0f} %"))  # fmt: skip
    second.metric(_("Completeness error"), f"{100 * found.relative_completeness_error:.2f} %",
                  help=_("Each row should sum to {difference}, the output tokens before it held fixed; the largest miss "
                         "of any row, as a share of that row's change (at least {least} nats).",
                         difference=words["sum"], least=MIN_CHANGE))  # fmt: skip
    st.caption(words["caption"])
    if found.cut:
        st.caption(_("Only the first {count} output tokens are attributed.", count=len(rows)))
