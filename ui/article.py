"""The article, corrected: its code sample beside the code of a run (Train page), and its errata on the pages that
show the correct version."""

from __future__ import annotations

import streamlit as st

from core.tasks import article_code
from ui.i18n import _


def code_panel(meta: dict) -> None:
    """The article's training code with its mistakes marked, next to a script that trains this run again."""
    recipe = meta.get("recipe")
    if not recipe:
        return
    with st.expander(_("The article's code, and the code of this run"), icon=":material/code:"):
        st.markdown(_("The article trains a BERT classifier in five snippets. Run as printed, they do not work; the "
                      "script on the right is the same workflow as LM Lab ran it for **this run** (its settings come "
                      "from the model card). Saved in the LM Lab folder and run on this machine's CPU, it trains the "
                      "same model again and prints the same held-out accuracy; on a GPU, it comes close."))  # fmt: skip
        left, right = st.columns(2)
        with left:
            st.caption(_("The article, as printed"))
            st.code(article_code.ARTICLE_CODE, language="python")
            for marker, mistake in article_code.MISTAKES:
                st.markdown(f"{marker} " + _(mistake))
        try:
            script = article_code.training_script(recipe, str(meta.get("precision", "fp32")), str(meta.get("device", "cpu")))
        except (KeyError, TypeError, ValueError):  # a card written by an older or foreign LM Lab: no script
            st.info(_("This run's model card lacks settings the script needs."))
            return
        with right:
            st.caption(_("This run, as a script"))
            st.code(script, language="python")
            st.download_button(_("Download the script"), script, file_name=f"train_{meta['key']}.py",
                               mime="text/x-python", key=f"train-script-{meta['key']}", on_click="ignore")  # fmt: skip


def _percent(estimate: dict) -> dict:
    return {name: f"{100 * estimate[name]:.1f}" for name in ("value", "low", "high")}


def _pretraining_measured() -> str:
    """The Chinese BERT fine-tuned from its pretrained weights against the same architecture from random weights,
    from their model cards, when both are trained; then the learning curve's pairs in the cache, when there are any."""
    from core import catalog
    from core.training import curve

    pretrained, scratch = (curve.accuracy(catalog.read_metadata(key)) for key in curve.PAIR)
    if pretrained is None or scratch is None:
        return " ".join(_curve_measured())
    a, b = _percent(pretrained), _percent(scratch)
    text = _("Measured here on the Chinese reviews, same architecture, data and epochs (each with its own learning "
             "rate): pretrained first {a} % [{a_low}, {a_high}], from random weights {b} % [{b_low}, {b_high}] "
             "held-out accuracy.", a=a["value"], a_low=a["low"], a_high=a["high"], b=b["value"], b_low=b["low"],
             b_high=b["high"])  # fmt: skip
    return " ".join([text, *_curve_measured()])


def _curve_measured() -> list[str]:
    """The learning curve's pairs in the cache (``core.training.curve``), in words."""
    from core.training import curve
    from ui import i18n

    pairs = []
    for size, pretrained, scratch in curve.pairs_in_cache():
        a, b = _percent(pretrained), _percent(scratch)
        pairs.append(_("{count} reviews: {a} % [{a_low}, {a_high}] against {b} % [{b_low}, {b_high}]",
                       count=i18n.number(size), a=a["value"], a_low=a["low"], a_high=a["high"], b=b["value"],
                       b_low=b["low"], b_high=b["high"]))  # fmt: skip
    if not pairs:
        return []
    return [_("With fewer labels, each pair trained on the same sample of the training reviews for the same number of "
              "steps, each at its own learning rate (pretrained first, then from random weights): {pairs}.",
              pairs="; ".join(pairs))]  # fmt: skip


def erratum(key: str) -> None:
    """A box: the article's words, what is wrong with them, what is right, and what on this page shows it."""
    from core.errata import ERRATA

    entry = ERRATA[key]
    with st.container(border=True, key=f"erratum-{key}"):
        erratum, wrong, right = _("Erratum"), _("Wrong"), _("Right")  # outside f-strings: the extractor reads these
        st.markdown(":material/fact_check: " + _("**{label}: {text}**", label=erratum, text=_(entry.title)))
        st.markdown(_("The article says:") + f"\n\n> {entry.quote}")
        st.markdown(_("**{label}:** {text}", label=wrong, text=_(entry.wrong)))
        st.markdown(_("**{label}:** {text}", label=right, text=_(entry.right)))
        measured = _pretraining_measured() if key == "pretraining" else ""
        st.caption(_(entry.shown) + (" " + measured if measured else ""))
