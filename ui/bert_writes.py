"""Generate page: the erratum "BERT and RoBERTa do not generate text", shown live. The Chinese BERT pretrained here is
made to write (a [MASK] after the text, its top guess appended, again and again) beside the Chinese character GPT's
greedy continuation of the same text."""

from __future__ import annotations

import streamlit as st

from core import catalog
from core.errors import CoreError
from core.tasks.fill_mask import MAX_CONTINUED
from ui import models, render, safe
from ui.i18n import _

PROMPT = "国务院今天召开会议，"
BERT, GPT = "zh-bert-mlm", "zh-char-gpt"


def panel() -> None:
    bert, gpt = catalog.get_spec(BERT), catalog.get_spec(GPT)
    if not catalog.availability(bert).ready:
        st.caption(_("To see a BERT try to write, pretrain the Chinese BERT: `python -m core.train --model {key}`.",
                     key=BERT))  # fmt: skip
        return
    prompt = st.text_input(_("Chinese text for the BERT (and the Chinese GPT) to continue"), PROMPT,
                           key="bert-writes-prompt", max_chars=40)  # fmt: skip
    if st.button(_("Make the BERT write up to {count} characters", count=MAX_CONTINUED), key="bert-writes-run"):
        try:
            with st.spinner(render.queue_note(_("Writing one character at a time…"))):
                written = models.task_model(bert).continue_text(prompt)
                greedy = None
                if catalog.availability(gpt).ready:
                    greedy = models.task_model(gpt).generate(prompt, max_new_tokens=len(written), temperature=0.0)
        except CoreError as error:
            safe.error(error)
            return
        st.session_state["bert-writes"] = (prompt, written, None if greedy is None else greedy.continuation)
    stored = st.session_state.get("bert-writes")
    if not stored:
        return
    prompt, written, continuation = stored
    left, right = st.columns(2)
    with left:
        st.markdown("**" + _("The BERT, a [MASK] after the text each time") + "**")
        st.text(prompt + "".join(token for token, _p in written))  # text a student typed: shown as text
        mean = sum(p for _t, p in written) / len(written)
        st.caption(_("Mean probability the BERT gave the characters it picked: {mean} %.", mean=f"{100 * mean:.0f}"))
        card = catalog.read_metadata(BERT)
        accuracy = (card.metrics.get("mask_accuracy") if card is not None else None) or {}
        if {"value", "low", "high", "n"} <= set(accuracy):
            st.caption(_("At what it was pretrained for, filling in hidden characters, it gets {value} % right "
                         "(95 % CI {low}–{high}, {n} held-out paragraphs): a small BERT trained for minutes.",
                         value=f"{100 * accuracy['value']:.1f}", low=f"{100 * accuracy['low']:.1f}",
                         high=f"{100 * accuracy['high']:.1f}", n=accuracy["n"]))  # fmt: skip
    with right:
        st.markdown("**" + _("The GPT, greedy (temperature 0)") + "**")
        if continuation is None:
            st.caption(_("The Chinese GPT is not trained yet: `python -m core.train --model {key}`.", key=GPT))
        else:
            st.text(prompt + continuation)
    st.caption(_("Both are tiny models trained here (the GPT on People's Daily, the BERT on People's Daily and the "
                 "training reviews), and this BERT is weak even at its own task: it gets most hidden characters "
                 "wrong (its accuracy is above), so part of what it writes shows that, not only what an encoder is. What does show the difference: the BERT "
                 "was pretrained to fill hidden characters in 64-token rows that [SEP] closes (it also stands between "
                 "paragraphs), most with text on both sides; a [MASK] right before [SEP] has one side to go on, and "
                 "nothing taught the model to read it as “what comes next”. And an "
                 "encoder cannot keep a key–value cache: it attends both ways, so each new character changes every "
                 "earlier position and the whole text must be read again. The GPT was trained for exactly this: to "
                 "predict the next character from the ones before it (the KV cache tab shows it can reuse its "
                 "work)."))  # fmt: skip
