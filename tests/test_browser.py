"""End to end: the real server in headless Chromium: a deep link as its first session, Home, real predictions, bertviz
offline, Chinese drawn, a lesson link (every page as first opened: test_browser_matrix.py)."""

import time
import urllib.parse
import urllib.request

import pytest

from conftest import (
    CHROMIUM,
    SERVER_USERS,
    TINY_KEY,
    WATCH_SCRIPT_RUNS,
    mark_runs,
    screenshot,
    serve_app,
    wait_for_script,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)"),
]


@pytest.fixture(scope="module")
def server(app_server):
    """The run's one server while nobody has used it (the deep link must be its very first session); a server of
    this module's own where another module came first (pytest -n: which module a worker runs first is not fixed)."""
    if SERVER_USERS[app_server]:
        for own in serve_app():
            SERVER_USERS[own].append(__name__)
            yield own
        return
    SERVER_USERS[app_server].append(__name__)
    yield app_server


@pytest.fixture(scope="module")
def page(chromium):
    context = chromium.new_context(viewport={"width": 1300, "height": 1000})
    context.add_init_script(WATCH_SCRIPT_RUNS)
    # Only this machine: any request to another host is refused, as in a classroom without internet.
    context.route(
        "**/*",
        lambda route: (
            route.continue_()
            if route.request.url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:"))
            else route.abort()
        ),
    )
    yield context.new_page()
    context.close()


def _settle(page, text: str) -> None:
    page.get_by_text(text).first.wait_for(timeout=90_000)
    wait_for_script(page, 1.5, must_begin=False)  # the text is there: its run has begun, or ended already
    assert page.locator("[data-testid='stException']").count() == 0
    assert page.locator("[data-testid='stAlertContentError']").count() == 0


def test_deep_link_first_and_sentiment_in_a_browser(server, page):
    """The server's very first session opens a deep link: it must still run inside the router."""
    assert SERVER_USERS[server] == [__name__], f"the server was used before its first session here: {SERVER_USERS}"
    page.goto(server + f"/sentiment?model={TINY_KEY}")
    _settle(page, "Sentiment analysis")
    more = page.locator("[data-testid='stSidebarNavViewButton']")
    if more.count():
        more.first.click()  # Streamlit folds a long page list behind "View N more"
        page.wait_for_timeout(500)
    navigation = page.locator("[data-testid='stSidebarNav']").inner_text()
    assert "Apply" in navigation and "Sentiment" in navigation, navigation
    assert page.get_by_text("offline").first.is_visible()
    mark_runs(page)
    page.get_by_role("button", name="Analyse").click()
    page.get_by_text("Latency").first.wait_for(timeout=90_000)
    page.locator("[data-testid='stPlotlyChart']").first.wait_for(timeout=30_000)
    wait_for_script(page)
    assert page.locator("[data-testid='stException']").count() == 0
    screenshot(page, "sentiment.png")


def test_home_in_a_browser(server, page):
    page.goto(server + "/")
    _settle(page, "What you can do")
    assert page.get_by_text("offline").first.is_visible()
    page.get_by_text("CPU").first.wait_for(timeout=60_000)  # the device probe answered
    screenshot(page, "home.png")


def test_offline_bertviz_draws_and_a_hostile_token_stays_text(server, page):
    """bertviz inside Streamlit's iframe, external hosts blocked: tokens drawn, no script runs from a token."""
    dialogs, external = [], []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("requestfailed", lambda request: external.append(request.url))
    hostile = "</script><img src=x onerror=alert(1)>"
    page.goto(server + "/inspect_attention?text=" + urllib.parse.quote("a cat " + hostile + " sat"))
    _settle(page, "Inspect attention")
    page.wait_for_selector("iframe", timeout=90_000)
    deadline = time.monotonic() + 60
    texts: list[str] = []
    while time.monotonic() < deadline and "[CLS]" not in texts:
        for frame in page.frames:  # the head view's frame: the model view's may draw its labels first
            if frame != page.main_frame:
                drawn = frame.evaluate("Array.from(document.querySelectorAll('svg text')).map(t => t.textContent)")
                if "[CLS]" in drawn:
                    texts = drawn
                    break
                texts = texts or drawn
        page.wait_for_timeout(500)
    assert "[CLS]" in texts and "cat" in texts, texts
    assert any("script" in t for t in texts)  # the hostile token's word pieces are drawn as text
    assert dialogs == []
    assert [url for url in external if not url.startswith("http://127.0.0.1")] == []
    screenshot(page, "inspect.png")


