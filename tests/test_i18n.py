"""The interface in English and Chinese: the message catalog is complete and current, a session's
language is its own, and pages render in Chinese."""

from __future__ import annotations

import re

import pytest

from conftest import ROOT, open_page


def _code_messages() -> dict[str, tuple[str, int]]:
    """Every string the UI code marks with _() or N_(), as Babel extracts it with the project's babel.cfg."""
    from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg

    with open(ROOT / "babel.cfg", encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    found = {}
    for filename, line, message, _comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords={**DEFAULT_KEYWORDS, "N_": None, "Message": None}
    ):
        if isinstance(message, str):
            found.setdefault(f"{context}\x04{message}" if context else message, (filename, line))
    return found


def _catalog():
    from babel.messages.pofile import read_po

    with open(ROOT / "ui" / "locale" / "zh" / "LC_MESSAGES" / "messages.po", "rb") as handle:
        return read_po(handle)


def test_every_string_of_the_code_has_a_chinese_translation_and_the_catalog_is_current():
    code = _code_messages()
    catalog = {f"{m.context}\x04{m.id}" if m.context else m.id: m for m in _catalog() if m.id}
    assert len(code) > 50  # the extraction found the UI's strings (a broken babel.cfg would find none)
    untranslated = [f"{where[0]}:{where[1]}: {text!r}" for text, where in code.items()
                    if text not in catalog or not catalog[text].string or catalog[text].fuzzy]  # fmt: skip
    assert not untranslated, "no Chinese for:\n" + "\n".join(untranslated)
    stale = sorted(set(catalog) - set(code))
    assert not stale, f"the catalog holds strings the code no longer has (run pybabel update): {stale}"
    from string import Formatter

    def fields(text: str) -> set:  # what str.format would fill (a stray brace raises here, as it would on the page)
        return {(name, spec, conversion) for _text, name, spec, conversion in Formatter().parse(text) if name is not None}

    for text, message in catalog.items():
        assert fields(text) == fields(message.string), text
        assert "`" not in text or text.count("`") == message.string.count("`"), text  # code stays code


