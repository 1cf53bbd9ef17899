"""Inspect page glue: shared attention models and the bertviz views in an iframe."""

from __future__ import annotations

import streamlit as st

from core import catalog
from core.catalog import ModelSpec
from core.tasks.base import tasks
from ui import i18n, safe
from ui.i18n import _, pgettext


# Two attention models at once (the compare mode); each MiniLM-sized one takes ~100 MB.
@st.cache_resource(max_entries=4, show_spinner=False)  # the Learn pages' MiniLM, a picked and a compared model
def _attention_model(key: str, fingerprint: str):
    from core.attention import AttentionModel

    return AttentionModel(catalog.get_spec(key))


def attention_model(spec: ModelSpec):
    meta = catalog.read_metadata(spec.key) if spec.trained_here else None
    with st.spinner(_("Loading {model} with its attention weights…", model=safe.md(i18n.title(spec)))):
        return _attention_model(spec.key, meta.sha256 if meta else "")


def picker(label: str, *, key: str, default: str) -> ModelSpec:
    from core.attention import inspectable_specs

    specs = {spec.key: spec for spec in inspectable_specs()}
    if key not in st.session_state or st.session_state[key] not in specs:
        requested = st.query_params.get("model") if key == "inspect-model" else None
        st.session_state[key] = requested if requested in specs else default
    shown = {k: f"{i18n.title(spec)} [{_(catalog.SOURCE_LABELS[spec.source])}]" for k, spec in specs.items()}
    chosen = specs[st.selectbox(label, list(specs), format_func=shown.get, key=key)]
    state = catalog.availability(chosen)
    if not state.ready:
        page = tasks().get(chosen.task)
        hint = ""
        if chosen.trained_here:
            hint = " " + (_("Train it on the {page} page first.", page=_(page.title)) if page is not None and page.page
                          else _("Train it from the Train page first."))  # fmt: skip
        st.warning(f"{safe.md(i18n.title(chosen))}: {_(state.reason)}.{hint}", icon=":material/block:")
    return chosen


def bertviz_labels() -> dict[str, str]:
    """bertviz's own labels, keyed as ``core.viz.bertviz_html`` reads them, in the session's language."""
    return {"Layer:": _("Layer:"), "Attention:": _("Attention:"), "Layer {layer}, head {head}": _(
                "Layer {layer}, head {head}"), "Layers": pgettext("bertviz axis", "Layers"),
            "Heads": pgettext("bertviz axis", "Heads"), "All": _("All"),
            "Sentence A -> Sentence A": _("Sentence A → Sentence A"), "Sentence B -> Sentence B": _("Sentence B → Sentence B"),
            "Sentence A -> Sentence B": _("Sentence A → Sentence B"), "Sentence B -> Sentence A": _("Sentence B → Sentence A"),
            "Encoder": _("Encoder"), "Decoder": _("Decoder"), "Cross": pgettext("bertviz menu", "Cross")}  # fmt: skip


def bertviz(build, *, height: int, key: str = "") -> None:
    """Self-contained bertviz HTML (``build(labels)``, by core.viz.bertviz_html: no CDN, tokens escaped, its labels
    in the session's language); with ``key``, it also downloads as that HTML file, which opens offline — built again
    only when clicked (a view of 128 tokens is 3.5 MB: kept for every session's download, it would fill the
    server's memory)."""
    labels = bertviz_labels()
    st.iframe(build(labels), height=height)
    if key:
        st.download_button(_("HTML (works offline)"), lambda: build(labels), file_name=f"{key}.html", mime="text/html",
                           key=f"{key}-html", on_click="ignore", icon=":material/download:")  # fmt: skip


def translation_views() -> None:
    """Encoder, decoder and cross-attention of a translation model trained here, in bertviz's two views."""
    from core.errors import CoreError
    from core.viz.bertviz_html import encoder_decoder_view
    from ui import models

    specs = [s for task in ("translation", "translation-zh-en") for s in catalog.specs_for_task(task)
             if s.source != catalog.HUB]  # fmt: skip
    linked = next((i for i, s in enumerate(specs) if s.key == st.query_params.get("model")), 0)
    spec = st.selectbox(_("Translation model"), specs, index=linked, format_func=i18n.title, key="inspect-seq2seq-model",
                        on_change=lambda: st.session_state.pop("inspect-seq2seq-text", None))  # its own example
    state = catalog.availability(spec)
    if not state.ready:
        st.warning(
            f"{safe.md(i18n.title(spec))}: {_(state.reason)}. " + _("Train it on the Translate page first."),
            icon=":material/block:",
        )
        return
    example = "玛丽买了两只猫。" if "zh" in spec.languages else "Did Mary buy two red cars last week?"
    linked_text = st.query_params.get("text") if st.query_params.get("model", spec.key) == spec.key else None
    text = st.text_input(_("Sentence to translate"), linked_text or example,
                         key="inspect-seq2seq-text")  # fmt: skip
    try:
        translator, version = models.task_model_and_version(spec)
        asked = (spec.key, version, text)  # a rerun with the same sentence and model reads the answer back
        kept = st.session_state.get("inspect-seq2seq-result")
        result = kept[1] if kept and kept[0] == asked else translator.translate(text)
        st.session_state["inspect-seq2seq-result"] = (asked, result)
    except CoreError as error:
        safe.error(error)
        return
    st.markdown(f"**{safe.md(result.source)}** → **{safe.md(result.text)}**")
    target = result.target_tokens[: result.cross_attentions.shape[2]]
    head_tab, model_tab = st.tabs([_("bertviz: heads"), _("bertviz: model")])
    for tab, kind in ((head_tab, "head"), (model_tab, "model")):
        with tab:
            st.caption(_("Choose Encoder, Decoder or Cross in the view's menu. Cross: each output token (left) and the "
                         "source tokens (right) it reads."))  # fmt: skip
            bertviz(lambda labels, kind=kind: encoder_decoder_view(
                result.encoder_attentions, result.decoder_attentions, result.cross_attentions, result.source_tokens,
                target, kind=kind, labels=labels),
                    height=620 if kind == "head" else 900, key=f"inspect-seq2seq-{kind}")  # fmt: skip
