"""Inspect → Ablate, translation: switch heads (encoder self-attention, decoder self-attention, cross-attention)
and MLPs of an encoder-decoder off; the user's sentence translated both ways, held-out chrF both ways, and every
head ranked by the chrF it costs. Nothing loads before the student asks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from core import catalog
from core.errors import CoreError
from core.tasks import ablation_code, ablation_translation
from core.tasks.inputs import check_text
from core.tasks.translate import ZH_EN
from ui import ablate, ablate_compare, i18n, language, models, render, safe, scenario
from ui.i18n import _

EXAMPLES = {"en": "Tom read a book in the library yesterday.", "zh": "汤姆昨天在图书馆看了一本书。"}


def candidates() -> dict[str, catalog.ModelSpec]:
    """The translation models LM Lab has, in both directions (the Hub's Marian models when online)."""
    return {spec.key: spec for task in ("translation", ZH_EN) for spec in catalog.specs_for_task(task)}


def section() -> None:
    if not scenario.when_asked(_("Open a translation model"), key="ablate-translation-open"):
        return
    specs = candidates()
    if st.session_state.get("ablate-translation") not in specs:
        st.session_state["ablate-translation"] = "translate-en-zh" if "translate-en-zh" in specs else next(iter(specs))
        _changed()
    spec = specs[st.selectbox(_("Translation model"), list(specs), key="ablate-translation",
                              format_func=lambda key: i18n.title(specs[key]), on_change=_changed)]  # fmt: skip
    if not scenario.ready_or_training([spec], fallback=ablate.WHILE_TRAINING)[0]:
        return
    text = st.text_input(_("Sentence to translate"), key="ablate-translation-text", max_chars=300)
    language.warn_text(text, spec.languages, i18n.title(spec))
    try:
        translator, version = models.task_model_and_version(spec)
        heads = ablation_translation.every_head(translator.model)
        stacks = ablation_translation.shape(translator.model)
    except (CoreError, AttributeError) as error:
        safe.error(error)
        return
    mlps = [(stack, layer) for stack in ("encoder", "decoder") for layer in range(stacks[stack][0])]
    left, right = st.columns([2, 1])
    chosen = left.multiselect(_("Heads to switch off"), heads, placeholder=_("Choose options"), key=f"ablate-translation-heads-{spec.key}",
                              format_func=ablation_translation.label,
                              help=_("enc = the encoder's self-attention, dec = the decoder's self-attention, cross = "
                                     "the decoder's cross-attention (where it reads the source); L = layer, H = head, "
                                     "both from 0."))  # fmt: skip
    off = right.multiselect(_("MLPs to switch off"), mlps, placeholder=_("Choose options"), key=f"ablate-translation-mlps-{spec.key}",
                            format_func=ablation_translation.label)  # fmt: skip
    try:  # read once a rerun, for the button and the sweep; mean ablation averages over these: none, no means
        held_out = ablation_translation.held_out_pairs(spec)
    except CoreError as error:
        safe.error(error)
        return
    mode = ablate.hand_picked_mode("ablate-translation-mode", held_out)
    if st.button(_("Translate with these switched off"), key="ablate-translation-run"):
        _run(spec, translator, version, text, (chosen, off), held_out, mode)
    _show(spec, version)
    _sweep(spec, translator, version, held_out)


def _changed() -> None:
    spec = catalog.get_spec(st.session_state["ablate-translation"])
    st.session_state["ablate-translation-text"] = EXAMPLES["zh" if "zh" in spec.languages else "en"]


def _run(spec, translator, version: str, text: str, parts, held_out, mode: str) -> None:
    (heads, mlps), run = parts, None
    if ablate.nothing_to_switch_off(heads, mlps):
        return
    try:
        means = ablate.means_if_asked(mode, heads, mlps, lambda: ablation_translation.held_out_means(
            translator, held_out, version=version))  # fmt: skip
        with st.spinner(render.queue_note(_("Translating with and without the chosen parts…"))):
            found = ablation_translation.translation_effect(translator, text, heads, mlps, None, version=version,
                                                            means=means)  # fmt: skip
    except CoreError as error:
        safe.error(error)
        return
    if held_out is not None and len(held_out[0]):
        try:
            run = ablate.start_held_out(("ablation-translation-parts", spec.key, version,
                                         ablate.parts_key(heads, mlps), bool(means)),
                                        lambda progress: ablation_translation.held_out_change(
                                            translator, held_out, heads, mlps, version=version, mean=means is not None,
                                            report=progress))  # fmt: skip
        except CoreError as error:
            safe.error(error)
            return
    code = ablation_code.translation_ablation(spec, check_text(text), heads, mlps, max_source=translator.max_source,
                                              max_new=translator.max_new, mean=means is not None)  # fmt: skip
    st.session_state["ablate-translation-result"] = ((spec.key, version), len(heads) + len(mlps), found, code, run,
                                                     means["pairs"] if means else 0)  # fmt: skip


def _show(spec, version: str) -> None:
    stored = st.session_state.get("ablate-translation-result")
    if not stored or stored[0] != (spec.key, version):  # another model, or this one before a retrain
        return
    count, found, code, run, pairs = stored[1:]
    nothing = _("∅ (the model produced no text)")
    safe.table(pd.DataFrame([{_("model"): _("whole model"), _("translation"): found.before or nothing},
                             {_("model"): _("switched off"), _("translation"): found.after or nothing}]),
               hide_index=True, key="ablate-translation-table")  # fmt: skip
    st.caption(_("Each part was replaced by its mean output over {pairs} held-out sentence pairs read teacher-forced: "
                 "the means the ranking below uses when run in that mode.", pairs=pairs) if pairs else
               _("The parts were switched off by zeroing their output."))  # fmt: skip
    with st.expander(_("Code to reproduce this"), icon=":material/code:"):
        st.code(code, language="python")
    if run is None:
        st.caption(_("No held-out pairs are known for this model (it was not trained here on LM Lab's generated "
                     "sentence pairs): only your sentence is compared."))  # fmt: skip
        return
    chrf = ablate.held_out_result(run)
    if chrf is None:
        return
    left, right = st.columns(2)
    left.metric(_("Held-out chrF, whole model"), f"{chrf['before']:.1f}")
    right.metric(_("With {count} switched off", count=count), f"{chrf['after']:.1f}", f"{chrf['delta']:+.1f}")
    st.caption(_("Mean sentence chrF of greedy translations of {n} held-out sentence pairs (sentences the model never "
                 "saw, built on verb–noun combinations it never saw); the change {delta} has a 95 % paired bootstrap "
                 "CI of [{low}, {high}] (the same sentences both ways); {worse} sentences scored lower and {better} "
                 "higher (exact sign test p = {p}). The model card and the Evaluate page report corpus chrF, which "
                 "differs from this mean.", n=chrf["n"], delta=f"{chrf['delta']:+.1f}", low=f"{chrf['low']:+.1f}",
                 high=f"{chrf['high']:+.1f}", worse=chrf["worse"], better=chrf["better"], p=f"{chrf['p']:.3f}"))  # fmt: skip


def _sweep(spec, translator, version: str, held_out) -> None:
    if held_out is None:
        return
    st.subheader(_("Every head, ranked by held-out chrF"))
    mode = ablate.switch_off_mode("ablate-translation-sweep-mode")
    found = ablate.shared_sweep(("ablation-translation", spec.key, version, mode),
                                _("Rank every head on held-out sentences"), "ablate-translation-sweep",
                                lambda progress: ablation_translation.translation_sweep(
                                    translator, held_out, version=version, report=progress, mean=mode == "mean"))  # fmt: skip
    if found is None:
        return
    ablate.ranking(found, rows=found["rows"], title=_("Δ held-out chrF when one head is switched off"),
                   column=_("Δ chrF"), costliest="lowest", key="ablate-translation-sweep",
                   stem="translation-ablation-sweep",
                   numbers={"rows": found["rows"], "delta_chrf": found["delta"], "low": found["low"],
                            "high": found["high"], "sentences_worse": found["worse"], "sentences_better": found["better"],
                            "exact_p": found["p"], "base_chrf": found["base"], "pairs": found["pairs"],
                            "switched_off_by": mode})  # fmt: skip
    how = (_("its output before W_O replaced by its mean over the same held-out pairs read with the reference "
             "translation as the decoder's input") if mode == "mean" else _("its output zeroed before W_O"))
    st.caption(_("Mean sentence chrF of the whole model on {count} held-out pairs: {base}. Each head is switched off "
                 "alone ({how}; in the decoder, at every decoding step); the CI resamples the "
                 "same sentences for both (paired bootstrap). “worse / better” counts the sentences whose chrF fell "
                 "and rose, and the exact p is a sign test on them — the one to trust when few changed. Each head's "
                 "interval and p stand alone: with {heads} heads ranked, some will look significant by chance. Rows: "
                 "enc = the encoder's self-attention, dec = the decoder's self-attention, cross = cross-attention. A "
                 "cross-attention head that costs much when zeroed is one the decoder depends on — usually for what "
                 "it reads from the source, though zeroing also removes the head's average output; switched off by "
                 "its mean, a head keeps that average and loses only what it writes differently from token to token "
                 "and from sentence to sentence. A head near 0 can still matter together with others.", count=found["pairs"], base=f"{found['base']:.1f}",
                 heads=int(np.isfinite(found["delta"]).sum()), how=how))  # fmt: skip
    ablate_compare.both_modes({m: ("ablation-translation", spec.key, version, m) for m in ablate.SWITCH_OFF},
                              found["rows"], [f"H{h}" for h in range(found["delta"].shape[1])], measure=_("chrF"),
                              costliest="lowest", stem=f"translation-ablation-modes-{spec.key}",
                              key="ablate-translation-sweep")  # fmt: skip
