"""Translate page glue: the translation, its cross-attention alignment, bertviz, held-out samples, code."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core import catalog
from core.catalog import HUB
from core.errors import CoreError
from core.tasks import snippets
from core.viz import charts, heatmaps
from ui import attributions, i18n, models, render, safe
from ui.i18n import N_, _, pgettext

DECODINGS = (N_("greedy"),)  # what core names a decoding, translated where it is shown

# Sentences of the generated grammar — the grammar table's first example, then held-out sentences the models never saw
# (each page run sets the grammar's own translation beside the model's) — and one from outside it.
EXAMPLES = [
    "Tom read a book in the library yesterday.",
    "Will the students carry a glass of water next year?",
    "Where did my workers lose ten computers?",
    "Linda is feeding the beautiful dog right now.",
    "Mike did not see ten houses on Monday.",
    "The weather in Sydney was lovely this afternoon.",
]


# Chinese sentences of the grammar (from the table of what it covers) and one from outside it.
EXAMPLES_ZH = [
    "玛丽买了两只猫。",
    "汤姆昨天在图书馆看了一本书。",
    "汤姆没有买车。",
    "她没有找到那把钥匙。",
    "汤姆买了什么？",
    "悉尼今天下午的天气很好。",
]
# direction → (task, default model, examples, the text box's label)
DIRECTIONS = {
    "en-zh": ("translation", "translate-en-zh", EXAMPLES, N_("English sentence")),
    "zh-en": ("translation-zh-en", "translate-zh-en", EXAMPLES_ZH, N_("Chinese sentence")),
}
DIRECTION_NAMES = {"en-zh": "English → 中文", "zh-en": "中文 → English"}


def direction() -> str:
    """English → Chinese or Chinese → English: the page's task. A ``?model=`` link opens in its model's direction."""
    if st.session_state.get("translate-direction") not in DIRECTIONS:
        try:
            task = catalog.get_spec(str(st.query_params.get("model", ""))).task
        except CoreError:
            task = ""
        st.session_state["translate-direction"] = "zh-en" if task == DIRECTIONS["zh-en"][0] else "en-zh"
    return st.segmented_control(_("Direction"), list(DIRECTIONS), key="translate-direction", required=True,
                                format_func=DIRECTION_NAMES.get, on_change=_direction_changed,
                                help=_("Two models trained on the same generated sentence pairs, one for each "
                                       "direction."))  # fmt: skip


def _direction_changed() -> None:
    """A new direction starts from its first example, with no answer of the other direction's model on screen."""
    chosen = st.session_state.get("translate-direction")
    if chosen in DIRECTIONS:
        st.session_state["translate-text"] = DIRECTIONS[chosen][2][0]
    for key in ("translate-result", "translate-example"):
        st.session_state.pop(key, None)


def translate(spec, text: str, beams: int) -> None:
    try:
        translator = models.task_model(spec)
        result = translator.translate(text, beams=beams)
    except CoreError as error:
        safe.error(error)
        return
    st.session_state["translate-result"] = (spec.key, result, beams)


def show(spec) -> None:
    stored = st.session_state.get("translate-result")
    if not stored or stored[0] != spec.key:
        return
    result, beams = stored[1], stored[2]
    nothing = _("∅ (the model produced no text)")
    st.markdown(f"### {safe.md(result.text) if result.text else nothing}")
    first, second, third = st.columns(3)
    first.metric(_("Decoding"), _(result.decoding))
    second.metric(
        _("Latency"), f"{result.latency_ms:.0f} ms",
        help=_("Tokenize, generate and the attention pass on the server; greedy sentences other sessions asked at the "
               "same moment shared them. Time waiting for the model is not included."),
    )  # fmt: skip
    third.metric(_("Tokens in → out"), f"{len(result.source_tokens)} → {len(result.target_tokens)}")
    render.computed_by(result.runtime, result.device, result.runtime_note)
    _compare(spec, result)
    if result.truncated:
        st.warning(
            _("The input was longer than the model's 64-token window; only its beginning was translated.")
        )
    if spec.source != HUB:
        unseen = models.task_model(spec).unseen_words(result.source)
        if unseen:
            st.warning(
                _("Never seen in training: {words}. This classroom model knows only the words of LM Lab's generated "
                  "grammar; outside it, expect a fluent-looking but wrong translation.", words=safe.md(", ".join(unseen))),
                icon=":material/warning:",
            )  # fmt: skip
    if result.cross_attentions is not None:
        _alignment(spec, result)
    if spec.source != HUB:
        _attributions(spec, result)
    with st.expander(_("Code to reproduce this"), icon=":material/code:"):
        st.code(snippets.translation(spec, result.source, beams=beams), language="python")


