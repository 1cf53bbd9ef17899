"""Apply → Word segmentation (分词): Chinese is written without spaces, so where does each word begin and end?"""

import streamlit as st

from core.tasks.segment import MAX_CHARS
from ui import scenario, segment
from ui.i18n import N_, _
from ui.runtime import through_router

through_router()

st.title(_("Chinese word segmentation"))
st.markdown(
    _("Chinese is written without spaces between words, so finding them has traditionally been the first step of "
      "Chinese preprocessing (数据预处理); most Chinese BERTs skip it: they read single characters, or pieces learnt from "
      "how often characters occur together (as LM Lab's model that reads pieces does), not words from a dictionary. "
      "Segmentations overlap (crossing ambiguity): 研究生命的起源 is 研究 / 生命 / 的 / 起源 (studying the origin of life), not 研究生 / 命 (a "
      "graduate student's fate), and 南京市长江大桥 is the Nanjing Yangtze River Bridge (南京市 / 长江 / 大桥), not a "
      "mayor of Nanjing called 江大桥 (南京 / 市长 / 江大桥). The model trained here reads the task as **tagging every "
      "character**: the Beginning, a Middle or the End of a word, or a Single-character word (B/M/E/S), learnt from "
      "People's Daily (January 1998), segmented at Peking University by machine and proofread by hand. **jieba**, the "
      "widely used segmenter, is its baseline: a dictionary of words and a hidden Markov model for words the "
      "dictionary lacks.")
)  # fmt: skip
spec, ready = scenario.model_header("segmentation", "segment", default="segment-zh",
                                    fallback=N_("jieba's segmentation alone"))  # fmt: skip
text = scenario.text_box("segment", segment.EXAMPLES, label=_("Chinese text"), max_chars=MAX_CHARS,
                         help=_("Up to {most} characters.", most=f"{MAX_CHARS:,}"))  # fmt: skip
if st.button(_("Segment"), key="segment-run", type="primary"):
    segment.run(spec, ready, text)
with st.container(key="segment-answer"):  # a stable hook for checks of the answer (the classroom test)
    segment.show(spec)
if ready:
    segment.quality(spec)
