"""LM Lab's router: page config, the page list in sections, and nothing else."""

import streamlit as st

from ui import i18n, lesson
from ui.i18n import _, pgettext
from ui.runtime import PAGE_HEADERS, boot, favicon, page, run_page, sidebar_status

st.set_page_config(page_title="LM Lab", page_icon=favicon(), layout="wide")
boot()  # online/offline decided before any page can import transformers
i18n.switch()  # this session's language, before any title is written

pages = {
    "LM Lab": [
        page("pages/home.py", title=_("Home"), icon=":material/home:", default=True),
    ],
    _("Learn"): [  # the sidebar's names carry no English gloss in Chinese (the pages' titles do): it would be cut off
        page("pages/tokenization.py", title=pgettext("sidebar", "Tokenization"), icon=":material/data_array:"),
        page("pages/self_attention.py", title=pgettext("sidebar", "Self-attention"), icon=":material/visibility:"),
        page("pages/multi_head.py", title=pgettext("sidebar", "Multi-head attention"), icon=":material/grid_view:"),
        page("pages/positional_encoding.py", title=pgettext("sidebar", "Positional encoding"),
                icon=":material/timeline:"),
        page("pages/encoder_decoder.py", title=pgettext("sidebar", "Encoder and decoder"),
                icon=":material/swap_horiz:"),
    ],
    _("Train"): [
        page("pages/train.py", title=_("Train a classifier"), icon=":material/model_training:"),
    ],
    _("Evaluate"): [
        page("pages/evaluate.py", title=_("Benchmark"), icon=":material/leaderboard:"),
    ],
    _("Inspect"): [
        page("pages/inspect_attention.py", title=_("Attention"), icon=":material/hub:"),
        page("pages/logit_lens.py", title=_("Layers (logit lens)"), icon=":material/layers:"),
        page("pages/ablate.py", title=_("Ablate"), icon=":material/content_cut:"),
        page("pages/patch.py", title=_("Patch"), icon=":material/compare_arrows:"),
    ],
    _("Challenges"): [
        page("pages/bias.py", title=_("Bias"), icon=":material/balance:"),
        page("pages/compute.py", title=_("Compute"), icon=":material/memory:"),
        page("pages/privacy.py", title=_("Privacy"), icon=":material/lock:"),
        page("pages/robustness.py", title=_("Robustness"), icon=":material/shield:"),
        page("pages/faq.py", title=_("FAQ"), icon=":material/quiz:"),
    ],
    _("Apply"): [
        page(
            "pages/sentiment.py",
            title=_("Sentiment"),
            icon=":material/sentiment_satisfied:",
        ),
        page("pages/topic.py", title=_("Topic"), icon=":material/topic:"),
        page("pages/summarize.py", title=_("Summarize"), icon=":material/summarize:"),
        page("pages/translate.py", title=_("Translate"), icon=":material/translate:"),
        page("pages/srl.py", title=_("Semantic roles"), icon=":material/account_tree:"),
        page("pages/segment.py", title=_("Word segmentation"), icon=":material/space_bar:"),
        page("pages/generate.py", title=_("Generate"), icon=":material/edit_note:"),
    ],
}
sidebar_status()
PAGE_HEADERS[:] = [lesson.panel]  # lesson mode: the current step above every page
run_page(st.navigation(pages, expanded=True))  # every page in view: no "View N more" (in English only)