def test_no_module_that_translates_assigns_to_the_name_of_its_translator():
    """``_, x = f()`` in a module that imported ``_`` from ui.i18n would turn every later ``_("…")`` into a crash."""
    import ast

    offenders = []
    for path in [ROOT / "streamlit_app.py", *(ROOT / "pages").glob("*.py"), *(ROOT / "ui").glob("*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imports = any(isinstance(node, ast.ImportFrom) and node.module == "ui.i18n"
                      and any(alias.name == "_" for alias in node.names) for node in ast.walk(tree))  # fmt: skip
        if imports:
            offenders += [f"{path.name}:{node.lineno}" for node in ast.walk(tree)
                          if isinstance(node, ast.Name) and node.id == "_" and isinstance(node.ctx, ast.Store)]  # fmt: skip
    assert not offenders, offenders


def test_a_translation_is_looked_up_per_session_and_numbers_follow_the_locale(monkeypatch):
    import streamlit as st

    from ui import i18n

    assert i18n.catalog("zh")["Self-attention"] == "自注意力（self-attention）" and i18n.catalog("en") == {}
    monkeypatch.setattr(st, "session_state", {"lang": "zh"})
    assert i18n._("Self-attention") == "自注意力（self-attention）"
    assert i18n._("Trained models are cached in `{folder}` (set LMLAB_CACHE_HOME to move it).",
                  folder="~/x").startswith("训练好的模型缓存在 `~/x`")  # fmt: skip
    assert i18n._("a sentence nobody translated") == "a sentence nobody translated"  # English, never an error
    assert i18n.number(12345.678, 1) == "12,345.7" and i18n.number("?") == "?"  # a count a card lacks stays text
    assert i18n.when("2026-12-04T13:43:32+00:00") == "2026年12月4日 13:43 UTC"
    assert i18n.when("2026-12-04T21:43:32+08:00") == "2026年12月4日 13:43 UTC"  # another zone, the same moment
    monkeypatch.setattr(st, "session_state", {"lang": "en"})
    assert i18n._("Self-attention") == "Self-attention"
    assert i18n.when("2026-12-04T13:43:32+00:00") == "Dec 4, 2026 13:43 UTC"
    assert i18n.when("not a date") == "not a date" and i18n.when("") == ""
    ahead = ("({count} request of other users ahead of yours)", "({count} requests of other users ahead of yours)")
    assert [i18n.plural(n, *ahead) for n in (1, 3)] == ["(1 request of other users ahead of yours)",
                                                        "(3 requests of other users ahead of yours)"]  # fmt: skip
    monkeypatch.setattr(st, "session_state", {"lang": "zh"})
    assert i18n.plural(1, *ahead) == "（前面还有其他用户的 1 个请求）" and "3 个请求" in i18n.plural(3, *ahead)


def test_the_home_page_in_chinese_and_the_choice_stays_with_the_session():
    chinese = open_page("pages/home.py", lang="zh")
    assert chinese.title[0].value == "LM Lab"
    text = " ".join(m.value for m in chinese.markdown)
    assert "语言模型为文本赋予概率" in text and "学习 → 自注意力" in text
    assert chinese.subheader[0].value == "你可以做什么"
    assert chinese.sidebar.radio(key="lang").value == "zh"
    assert "模式" in [m.label for m in chinese.metric]
    english = open_page("pages/home.py")  # another session, no ?lang=: the browser's language (English here)
    assert english.subheader[0].value == "What you can do"
    assert english.sidebar.radio(key="lang").value == "en"
    chinese.sidebar.radio(key="lang").set_value("en").run()  # switching back in the sidebar
    assert chinese.subheader[0].value == "What you can do"


def test_a_missing_value_in_a_table_is_an_empty_cell_not_the_english_word_none():
    """Streamlit writes "None" in a cell with no value unless told otherwise: every table goes through
    ``ui.safe.table``, which tells it. Here the Home page's model table in Chinese: VADER has no size."""
    import ast

    calls = []
    for path in [*(ROOT / "ui").rglob("*.py"), *(ROOT / "pages").rglob("*.py"), ROOT / "streamlit_app.py"]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in ("dataframe", "data_editor") and path.name != "safe.py":
                calls.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not calls, calls
    chinese = open_page("pages/home.py", lang="zh")
    table = chinese.dataframe[0]
    assert table.value.isna().any().any(), "the model table was expected to have a missing value (VADER's size)"
    assert table.proto.HasField("placeholder") and table.proto.placeholder == ""


def test_the_language_survives_a_run_that_lost_the_switchs_widget_state():
    """Streamlit drops a widget's state when a run does not draw it (a rerun started from a fragment did, on a fresh
    server's first Home page, and the class's Chinese turned English): the session's choice is kept under a key of its
    own, and neither the URL nor the browser decides again."""
    from streamlit.testing.v1 import AppTest

    def script():
        import streamlit as st

        from ui import i18n

        st.session_state.setdefault("lang-chosen", "zh")  # what the earlier runs left; the widget's own state is gone
        st.write(f"language={i18n.switch()}")

    at = AppTest.from_function(script).run()
    assert not at.exception and at.markdown[0].value == "language=zh" and at.sidebar.radio[0].value == "zh"


@pytest.mark.parametrize("value", ["fr", "zh<script>", ""])
def test_an_unknown_language_in_the_url_falls_back_to_english(value):
    page = open_page("pages/home.py", lang=value)
    assert page.subheader[0].value == "What you can do"


TRANSLATED_PAGES = ["pages/home.py", "pages/self_attention.py", "pages/multi_head.py", "pages/positional_encoding.py",
                    "pages/encoder_decoder.py", "pages/sentiment.py", "pages/topic.py", "pages/summarize.py",
                    "pages/translate.py", "pages/srl.py", "pages/generate.py", "pages/train.py", "pages/evaluate.py",
                    "pages/inspect_attention.py", "pages/patch.py", "pages/tokenization.py", "pages/segment.py",
                    "pages/bias.py", "pages/compute.py", "pages/privacy.py", "pages/faq.py", "pages/logit_lens.py",
                    "pages/ablate.py", "pages/robustness.py"]  # fmt: skip
_ENGLISH_RUN = re.compile(r"\b[A-Za-z]{2,}(?:[ ,;'’-]+[A-Za-z]{2,}){4,}")  # five English words in a row


def _english_left(page) -> list[str]:
    """Sentences of English on a page (code, formulas, ``inline code`` and “quoted” example sentences excepted)."""
    found = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "warning", "info", "error"):  # not success:
        # it shows what the user's own text made (a summary of an English article is English)
        for element in getattr(page, kind):
            text = re.sub(r"`[^`]*`|“[^”]*”", "", str(element.value))  # code and quoted English examples
            found += [match.group(0) for match in _ENGLISH_RUN.finditer(text)]
    for element in page.metric:
        found += [m.group(0) for m in _ENGLISH_RUN.finditer(element.label)]
    widgets = ("button", "expander", "selectbox", "radio", "text_input", "text_area", "checkbox", "toggle", "slider",
               "select_slider", "number_input", "multiselect", "segmented_control", "tabs")  # fmt: skip
    for kind in widgets:
        for element in page.get(kind):
            for words in (getattr(element, "label", None), getattr(element, "help", None)):
                if isinstance(words, str):
                    words = re.sub(r"`[^`]*`|“[^”]*”", "", words)
                    found += [match.group(0) for match in _ENGLISH_RUN.finditer(words)]
    for frame in page.dataframe:
        found += [m.group(0) for m in _ENGLISH_RUN.finditer(" · ".join(map(str, frame.value.columns)))]
    return found


