"""Word segmentation page glue: the two segmentations as rows of word chips, where they differ, and the
held-out measurement of both."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core import catalog
from core.errors import CoreError
from core.tasks import snippets
from core.viz import charts, spans
from ui import i18n, models, render, safe
from ui.i18n import _

EXAMPLES = [
    "国家主席江泽民发表新年讲话。",
    "研究生命的起源是一门学问。",
    "南京市长江大桥横跨长江。",
    "结婚的和尚未结婚的都来了。",
    "今天下午，同学们在教室里讨论人工智能的发展。",
    "自然语言处理是人工智能的一个重要方向，分词是中文处理的第一步。",
]
RESULT = "segment-result"


def run(spec, ready: bool, text: str) -> None:
    from core.tasks.segment import side_by_side

    try:
        segmenter = models.task_model(spec) if ready else None
        st.session_state[RESULT] = _drawn(side_by_side(segmenter, text))
    except CoreError as error:
        safe.error(error)
        st.session_state.pop(RESULT, None)


def _drawn(result) -> dict:
    """What the page shows of a result, drawn once when it is computed (a rerun only sends it again)."""
    from core.tasks.segment import differences
    from core.tasks.segment import spans as word_spans

    if result.model is None:
        return {"result": result, "jieba": spans.word_chips(result.jieba, set())}
    mine, theirs = result.model.words, result.jieba
    ours, other = word_spans(mine), word_spans(theirs)

    def marked(words: list[str], elsewhere: set) -> set[int]:
        found, start = set(), 0
        for index, word in enumerate(words):
            if (start, start + len(word)) not in elsewhere:
                found.add(index)
            start += len(word)
        return found

    titles = [_("confidence {value}", value=f"{c:.2f}") for c in result.model.confidence]
    return {"result": result, "model": spans.word_chips(mine, marked(mine, other), titles),
            "jieba": spans.word_chips(theirs, marked(theirs, ours)), "differences": differences(mine, theirs)}


def show(spec) -> None:
    drawn = st.session_state.get(RESULT)
    if drawn is None:
        return
    result = drawn["result"]
    if result.model is None:
        st.markdown("#### jieba")
        st.html(drawn["jieba"])
        st.caption(_("{count} words, {ms} ms. The model trained here joins in when it is ready.",
                     count=len(result.jieba), ms=f"{result.jieba_ms:.1f}"))  # fmt: skip
        return
    left, right = st.columns(2)
    with left:
        st.markdown("#### " + _("Trained here (PKU standard)"))
        st.html(drawn["model"])
        st.caption(_("{count} words, {ms} ms", count=len(result.model.words), ms=f"{result.model.latency_ms:.0f}"))
    with right:
        st.markdown("#### " + _("jieba (dictionary + HMM)"))
        st.html(drawn["jieba"])
        st.caption(_("{count} words, {ms} ms", count=len(result.jieba), ms=f"{result.jieba_ms:.1f}"))
    found = drawn["differences"]
    if not found:
        st.success(_("The two segmentations agree on every word."))
    else:
        st.markdown(_("**Where they differ: {count}** (highlighted). Some differences are standards (how long a word "
                      "is), some are plain mistakes, often on a word the model never saw; hover over a word for the "
                      "model's confidence.", count=len(found)))  # fmt: skip
        safe.table(pd.DataFrame([{_("trained here"): " / ".join(a), "jieba": " / ".join(b)} for a, b in found]),
                   hide_index=True, width="stretch")  # fmt: skip
    with st.expander(_("Code to reproduce this"), icon=":material/code:"):
        st.code(snippets.segmentation(spec, "".join(result.model.words)), language="python")


def quality(spec) -> None:
    card = catalog.read_metadata(spec.key) if spec.trained_here else None
    if card is None or "jieba" not in card:
        return
    with st.expander(_("Held-out quality: the model trained here and jieba on the same paragraphs"),
                     icon=":material/fact_check:", expanded=True):  # fmt: skip

        def row(name: str, found: dict) -> dict:
            f1, oov = found["word_f1"], found["oov_recall"]
            return {_("segmenter"): name, _("word F1"): f"{100 * f1['value']:.1f} % [{100 * f1['low']:.1f}, {100 * f1['high']:.1f}]",
                    _("precision"): f"{100 * found['precision']:.1f} %", _("recall"): f"{100 * found['recall']:.1f} %",
                    _("recall of unseen words (OOV)"): f"{100 * oov['value']:.1f} % [{100 * oov['low']:.1f}, {100 * oov['high']:.1f}]"}  # fmt: skip

        safe.table(pd.DataFrame([row(_("trained here"), card.metrics), row("jieba", card["jieba"])]),
                   hide_index=True, width="stretch")  # fmt: skip
        vs, data = card["vs_jieba"], card["data"]
        floor = 2 / 1001  # the smallest p-value 1,000 paired resamples can give
        p_text = f"< {floor:.3f}" if vs["p_value"] <= floor + 1e-12 else f"= {vs['p_value']:.3f}"
        st.markdown(
            _("Difference in word F1, trained here − jieba: **{value} points** (paired bootstrap over paragraphs, 95 % "
              "CI {low} to {high}, p {p}). Measured on {paragraphs} held-out paragraphs ({words} words; {oov} % of them "
              "absent from the model's training paragraphs, the unseen words of the table) from blocks of People's Daily the model never trained on. Its settings (epochs, "
              "learning rate, dropout, size) were chosen on these same paragraphs, as there is no separate development "
              "set: the score is slightly optimistic. A predicted word counts as right only when it starts and ends at "
              "the same positions as a word of the corpus.",
              value=f"{100 * vs['value']:+.1f}", low=f"{100 * vs['low']:+.1f}", high=f"{100 * vs['high']:+.1f}",
              p=p_text, paragraphs=data["test_size"], words=i18n.number(data["test_words"]),
              oov=f"{100 * card.metrics['oov_share']:.1f}")
        )  # fmt: skip
        st.caption(_("jieba's dictionary was built from People's Daily 1998 itself, MSR's corpus and machine-segmented "
                      "novels, so it may know words of these paragraphs and follows a blend of standards: it often "
                      "joins what the PKU standard splits (a whole name, 江泽民, where PKU writes 江 / 泽民; 一年, 不能, "
                      "国有企业). It reads full-width digits and letters (１９９７, ＣＤＭＡ) as half width here, or it would "
                      "cut them into single characters. Data: {provenance}", provenance=_(data.get("provenance", ""))))  # fmt: skip
        if card.get("loss_curve"):
            render.figure(charts.loss_curve(card["loss_curve"]), key="segment-loss")
        st.page_link("pages/evaluate.py", label=_("Benchmark it with latency and memory on the Evaluate page"),
                     icon=":material/leaderboard:")  # fmt: skip