def _compare(spec, result) -> None:
    """The grammar's own translation beside the output of a model trained here on it, where LM Lab's data has the
    sentence: a dropped 了 is then seen as a mistake, not taken on the model's word. (A Hub model learnt other data,
    and may answer in German: nothing here checks it.)"""
    from core.data.translation_reference import HELD_OUT, reference

    if not spec.trained_here or spec.source == HUB:
        return
    direction = "zh-en" if spec.task == DIRECTIONS["zh-en"][0] else "en-zh"
    data = (catalog.read_metadata(spec.key) or {}).get("data")
    train_size = data.get("train_size") if isinstance(data, dict) else None
    found = reference(result.source, direction, train_size=train_size if isinstance(train_size, int) else -1,
                      output=result.text)  # fmt: skip
    if found is None:
        st.caption(_("No reference: this sentence is not one of LM Lab's generated pairs, so nothing here checks the "
                     "translation above."))  # fmt: skip
        return
    held_out = (_("One of the {count} held-out pairs every translation model here is scored on.", count=HELD_OUT)
                if found.source_seen else  # the next note says where the model did see the sentence
                _("One of the {count} held-out sentences every translation model here is scored on; this model never "
                  "saw it in training.", count=HELD_OUT))  # fmt: skip
    notes = [{"held-out": held_out,
              "training": _("The model saw this very pair in training: a match may be memory, and says nothing about "
                            "generalisation."),
              "generated": _("A pair of LM Lab's generated data that this model was not trained on."),
              "table": _("An example of the grammar table below, not one of the model's training pairs.")}[found.where]]
    if found.source_seen and found.where != "training":
        notes.append(_("The model did see this sentence in training, paired with another translation."))
    if found.others:
        notes.append(_("LM Lab's data pairs this sentence with {count} more translations; the one closest to the "
                       "model's is shown.", count=found.others))  # fmt: skip
    if result.text.strip() == found.text:
        st.success(i18n.sentences(_("Matches the grammar's own translation."), *notes), icon=":material/check:")
        return
    _difference(result.text.strip(), found.text, direction, notes)


def _difference(output: str, expected: str, direction: str, notes: list[str]) -> None:
    """Where the model's translation and the grammar's part: in English → Chinese the grammar's is the translation;
    from Chinese, whose sentence often leaves tense, number, "the" or "that" unsaid, it is one right answer."""
    from core.data.translation_reference import difference

    missing, extra = difference(output, expected, chinese=direction == "en-zh")
    comma = "、" if i18n.language() == "zh" else ", "
    quoted = lambda pieces: comma.join(f"“{safe.md(piece)}”" for piece in pieces)  # noqa: E731 - text, in quotes
    lines = [_("The grammar's own translation: {reference}", reference=safe.md(expected))]
    if missing:
        lines.append(_("Only in the reference: {pieces}.", pieces=quoted(missing)))
    if extra:
        lines.append(_("Only in the model's translation: {pieces}.", pieces=quoted(extra)))
    if direction == "zh-en":
        notes = [_("Chinese often leaves tense, number, “the” or “that” unsaid, so an English sentence unlike this "
                   "one can be just as right."), *notes]  # fmt: skip
        st.info("  \n".join([*lines, i18n.sentences(*notes)]), icon=":material/difference:")
    else:
        st.warning("  \n".join([*lines, i18n.sentences(*notes)]), icon=":material/difference:")