def test_a_summary_and_a_chinese_sentiment_answer_in_chinese(tiny_model):
    from conftest import TINY_KEY

    summary = open_page("pages/summarize.py", lang="zh")
    summary.button(key="sum-run").click().run()
    assert any(m.label == "压缩率" for m in summary.metric) and not _english_left(summary), _english_left(summary)
    assert summary.selectbox(key="sum-abstractive-model").options[0].endswith("（Hub，生成式）")  # its title translated
    sentiment = open_page("pages/sentiment.py", lang="zh", model=TINY_KEY)
    sentiment.button(key="sentiment-run").click().run()
    sentiment.button(key="sentiment-explain-run").click().run()
    assert not sentiment.exception and not _english_left(sentiment), _english_left(sentiment)
    assert any("积分梯度" in str(element.proto) for element in sentiment.get("html"))
    import json

    bars = next(chart["data"][0] for chart in (json.loads(c.proto.spec) for c in sentiment.get("plotly_chart"))
                if chart["data"][0].get("orientation") == "h")  # fmt: skip
    colours = dict(zip(bars["y"], bars["marker"]["color"], strict=True))
    assert colours == {"负面": "#d62728", "正面": "#2ca02c"}  # the classes keep their colours once translated


@pytest.mark.parametrize("path", TRANSLATED_PAGES)
def test_translated_pages_render_in_chinese_with_no_english_sentence_left(path):
    page = open_page(path, lang="zh")
    assert re.search(r"[\u4e00-\u9fff]", page.title[0].value + " ".join(s.value for s in page.subheader))
    assert not _english_left(page), _english_left(page)
    # the first use of each of the article's terms shows its English (read off the same page run)
    assert not _first_uses_without_english(page), _first_uses_without_english(page)


def test_a_benchmark_run_and_the_attention_views_in_chinese(fresh_cache):
    from core.bench import run

    run.save(run.run("sentiment", ["baseline:majority", "baseline:tfidf-lr"], repeats=3))
    evaluate = open_page("pages/evaluate.py", lang="zh")
    assert not _english_left(evaluate), _english_left(evaluate)
    assert any("McNemar p 值" in str(frame.value.columns.tolist()) for frame in evaluate.dataframe)
    inspect = open_page("pages/inspect_attention.py", lang="zh")
    assert not _english_left(inspect), _english_left(inspect)


