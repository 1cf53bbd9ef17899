"""Honest about language: before a model's answer, say when the text is not in a language the model reads
(and, for a model with an [UNK] token, how many of the text's tokens it does not know)."""

from __future__ import annotations

import streamlit as st

from core.tasks.inputs import LanguageFit, language_fit
from ui import safe
from ui.i18n import N_, _

NAMES = {"en": N_("English"), "zh": N_("Chinese")}
UNKNOWN_AT = 0.25  # a text whose tokens are at least this share [UNK] is mostly unread, whatever its language


def _name(code: str) -> str:
    return _(NAMES[code]) if code in NAMES else code


def names(languages: tuple[str, ...]) -> str:
    """The languages a model reads, in the session's language ("English and Chinese")."""
    return _(" and ").join(_name(code) for code in languages)


def message(fit: LanguageFit | None, title: str, others=()) -> str:
    """What to say before the answer, or '' when the model reads the text; ``others``, the models the page also
    offers, are named when they read the text's language."""
    if fit is None:
        return ""
    said = _said(fit, title)
    better = [spec for spec in others if not fit.fits and fit.text_language in spec.languages]
    if said and better:
        from ui import i18n

        names = ", ".join(safe.md(i18n.title(spec)) for spec in better[:3])
        said += ("" if i18n.language() == "zh" else " ") + _("This page also offers a model that reads {language}: {models}.",
                           language=_name(fit.text_language), models=names)  # fmt: skip
    return said


def _said(fit: LanguageFit, title: str) -> str:
    model = safe.md(title)  # the caller's title, already in the session's language
    reads = _(" and ").join(_name(code) for code in fit.model_languages)
    if not fit.fits and fit.unknown is not None:
        return _("{model} has a vocabulary made for {reads} text; your text is {language}, and {unknown} of its {tokens} tokens "
                 "are unknown to the model ([UNK]). Its answer rests on the few tokens it knows: read it as a guess, "
                 "not a judgement of your text.", model=model, reads=reads, language=_name(fit.text_language),
                 unknown=fit.unknown, tokens=fit.tokens)  # fmt: skip
    if not fit.fits:
        return _("{model} reads {reads} only; your text is {language}, so the model finds almost nothing it knows in "
                 "it and its answer says little about your text.", model=model, reads=reads,
                 language=_name(fit.text_language))  # fmt: skip
    if fit.unknown and fit.unknown_share >= UNKNOWN_AT:
        return _("{unknown} of your text's {tokens} tokens are unknown to {model} ([UNK]); its answer rests on the "
                 "rest.", unknown=fit.unknown, tokens=fit.tokens, model=model)  # fmt: skip
    return ""


def warn(fit: LanguageFit | None, title: str, others=()) -> None:
    """The note of ``message`` as a warning, drawn before the answer."""
    text = message(fit, title, others)
    if text:
        st.warning(text, icon=":material/translate:")


def warn_text(text: str, languages: tuple[str, ...], title: str, others=()) -> None:
    """The same for a model whose answer carries no fit (zero-shot, summaries, generation): the text alone."""
    warn(language_fit(text, languages), title, others)