def _alignment(spec, result) -> None:
    layers, heads = result.cross_attentions.shape[:2]
    st.markdown("#### " + _("Cross-attention: which source tokens each output token looked at"))
    left, right = st.columns(2)
    counted = _("Counted from 0, as on the Inspect, Ablate and Patch pages.")
    layer = left.select_slider(_("Decoder layer"), options=list(range(layers)), value=layers - 1, key="translate-layer",
                               help=counted)  # fmt: skip
    mean = _("mean")
    head = right.segmented_control(_("Head"), ["mean", *[str(h) for h in range(heads)]], default="mean",
                                   key="translate-head", required=True, help=counted,
                                   format_func=lambda h: mean if h == "mean" else h)  # fmt: skip
    weights = result.cross_attentions[layer]
    matrix = weights.mean(axis=0) if head == "mean" else weights[int(head)]
    title = (_("Layer {layer}, mean of heads", layer=layer) if head == "mean"
             else _("Layer {layer}, head {head}", layer=layer, head=head))  # fmt: skip
    figure = heatmaps.heatmap(
        matrix, title=title, x_labels=result.source_tokens, y_labels=result.target_tokens[: matrix.shape[0]],
        x_title=_("source tokens"), y_title=_("output tokens"), zmin=0, zmax=1,
    )  # fmt: skip
    render.figure(figure, key="translate-alignment")
    st.caption(
        _("Each row is one output token; its colours are the attention weights over the source tokens (a row sums to "
          "1). Read a row to see where the decoder looked while writing that token — word order changes show up "
          "as rows that jump back and forth across the source.")
    )
    with st.expander(
        _("The same attention in bertviz (encoder, decoder and cross-attention)"), icon=":material/hub:"
    ):
        from core.viz.bertviz_html import encoder_decoder_view
        from ui.inspect import bertviz

        bertviz(lambda labels: encoder_decoder_view(
            result.encoder_attentions, result.decoder_attentions, result.cross_attentions,
            result.source_tokens, result.target_tokens[: result.cross_attentions.shape[2]], labels=labels,
        ), height=560)  # fmt: skip
        st.caption(_("Choose Encoder, Decoder or Cross in the view's menu; hover a token to see its attention."))
        st.page_link("pages/inspect_attention.py", label=_("Open it on the Inspect page (head and model views)"),
                     icon=":material/hub:", query_params={"architecture": "seq2seq", "text": result.source, "model": spec.key})  # fmt: skip


def _attributions(spec, result) -> None:
    """Integrated gradients of each output token of the translation shown onto the source tokens."""
    from core.tasks.seq_attribution import IG_STEPS, MAX_TARGET, attribute_translation

    st.markdown("#### " + attributions.heading("source"))
    asked = (spec.key, result.source, result.output_ids)
    stored = st.session_state.get("translate-attribution")
    if not stored or stored[0] != asked:
        if not st.button(_("Attribute this translation"), key="translate-attribute",
                         help=_("At most {most} output tokens; the model runs forward and backward at {points} points of "
                                "a path from the baseline to the source, in batches.", most=MAX_TARGET,
                                points=IG_STEPS + 2)):  # fmt: skip
            return
        try:
            found = attribute_translation(models.task_model(spec), result.source, result.output_ids)
        except CoreError as error:
            safe.error(error)
            return
        stored = (asked, found)
        st.session_state["translate-attribution"] = stored
    attributions.draw(stored[1], key="translate", kind="source")


def grammar_rules() -> None:
    """What the generated English–Chinese grammar covers (the classroom model knows exactly this)."""
    from core.data.translation import GRAMMAR_COVERS, GRAMMAR_LEAVES_OUT, lexicon_size

    with st.expander(_("What the classroom grammar covers, and what it leaves out"), icon=":material/rule:"):
        rows = [(_(rule), english, chinese) for rule, english, chinese in GRAMMAR_COVERS]
        safe.table(pd.DataFrame(rows, columns=[_("rule"), _("English"), _("Chinese")]), hide_index=True,
                   width="stretch", key="translate-grammar")  # fmt: skip
        st.caption(_("{count} English words. Not covered: {missing}", count=lexicon_size(), missing=_(GRAMMAR_LEAVES_OUT)))


def held_out(spec) -> None:
    meta = catalog.read_metadata(spec.key) if spec.trained_here else None
    if not meta or "samples" not in meta:
        return
    with st.expander(
        _("Held-out sentences: the model's output next to the reference"), icon=":material/fact_check:"
    ):
        rows = pd.DataFrame(meta["samples"])
        rows["match"] = rows["output"] == rows["reference"]
        names = {"source": pgettext("translation", "source"), "output": _("output"), "reference": _("reference"),
                 "match": _("exact match"), "form": _("form")}  # fmt: skip
        safe.table(rows[list(names)].rename(columns=names), hide_index=True, width="stretch")
        data = meta.get("data", {})
        st.caption(
            _("{test} held-out sentences built on (verb, noun) pairs the model never saw together in its {train} "
              "training pairs; exact match on all of them: {exact} %. Trained in {seconds} s on {device}.",
              test=data.get("test_size", "?"), train=i18n.number(data.get("train_size", "?")),
              exact=f"{100 * meta['metrics'].get('exact_match', 0):.0f}", seconds=f"{meta.get('train_seconds', 0):.0f}",
              device=safe.md(str(meta.get("device", "?"))))
        )  # fmt: skip
        if meta.get("loss_curve"):
            render.figure(charts.loss_curve(meta["loss_curve"]), key="translate-loss")