def test_an_error_from_core_reaches_the_page_in_chinese():
    topic = open_page("pages/topic.py", lang="zh")
    topic.segmented_control(key="topic-mode").set_value("Zero-shot (your labels)").run()
    topic.text_input(key="topic-labels").input("体育").run()
    topic.button(key="topic-zs-run").click().run()
    assert any("请至少给出两个候选标签" in e.value for e in topic.error), [e.value for e in topic.error]
    english = open_page("pages/topic.py")
    english.segmented_control(key="topic-mode").set_value("Zero-shot (your labels)").run()
    english.text_input(key="topic-labels").input("sports").run()
    english.button(key="topic-zs-run").click().run()
    assert any("Give at least two candidate labels" in e.value for e in english.error)


def test_hover_boxes_head_titles_and_check_names_are_translated():
    import json

    page = open_page("pages/multi_head.py", lang="zh")
    figures = [json.dumps(json.loads(chart.proto.spec), ensure_ascii=False) for chart in page.get("plotly_chart")]
    grid = next(figure for figure in figures if "头 0" in figure)  # the 12 small maps, titled in Chinese
    assert "查询 %{y}<br>键 %{x}<br>权重 %{z:.3f}<extra></extra>" in grid and "query %{y}" not in grid
    assert not any("row %{y}" in figure for figure in figures)
    cases = [str(case) for frame in page.dataframe for case in frame.value.get("情形", [])]
    assert "因果掩码" in cases and "causal mask" not in cases, cases
    rotation = open_page("pages/positional_encoding.py", lang="zh")  # RoPE's turning pair: its position hover
    figures = [json.dumps(json.loads(chart.proto.spec), ensure_ascii=False) for chart in rotation.get("plotly_chart")]
    assert any("位置 %{customdata}<br>" in figure for figure in figures)
    assert not any("position " in figure for figure in figures)


# The article's terms: on a Chinese page, the first use of each also shows the English term (in parentheses)
GLOSSARY = {"多头注意力": "multi-head attention", "自注意力": "self-attention", "位置编码": "positional encoding",
            "编码器": "encoder", "解码器": "decoder", "微调": "fine-tuning", "过拟合": "overfitting",
            "早停": "early stopping", "困惑度": "perplexity", "词元": "token"}  # fmt: skip


def _first_uses_without_english(page) -> list[str]:
    from core.faq import QUESTIONS

    text = "\n".join(str(element.value) for kind in ("title", "header", "subheader", "markdown", "caption")
                     for element in getattr(page, kind))  # fmt: skip
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith(">"))  # the article, quoted
    for question in QUESTIONS:  # the article's own questions, as printed
        text = text.replace(question.asked, "")
    text = re.sub(r"“[^”]*”", "", text)  # quoted examples
    missing = []
    for term, english in GLOSSARY.items():
        at = text.find(term)
        if at >= 0 and english[:6] not in text[at : at + len(term) + 40].lower():  # fine-tune or fine-tuning
            missing.append(text[at : at + len(term) + 12])
    return missing


def _unusable_bold(text: str) -> list[str]:
    """The ``**`` runs of ``text`` that CommonMark cannot read as the bold they open or close (its flanking rules):
    a closing ``**`` after punctuation and before a letter — in Chinese, "**来源：**{source}" — stays as two stars.
    A placeholder counts as the letters it becomes."""
    import unicodedata

    def punctuation(char: str) -> bool:
        return unicodedata.category(char)[0] in "PS"

    found = []
    for n, match in enumerate(re.finditer(r"(?<!\*)\*\*(?!\*)", text)):
        start = match.start()
        before = text[start - 1] if start else " "
        after = text[start + 2] if start + 2 < len(text) else " "
        before, after = ("a" if before == "}" else before), ("a" if after == "{" else after)
        opens = not after.isspace() and (not punctuation(after) or before.isspace() or punctuation(before))
        closes = not before.isspace() and (not punctuation(before) or after.isspace() or punctuation(after))
        if not (closes if n % 2 else opens):
            found.append(text[max(0, start - 20) : start + 20])
    return found