def test_apply_two_pages_in_a_browser(server, page, translate_tiny_model, srl_tiny_model, lm_tiny_model):
    """Translate, Semantic roles and Generate with their tiny models: each draws its result, no error box."""
    page.goto(server + "/translate")
    _settle(page, "Machine translation")
    page.get_by_role("button", name="Translate").click()
    page.get_by_text("Cross-attention: which source tokens").first.wait_for(timeout=90_000)
    page.locator("[data-testid='stPlotlyChart']").first.wait_for(timeout=60_000)
    _settle(page, "Decoding")
    screenshot(page, "translate.png")

    page.goto(server + "/srl")
    _settle(page, "Semantic role labeling")
    page.get_by_role("button", name="Label roles").click()
    page.get_by_text("Who did what to whom").first.wait_for(timeout=90_000)
    _settle(page, "Frame of")
    screenshot(page, "srl.png")

    page.goto(server + "/generate")
    _settle(page, "Text generation and next-token probabilities")
    # the next-token bars (the loss curve above them sits in a closed expander)
    page.locator("[data-testid='stPlotlyChart'] >> visible=true").first.wait_for(timeout=90_000)
    _settle(page, "Entropy — Transformer")
    screenshot(page, "generate.png")

    page.goto(server + "/ablate")  # a translation model's heads: one switched off, then every head ranked
    _settle(page, "Ablation: switch parts of the model off")
    page.get_by_text("A translation model", exact=True).click()
    page.get_by_role("button", name="Open a translation model").click()
    page.get_by_role("button", name="Rank every head on held-out sentences").click()
    page.get_by_text("Mean sentence chrF of the whole model").first.wait_for(timeout=120_000)
    page.locator("[data-testid='stPlotlyChart']").first.wait_for(timeout=60_000)
    assert page.locator("[data-testid='stException']").count() == 0
    screenshot(page, "ablate-translation.png")


# Each Chinese character of the element drawn on a canvas in the element's own font, next to a private-use code
# point no font has: if they come out the same, the browser has no glyph for it and draws a box ("tofu").
_GLYPHS_DRAWN = r"""(selector) => {
    const node = Array.from(document.querySelectorAll(selector)).find(n => /[\u4e00-\u9fff]/.test(n.textContent));
    if (!node) return null;
    const style = getComputedStyle(node);
    const canvas = document.createElement('canvas');
    canvas.width = canvas.height = 64;
    const context = canvas.getContext('2d');
    const draw = (text) => {
        context.clearRect(0, 0, 64, 64);
        context.font = '40px ' + style.fontFamily;
        context.fillText(text, 4, 48);
        return Array.from(context.getImageData(0, 0, 64, 64).data).join(',');
    };
    const missing = draw('\ue000');
    const chinese = [...new Set(node.textContent.match(/[\u4e00-\u9fff]/g))].slice(0, 4);
    return {text: node.textContent, drawn: chinese.map(ch => draw(ch) !== missing)};
}"""


def _glyphs_drawn(frame, selector: str) -> bool:
    found = frame.evaluate(_GLYPHS_DRAWN, selector)
    assert found is not None, f"no Chinese text under {selector}"
    return all(found["drawn"]) and len(found["drawn"]) > 0


def test_chinese_is_drawn_not_tofu_in_a_figure_and_in_bertviz(server, page):
    page.goto(server + "/self_attention?lang=zh")
    _settle(page, "自注意力")
    chart = page.locator("[data-testid='stPlotlyChart']").first
    chart.wait_for(timeout=90_000)
    page.wait_for_selector(".gtitle, .xtitle, .ytitle", state="attached", timeout=30_000)
    page.evaluate("document.fonts.ready.then(() => true)")  # a web font still loading is not a missing glyph
    assert _glyphs_drawn(page, ".gtitle, .xtitle, .ytitle"), "the figure's Chinese title is tofu"
    screenshot(page, "self_attention-zh.png")

    page.goto(server + "/inspect_attention?lang=zh&text=" + urllib.parse.quote("中 国 人 大 小"))
    _settle(page, "探查注意力")
    page.wait_for_selector("iframe", timeout=90_000)
    deadline, view = time.monotonic() + 60, None
    while time.monotonic() < deadline and view is None:
        for frame in page.frames:
            if frame != page.main_frame and "中" in frame.evaluate(
                "Array.from(document.querySelectorAll('svg text')).map(t => t.textContent).join(' ')"
            ):
                view = frame
                break
        page.wait_for_timeout(500)
    assert view is not None, "bertviz drew no Chinese token"
    assert _glyphs_drawn(view, "svg text"), "bertviz's Chinese tokens are tofu"
    menu = view.evaluate("document.querySelector('span').innerText")
    assert menu.startswith("层") and "Layer" not in menu, menu  # bertviz's own labels in the reader's language


def test_a_lesson_link_a_question_answered_and_the_step_kept_across_pages(server, page):
    """A teacher's ?lesson=4 link: the step above the page, its question computed and checked, then its page opened
    from the step with the lesson still there."""
    page.goto(server + "/?lesson=4")
    _settle(page, "Lesson · step 4 of 10")
    page.get_by_role("button", name="Ask me").click()
    page.get_by_text("both the same").first.wait_for(timeout=60_000)
    page.get_by_text("both the same").first.click()
    page.get_by_role("button", name="Check").click()  # waits until the answer's rerun has enabled it
    page.get_by_text("Right.").first.wait_for(timeout=30_000)
    assert page.get_by_text("1 of 10 answered correctly").first.is_visible()
    page.get_by_text("Open the page").first.click()
    _settle(page, "Positional encoding")
    assert page.get_by_text("Lesson · step 4 of 10").first.is_visible()  # the lesson follows the class to the page
    assert page.get_by_text("1 of 10 answered correctly").first.is_visible()
    screenshot(page, "lesson.png")
