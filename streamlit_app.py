"""LM Lab's router: page config, the page list in sections, and nothing else."""

import streamlit as st

from ui import i18n, lesson
from ui.i18n import _, pgettext
from ui.runtime import PAGE_HEADERS, boot, favicon, run_page, sidebar_status

st.set_page_config(page_title="LM Lab", page_icon=favicon(), layout="wide")
boot()  # online/offline decided before any page can import transformers
i18n.switch()  # this session's language, before any title is written

pages = {
    "LM Lab": [
        st.Page("pages/home.py", title=_("Home"), icon=":material/home:", default=True),
    ],
    _("Learn"): [  # the sidebar's names carry no English gloss in Chinese (the pages' titles do): it would be cut off
        st.Page("pages/tokenization.py", title=pgettext("sidebar", "Tokenization"), icon=":material/data_array:"),
        st.Page("pages/self_attention.py", title=pgettext("sidebar", "Self-attention"), icon=":material/visibility:"),
        st.Page("pages/multi_head.py", title=pgettext("sidebar", "Multi-head attention"), icon=":material/grid_view:"),
        st.Page("pages/positional_encoding.py", title=pgettext("sidebar", "Positional encoding"),
                icon=":material/timeline:"),
        st.Page("pages/encoder_decoder.py", title=pgettext("sidebar", "Encoder and decoder"),
                icon=":material/swap_horiz:"),
    ],
    _("Train"): [
        st.Page("pages/train.py", title=_("Train a classifier"), icon=":material/model_training:"),
    ],
    _("Evaluate"): [
        st.Page("pages/evaluate.py", title=_("Benchmark"), icon=":material/leaderboard:"),
    ],
    _("Inspect"): [
        st.Page("pages/inspect_attention.py", title=_("Attention"), icon=":material/hub:"),
        st.Page("pages/logit_lens.py", title=_("Layers (logit lens)"), icon=":material/layers:"),
        st.Page("pages/ablate.py", title=_("Ablate"), icon=":material/content_cut:"),
        st.Page("pages/patch.py", title=_("Patch"), icon=":material/compare_arrows:"),
    ],
    _("Challenges"): [
        st.Page("pages/bias.py", title=_("Bias"), icon=":material/balance:"),
        st.Page("pages/compute.py", title=_("Compute"), icon=":material/memory:"),
        st.Page("pages/privacy.py", title=_("Privacy"), icon=":material/lock:"),
        st.Page("pages/robustness.py", title=_("Robustness"), icon=":material/shield:"),
        st.Page("pages/faq.py", title=_("FAQ"), icon=":material/quiz:"),
    ],
    _("Apply"): [
        st.Page(
            "pages/sentiment.py",
            title=_("Sentiment"),
            icon=":material/sentiment_satisfied:",
        ),
        st.Page("pages/topic.py", title=_("Topic"), icon=":material/topic:"),
        st.Page("pages/summarize.py", title=_("Summarize"), icon=":material/summarize:"),
        st.Page("pages/translate.py", title=_("Translate"), icon=":material/translate:"),
        st.Page("pages/srl.py", title=_("Semantic roles"), icon=":material/account_tree:"),
        st.Page("pages/segment.py", title=_("Word segmentation"), icon=":material/space_bar:"),
        st.Page("pages/generate.py", title=_("Generate"), icon=":material/edit_note:"),
    ],
}
sidebar_status()
PAGE_HEADERS[:] = [lesson.panel]  # lesson mode: the current step above every page
run_page(st.navigation(pages, expanded=True))  # every page in view: no "View N more" (in English only)
