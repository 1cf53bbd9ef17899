"""Bad input on every page, in a real browser: each probe typed into every text box, then the primary button.

First, each page as opened: no error box, and its chart where it draws one before any button. Then no exception
box, no dialog (no script ran), no request to another host, and a clear message where the input is refused. The
sidebar shows every page at once (no "View more" fold), and the list below is every page.
"""

from __future__ import annotations

import re

import pytest

from conftest import (
    CHROMIUM,
    ROOT,
    SERVER_USERS,
    WATCH_SCRIPT_RUNS,
    mark_runs,
    screenshot,
    wait_for_script,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)"),
]

# Every page of the router, by URL path, with a heading that shows it has rendered.
PAGES = {
    "": "What you can do",
    "tokenization": "Tokenization",
    "self_attention": "Self-attention, step by step",
    "multi_head": "Multi-head attention",
    "positional_encoding": "Positional encoding",
    "encoder_decoder": "Encoder and decoder",
    "train": "Train a classifier",
    "evaluate": "Benchmark models side by side",
    "inspect_attention": "Inspect attention",
    "logit_lens": "Layers: the logit lens",
    "ablate": "Ablation: switch parts of the model off",
    "patch": "Activation patching: where the difference lives",
    "bias": "Bias: what the data taught the model",
    "compute": "Compute: what a model costs",
    "privacy": "Privacy: what a model gives away",
    "robustness": "Robustness: a few typos against a model",
    "faq": "FAQ: the article's questions, measured",
    "sentiment": "Sentiment analysis",
    "topic": "Topic classification",
    "summarize": "Summarization",
    "translate": "Machine translation",
    "srl": "Semantic role labeling",
    "segment": "Chinese word segmentation",
    "generate": "Text generation",
}

HOSTILE = "</script><img src=x onerror=alert(1)>"
PROBES = {
    "empty": "",
    "spaces": "   \t  ",
    "200 KB": "word " * 40_000,
    # other scripts, an HTML injection and a Markdown link in one text: each is checked after every probe, so one
    # probe asks all three (three probes took a third of this test's two minutes of browser time)
    "scripts, html, markdown": f"中文句子 😀👍🏽 مرحبا بالعالم zero\u200bwidth\u200d end; a cat {HOSTILE} sat "
                               "**[claim your grade](https://evil.example/grade)** :red[alarm]",
}
REFUSED = ("empty", "spaces", "200 KB")  # where a pressed button must say why nothing ran (or the box cut it)
# pages that draw a chart before any button is pressed (the others draw theirs after a run)
CHART_ON_LOAD = ("self_attention", "multi_head", "positional_encoding", "encoder_decoder", "train")
SHOTS = (*CHART_ON_LOAD, "topic", "summarize", "evaluate")  # pages whose screenshot is kept


@pytest.fixture(scope="module")
def server(app_server, tiny_model, translate_tiny_model, srl_tiny_model, lm_tiny_model):
    SERVER_USERS[app_server].append(__name__)
    return app_server  # the run's one server, with every tiny model in its cache


@pytest.fixture(scope="module")
def browser(chromium):
    return chromium


@pytest.fixture
def page(browser):
    """A fresh session with every request to another host refused and recorded, and dialogs recorded."""
    context = browser.new_context(viewport={"width": 1300, "height": 1000})
    external: list[str] = []
    dialogs: list[str] = []

    def route(route):
        url = route.request.url
        if url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:", "about:")):
            route.continue_()
        else:
            external.append(url)
            route.abort()

    context.route("**/*", route)
    context.add_init_script(WATCH_SCRIPT_RUNS)
    opened = context.new_page()
    opened.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    opened.external, opened.dialogs = external, dialogs
    yield opened
    context.close()


def _idle(page, begin_within: float = 10.0) -> None:
    """Wait until the script run the last action started has finished. A pressed button that starts none in 10 s
    (a click lost while the page redrew it) is not this test's subject: the checks then read the page as it is."""
    wait_for_script(page, begin_within, must_begin=False)


NO_TEXT_BOXES = ("", "positional_encoding", "evaluate", "compute", "robustness", "faq")  # pages whose inputs are sliders, numbers and pickers only
TEXT_BOX = "textarea, input[type='text']:not([role='combobox']):not([aria-autocomplete])"