def test_bold_in_every_message_is_bold_on_screen_in_both_languages():
    assert _unusable_bold("**来源：**{source}") and not _unusable_bold("**来源**：{source}")
    broken = {m.id: _unusable_bold(m.string) + _unusable_bold(m.id) for m in _catalog()
              if m.id and isinstance(m.id, str) and isinstance(m.string, str) and m.string}  # fmt: skip
    assert not {key: value for key, value in broken.items() if value}


def test_every_fallback_reads_as_a_clause_in_chinese():
    """A model still training says "meanwhile, try {fallback}." — in Chinese "在此期间，{fallback}。", so each
    fallback's translation must carry its own verb (其他标签页 alone left a sentence with none)."""
    sources = [*(ROOT / "ui").glob("*.py"), *(ROOT / "pages").glob("*.py")]
    constants = {name: text for path in sources
                 for name, text in re.findall(r'^(\w+) = N_\("([^"]+)"\)', path.read_text(encoding="utf-8"), re.M)}  # fmt: skip
    fallbacks = set()
    for path in sources:
        code = path.read_text(encoding="utf-8")
        fallbacks |= set(re.findall(r'fallback=N_\("([^"]+)"\)', code))
        fallbacks |= {constants[name] for name in re.findall(r"fallback=(?:\w+\.)?([A-Z][A-Z_]+)\b(?!\()", code)}
    catalog = _catalog()
    assert len(fallbacks) >= 10, fallbacks
    verbless = {text: catalog[text].string for text in fallbacks if not catalog[text].string.startswith(("可以", "等"))}
    assert not verbless, verbless


def test_the_sidebar_names_pages_without_an_english_gloss_in_chinese():
    """The pages' titles gloss the article's terms (自注意力（self-attention）); the sidebar has no room for that:
    its names are short, and the router asks for them in their own context."""
    router = (ROOT / "streamlit_app.py").read_text(encoding="utf-8")
    names = re.findall(r'pgettext\("sidebar", "([^"]+)"\)', router)
    assert len(names) == 5, names
    catalog = _catalog()
    short = {name: catalog.get(name, context="sidebar").string for name in names}
    assert all(text and not re.search("[A-Za-z（(]", text) for text in short.values()), short


def test_a_message_inside_a_message_is_translated_too(monkeypatch):
    """Core composes reasons (why int8 does not serve, then what serves instead): both parts reach Chinese."""
    from core.messages import Message
    from ui import i18n

    monkeypatch.setattr(i18n, "language", lambda: "zh")
    why = Message("int8 gave PyTorch's label on {same} of {of} held-out texts", same=190, of=200)
    assert i18n._(Message("{why}; fp32 serves", why=why)) == "在 200 条留出文本中，int8 只有 190 条的标签与 PyTorch 相同；改用 fp32"


def test_lm_lab_s_own_class_names_and_titles_are_translated_a_student_s_are_not(monkeypatch):
    """A student's run keeps the class names its data gave: its "positive" and "正面" stay two classes."""
    from dataclasses import replace

    from core import catalog
    from ui import i18n

    monkeypatch.setattr(i18n, "language", lambda: "zh")
    builtin = catalog.get_spec("sentiment-minilm")
    keyword = replace(builtin, key="keyword-tiny", source=catalog.TRAINED)  # a recipe of LM Lab's own, trained here
    student = replace(builtin, key="polarity-abc123", source=catalog.TRAINED, title="positive")
    assert i18n.class_name("positive", builtin) == "正面" == i18n.class_name("positive", keyword)
    assert i18n.class_name("positive", student) == "positive" and i18n.title(student) == "positive"
