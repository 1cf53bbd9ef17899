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
                      "from the model card). Run in the LM Lab folder on this machine, it trains the same model again "
                      "and prints the same held-out accuracy."))  # fmt: skip
        left, right = st.columns(2)
        with left:
            st.caption(_("The article, as printed"))
            st.code(article_code.ARTICLE_CODE, language="python")
            for marker, mistake in article_code.MISTAKES:
                st.markdown(f"{marker} " + _(mistake))
        script = article_code.training_script(recipe, str(meta.get("precision", "fp32")))
        with right:
            st.caption(_("This run, as a script"))
            st.code(script, language="python")
            st.download_button(_("Download the script"), script, file_name=f"train_{meta['key']}.py",
                               mime="text/x-python", key=f"train-script-{meta['key']}", on_click="ignore")  # fmt: skip