def _text_boxes(page):
    main = page.locator("[data-testid='stMain']")
    boxes = main.locator(TEXT_BOX)
    return [boxes.nth(i) for i in range(boxes.count()) if boxes.nth(i).is_visible() and boxes.nth(i).is_editable()]


def _visible_count(page, selector: str) -> int:
    found = page.locator(f"[data-testid='stMain'] {selector}")
    return sum(1 for i in range(found.count()) if found.nth(i).is_visible())


def test_the_page_list_is_every_page_in_the_sidebar(server, page):
    page.goto(server + "/")
    page.get_by_text(PAGES[""]).first.wait_for(timeout=90_000)
    # every page in view at once: no "View N more" fold (Streamlit writes it in English only)
    assert page.locator("[data-testid='stSidebarNavViewButton']").count() == 0
    links = page.locator("[data-testid='stSidebarNav'] a")
    assert all(links.nth(i).is_visible() for i in range(links.count()))
    paths = {re.sub(r"^https?://[^/]+/?", "", links.nth(i).get_attribute("href") or "").split("?")[0]
             for i in range(links.count())}  # fmt: skip
    assert paths == set(PAGES), paths ^ set(PAGES)
    router = (ROOT / "streamlit_app.py").read_text(encoding="utf-8")
    assert len(re.findall(r'\bpage\(\s*"pages/', router)) == len(PAGES)  # ui.runtime.page: st.Page, built once


@pytest.mark.parametrize("path", list(PAGES))
def test_bad_input_on_every_text_box(server, page, path):
    page.goto(f"{server}/{path}")
    page.get_by_text(PAGES[path]).first.wait_for(timeout=90_000)
    if path not in NO_TEXT_BOXES:  # the title comes first; the boxes when the run gets there (the status widget
        # shows only after a moment, so a run still busy higher up can look idle)
        page.locator("[data-testid='stMain']").locator(TEXT_BOX).first.wait_for(timeout=90_000)
    _idle(page)
    # as first opened: no error box, its chart drawn where it has one on load, a screenshot kept for a reader
    assert page.locator("[data-testid='stAlertContentError']").count() == 0, f"{path}: an error box on load"
    if path in CHART_ON_LOAD:
        page.locator("[data-testid='stPlotlyChart']").first.wait_for(timeout=90_000)
    if path in SHOTS:
        screenshot(page, f"{path}.png")
    seen_boxes = 0
    # a page with no text box gets no probe: its primary button is pressed once (four presses would repeat one run)
    probes = [("no text box", "")] if path in NO_TEXT_BOXES else PROBES.items()
    for name, probe in probes:
        boxes = _text_boxes(page)
        seen_boxes = max(seen_boxes, len(boxes))
        for box in boxes:
            before = box.input_value()
            mark_runs(page)
            box.fill(probe)
            box.press("Control+Enter" if box.evaluate("e => e.tagName") == "TEXTAREA" else "Enter")
            if box.input_value() != before:  # a box with a length cap keeps its text when the probe is longer: no run
                _idle(page, begin_within=1.5)  # nor in a form, until it is submitted
        primary = page.locator("[data-testid='stMain'] [data-testid='stBaseButton-primary']")
        pressed = False
        if primary.count() and primary.first.is_visible() and primary.first.is_enabled():
            mark_runs(page)
            primary.first.click()
            pressed = True
            _idle(page)
        exceptions = page.locator("[data-testid='stException']")
        assert exceptions.count() == 0, f"{path} / {name}: {exceptions.first.inner_text()[:300]}"
        assert page.dialogs == [], f"{path} / {name}: a dialog opened: {page.dialogs}"
        assert page.external == [], f"{path} / {name}: requests to other hosts: {page.external[:3]}"
        if name in REFUSED and pressed and boxes:
            cut = all((box.get_attribute("maxlength") or "") != "" for box in boxes)
            messages = _visible_count(page, "[data-testid='stAlert']") + _visible_count(
                page, "[data-testid='stAlertContainer']"
            )
            assert cut or messages, f"{path} / {name}: the button ran and nothing said why the input was refused"
        hostile_html = page.locator("[data-testid='stMain'] img[src='x']")
        assert hostile_html.count() == 0, f"{path} / {name}: an <img> from the input was rendered as HTML"
        link = page.locator("[data-testid='stMain'] a[href^='https://evil.example']")
        assert link.count() == 0, f"{path} / {name}: the markdown link became a live link"
    if path not in NO_TEXT_BOXES:
        assert seen_boxes, f"{path}: no text box found"
